using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Ours on the admin API, for the admin console (docs/console.md): the user-list filters `phone`,
/// `unconfirmed`, `anonymous`, `banned`, `sso`; a user's sessions and signing them all out; the audit scope
/// `user:<id>`.</summary>
public sealed class AdminConsoleApiTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static readonly string ServiceKey = TestKeys.ServiceRoleKey(withExp: false);

    HttpClient Admin() => server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);

    async Task<string> CreateAsync(HttpClient client, object body) =>
        (string)(await server.OkJsonAsync(await client.PostAsJsonAsync("/admin/users", body)))["id"]!;

    static async Task<List<string>> IdsAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return body["users"]!.AsArray().Select(u => (string)u!["id"]!).ToList();
    }

    // ---- GET /admin/users filters ----

    [Fact]
    public async Task ListUsers_StateFilters_KeepOnlyMatchingUsers()
    {
        using var client = Admin();
        client.DefaultRequestHeaders.Add("X-JWT-AUD", "aud-" + Guid.NewGuid().ToString("N")[..8]);
        var confirmed = await CreateAsync(client, new { email = AuthServerFixture.NewEmail("ok"), email_confirm = true });
        var unconfirmed = await CreateAsync(client, new { email = AuthServerFixture.NewEmail("unconfirmed") });
        var banned = await CreateAsync(client, new { email = AuthServerFixture.NewEmail("banned"), email_confirm = true, ban_duration = "24h" });
        var anonymous = await CreateAsync(client, new { email = AuthServerFixture.NewEmail("anon") });
        var sso = await CreateAsync(client, new { email = AuthServerFixture.NewEmail("sso"), email_confirm = true });
        await server.Db.ExecuteAsync("update auth.users set is_anonymous = true where id = @id", new { id = Guid.Parse(anonymous) });
        await server.Db.ExecuteAsync("update auth.users set is_sso_user = true where id = @id", new { id = Guid.Parse(sso) });

        Assert.Equal([unconfirmed], await IdsAsync(await client.GetAsync("/admin/users?unconfirmed=true")));
        Assert.Equal([anonymous], await IdsAsync(await client.GetAsync("/admin/users?anonymous=true")));
        Assert.Equal([banned], await IdsAsync(await client.GetAsync("/admin/users?banned=true")));
        Assert.Equal([sso], await IdsAsync(await client.GetAsync("/admin/users?sso=true")));
        Assert.Equal(5, (await IdsAsync(await client.GetAsync("/admin/users?banned=false"))).Count);
        Assert.Contains(confirmed, await IdsAsync(await client.GetAsync("/admin/users")));

        // A ban that has run out is no longer a ban.
        server.Clock.Advance(TimeSpan.FromHours(25));
        Assert.Empty(await IdsAsync(await client.GetAsync("/admin/users?banned=true")));
    }

    [Fact]
    public async Task ListUsers_PhoneFilter_MatchesSubstringWithOrWithoutPlus()
    {
        using var client = Admin();
        client.DefaultRequestHeaders.Add("X-JWT-AUD", "aud-" + Guid.NewGuid().ToString("N")[..8]);
        var digits = "1555" + Random.Shared.Next(1000000, 9999999);
        var withPhone = await CreateAsync(client, new { phone = digits });
        await CreateAsync(client, new { email = AuthServerFixture.NewEmail("nophone") });

        Assert.Equal([withPhone], await IdsAsync(await client.GetAsync($"/admin/users?phone=%2B{digits[..8]}")));
        Assert.Equal([withPhone], await IdsAsync(await client.GetAsync($"/admin/users?phone={digits[4..]}")));
        Assert.Empty(await IdsAsync(await client.GetAsync("/admin/users?phone=0000000000000")));
    }

    [Theory]
    [InlineData("unconfirmed=yes")]
    [InlineData("banned=1")]
    [InlineData("sso=TRUE")]
    public async Task ListUsers_BadFilterFlag_Returns400ValidationFailed(string query) =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users?" + query), 400, "validation_failed",
            bearer: ServiceKey, messagePrefix: "Bad filter parameter: ");

    // ---- sessions ----

    [Fact]
    public async Task Sessions_UserWithTwoSessions_ListsThemThenLogoutDeletesAll()
    {
        var (email, password, first) = await server.NewUserAsync("sessions");
        var second = await server.SignInAsync(email, password);
        var userId = (string)first["user"]!["id"]!;
        using var client = Admin();

        var list = JsonNode.Parse(await (await client.GetAsync($"/admin/users/{userId}/sessions")).Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(2, list.Count);
        Assert.All(list, s =>
        {
            Assert.Equal("aal1", (string?)s!["aal"]);
            Assert.Equal(AuthServerFixture.UserAgent, (string?)s["user_agent"]);
            Assert.NotNull(s["created_at"]);
        });

        var logout = await client.PostAsync($"/admin/users/{userId}/logout", null);

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        Assert.Equal(0L, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id = Guid.Parse(userId) }));
        Assert.Equal(0L, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.refresh_tokens where user_id = @id and revoked = false", new { id = userId }));
        Assert.Equal(1L, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload ->> 'action' = 'logout' and payload -> 'traits' ->> 'user_id' = @id",
            new { id = userId }));
        // The user's refresh token no longer works.
        using var anon = server.CreateClient(AuthServerFixture.ApiVersion2024);
        var refresh = await anon.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = (string)second["refresh_token"]! });
        Assert.Equal(HttpStatusCode.BadRequest, refresh.StatusCode);
    }

    [Theory]
    [InlineData("GET", "sessions")]
    [InlineData("POST", "logout")]
    public async Task Sessions_UnknownUser_Returns404UserNotFound(string method, string route) =>
        await server.AssertErrorBothShapesAsync(
            c => c.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/admin/users/{Guid.NewGuid()}/{route}")),
            404, "user_not_found", bearer: ServiceKey);

    [Theory]
    [InlineData("GET", "sessions")]
    [InlineData("POST", "logout")]
    public async Task Sessions_UserToken_Returns403NotAdmin(string method, string route)
    {
        var (_, _, session) = await server.NewUserAsync("notadmin");
        var userId = (string)session["user"]!["id"]!;
        await server.AssertErrorBothShapesAsync(
            c => c.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/admin/users/{userId}/{route}")),
            403, "not_admin", bearer: (string)session["access_token"]!);
        Assert.Equal(1L, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id = Guid.Parse(userId) }));
    }

    // ---- GET /admin/audit?query=user:<id> ----

    [Fact]
    public async Task Audit_UserScope_ReturnsRowsByAndAboutTheUser()
    {
        var (_, _, session) = await server.NewUserAsync("audited");
        var userId = (string)session["user"]!["id"]!;
        using var client = Admin();
        await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/users/{userId}", new { user_metadata = new { a = 1 } }));
        await server.NewUserAsync("someone-else");

        var rows = JsonNode.Parse(await (await client.GetAsync($"/admin/audit?query=user:{userId}")).Content.ReadAsStringAsync())!.AsArray();

        var actions = rows.Select(r => (string)r!["payload"]!["action"]!).ToList();
        Assert.Contains("user_signedup", actions); // written by the user
        Assert.Contains("user_modified", actions); // written by the admin about the user
        Assert.All(rows, r => Assert.True((string?)r!["payload"]!["actor_id"] == userId
            || (string?)r["payload"]!["traits"]?["user_id"] == userId));
    }

    [Fact]
    public async Task Audit_UnknownScope_Returns400ValidationFailed() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/audit?query=users:x"), 400, "validation_failed",
            bearer: ServiceKey);
}
