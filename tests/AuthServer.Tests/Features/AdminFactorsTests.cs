using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>`/admin/users/{id}/factors…` and `GET /admin/audit` (GoTrue admin.go, audit.go).</summary>
public sealed class AdminFactorsTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static readonly string ServiceKey = TestKeys.ServiceRoleKey();

    HttpClient Admin() => server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);

    async Task<(Guid User, Guid Totp, Guid Phone)> UserWithFactorsAsync()
    {
        var (_, _, session) = await server.NewUserAsync("factors");
        var user = Guid.Parse((string)session["user"]!["id"]!);
        var (totp, phone) = (Guid.NewGuid(), Guid.NewGuid());
        await server.Db.ExecuteAsync(
            """
            insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, phone)
            values (@totp, @user, 'authenticator', 'totp', 'verified', now() - interval '1 minute', now(), null),
                   (@phone, @user, '', 'phone', 'unverified', now(), now(), '15550001111')
            """, new { user, totp, phone });
        return (user, totp, phone);
    }

    [Fact]
    public async Task ListFactors_ReturnsFactorsInGoTrueShape()
    {
        var (user, totp, phone) = await UserWithFactorsAsync();
        using var client = Admin();

        var factors = JsonNode.Parse(await (await client.GetAsync($"/admin/users/{user}/factors")).Content.ReadAsStringAsync())!.AsArray();

        Assert.Equal([totp.ToString(), phone.ToString()], factors.Select(f => (string)f!["id"]!));
        Assert.Equal(["id", "created_at", "updated_at", "status", "friendly_name", "factor_type", "phone", "last_challenged_at"],
            factors[0]!.AsObject().Select(p => p.Key));
        Assert.Equal("verified", (string?)factors[0]!["status"]);
        Assert.Equal("", (string?)factors[0]!["phone"]);
        Assert.False(factors[1]!.AsObject().ContainsKey("friendly_name"));
        Assert.Equal("15550001111", (string?)factors[1]!["phone"]);
    }

    [Fact]
    public async Task ListFactors_NoFactors_ReturnsEmptyArray()
    {
        var (_, _, session) = await server.NewUserAsync("nofactors");
        using var client = Admin();
        var response = await client.GetAsync($"/admin/users/{(string)session["user"]!["id"]!}/factors");
        Assert.Equal("[]", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ListFactors_UnknownUser_Returns404() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/admin/users/{Guid.NewGuid()}/factors"), 404, "user_not_found",
            bearer: ServiceKey);

    [Fact]
    public async Task UpdateFactor_FriendlyNameAndPhone_Updated()
    {
        var (user, totp, phone) = await UserWithFactorsAsync();
        using var client = Admin();

        var renamed = await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/users/{user}/factors/{totp}",
            new { friendly_name = "work phone", phone = "+15559990000" }));
        Assert.Equal("work phone", (string?)renamed["friendly_name"]);
        Assert.Equal("", (string?)renamed["phone"]); // phone only applies to phone factors

        var rephoned = await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/users/{user}/factors/{phone}",
            new { phone = "+15559990000" }));
        Assert.Equal("15559990000", (string?)rephoned["phone"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'factor_updated' and payload->>'log_type' = 'factor' and payload->'traits'->>'factor_id' = @id",
            new { id = phone.ToString() }));
    }

    [Fact]
    public async Task UpdateFactor_InvalidPhone_Returns400AndChangesNothing()
    {
        var (user, _, phone) = await UserWithFactorsAsync();
        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync($"/admin/users/{user}/factors/{phone}", new { phone = "nope" }),
            400, "validation_failed", "Invalid phone number format (E.164 required)", bearer: ServiceKey);
        Assert.Equal("15550001111", await server.Db.ScalarAsync<string>("select phone from auth.mfa_factors where id = @phone", new { phone }));
    }

    [Fact]
    public async Task DeleteFactor_ReturnsDeletedFactorAndRemovesIt()
    {
        var (user, totp, _) = await UserWithFactorsAsync();
        using var client = Admin();

        var deleted = await server.OkJsonAsync(await client.DeleteAsync($"/admin/users/{user}/factors/{totp}"));

        Assert.Equal(totp.ToString(), (string?)deleted["id"]);
        Assert.Equal("authenticator", (string?)deleted["friendly_name"]);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.mfa_factors where id = @totp", new { totp }));
        var audit = JsonNode.Parse(await server.Db.ScalarAsync<string>(
            "select payload::text from auth.audit_log_entries where payload->>'action' = 'factor_deleted' and payload->'traits'->>'factor_id' = @id",
            new { id = totp.ToString() }))!;
        Assert.Equal(user.ToString(), (string?)audit["actor_id"]);
    }

    [Fact]
    public async Task FactorRoutes_UnknownOrForeignFactor_Return404MfaFactorNotFound()
    {
        var (user, _, _) = await UserWithFactorsAsync();
        var (_, foreign, _) = await UserWithFactorsAsync();
        foreach (var factor in new[] { Guid.NewGuid(), foreign })
        {
            await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/admin/users/{user}/factors/{factor}"), 404,
                "mfa_factor_not_found", "Factor not found", bearer: ServiceKey);
            await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync($"/admin/users/{user}/factors/{factor}", new { friendly_name = "x" }),
                404, "mfa_factor_not_found", bearer: ServiceKey);
        }
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.mfa_factors where id = @foreign", new { foreign }));
    }

    [Fact]
    public async Task FactorRoutes_NonUuidIds_Return404ValidationFailed()
    {
        var (user, totp, _) = await UserWithFactorsAsync();
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/admin/users/{user}/factors/abc"), 404, "validation_failed",
            "factor_id must be an UUID", bearer: ServiceKey);
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/admin/users/abc/factors/{totp}"), 404, "validation_failed",
            "user_id must be an UUID", bearer: ServiceKey);
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/admin/users/{Guid.NewGuid()}/factors/{totp}"), 404, "user_not_found",
            bearer: ServiceKey);
    }

    // ---- GET /admin/audit ----

    [Fact]
    public async Task Audit_ListsNewestFirstWithFilterAndPaging()
    {
        using var client = Admin();
        var marker = AuthServerFixture.NewEmail("audited");
        server.Clock.Advance(TimeSpan.FromMinutes(5));
        var created = await server.OkJsonAsync(await client.PostAsJsonAsync("/admin/users", new { email = marker }));
        server.Clock.Advance(TimeSpan.FromSeconds(1));
        await client.DeleteAsync($"/admin/users/{(string)created["id"]!}");

        var response = await client.GetAsync("/admin/audit?per_page=2");
        var entries = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(2, entries.Count);
        Assert.Equal("user_deleted", (string?)entries[0]!["payload"]!["action"]);
        Assert.Equal("user_signedup", (string?)entries[1]!["payload"]!["action"]);
        Assert.Equal(marker, (string?)entries[1]!["payload"]!["traits"]!["user_email"]);
        Assert.Equal(["id", "payload", "created_at", "ip_address"], entries[0]!.AsObject().Select(p => p.Key));
        var total = long.Parse(response.Headers.GetValues("X-Total-Count").Single());
        Assert.True(total >= 2);
        Assert.Contains("rel=\"last\"", response.Headers.GetValues("Link").Single());

        var deletions = JsonNode.Parse(await (await client.GetAsync("/admin/audit?query=action:user_deleted")).Content.ReadAsStringAsync())!.AsArray();
        Assert.NotEmpty(deletions);
        Assert.All(deletions, e => Assert.Equal("user_deleted", (string?)e!["payload"]!["action"]));
        var byAuthor = JsonNode.Parse(await (await client.GetAsync("/admin/audit?query=author:SERVICE_ROLE")).Content.ReadAsStringAsync())!.AsArray();
        Assert.All(byAuthor, e => Assert.Equal("service_role", (string?)e!["payload"]!["actor_username"]));
    }

    [Theory]
    [InlineData("/admin/audit?query=nonsense", "Invalid query scope: nonsense")]
    [InlineData("/admin/audit?query=color:red", "Invalid query scope: color:red")]
    [InlineData("/admin/audit?per_page=0", "Bad Pagination Parameters: per_page must be greater than 0")]
    public async Task Audit_BadQuery_Returns400(string path, string message) =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync(path), 400, "validation_failed", message, bearer: ServiceKey);
}
