using System.Net;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>`/admin/users/{id}/passkeys…` (GoTrue passkey_admin.go): served with passkeys off, from auth.webauthn_credentials.</summary>
public sealed class AdminPasskeysTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static readonly string ServiceKey = TestKeys.ServiceRoleKey();

    HttpClient Admin() => server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);

    async Task<Guid> NewUserAsync()
    {
        var (_, _, session) = await server.NewUserAsync("passkeys");
        return Guid.Parse((string)session["user"]!["id"]!);
    }

    async Task<(Guid Named, Guid Unnamed)> InsertPasskeysAsync(Guid user)
    {
        var (named, unnamed) = (Guid.NewGuid(), Guid.NewGuid());
        await server.Db.ExecuteAsync(
            """
            insert into auth.webauthn_credentials (id, user_id, credential_id, public_key, friendly_name, created_at, last_used_at)
            values (@named, @user, decode(md5(random()::text), 'hex'), '\x00'::bytea, 'laptop', now() - interval '1 minute', now()),
                   (@unnamed, @user, decode(md5(random()::text), 'hex'), '\x00'::bytea, '', now(), null)
            """, new { user, named, unnamed });
        return (named, unnamed);
    }

    [Fact]
    public async Task ListPasskeys_NoPasskeys_ReturnsEmptyArray()
    {
        var user = await NewUserAsync();
        using var client = Admin();

        var response = await client.GetAsync($"/admin/users/{user}/passkeys");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[]", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ListPasskeys_TwoPasskeys_GoTrueShapeOldestFirst()
    {
        var user = await NewUserAsync();
        var (named, unnamed) = await InsertPasskeysAsync(user);
        using var client = Admin();

        var list = JsonNode.Parse(await (await client.GetAsync($"/admin/users/{user}/passkeys")).Content.ReadAsStringAsync())!.AsArray();

        Assert.Equal([named.ToString(), unnamed.ToString()], list.Select(p => (string)p!["id"]!));
        Assert.Equal(["id", "friendly_name", "created_at", "last_used_at"], list[0]!.AsObject().Select(p => p.Key));
        Assert.Equal("laptop", (string?)list[0]!["friendly_name"]);
        Assert.Equal(["id", "created_at"], list[1]!.AsObject().Select(p => p.Key)); // empty name and never used: omitted
    }

    [Fact]
    public async Task ListPasskeys_UnknownUser_Returns404() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/admin/users/{Guid.NewGuid()}/passkeys"), 404, "user_not_found",
            bearer: ServiceKey);

    [Fact]
    public async Task ListPasskeys_WithoutAdminToken_Refused()
    {
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        var response = await client.GetAsync($"/admin/users/{Guid.NewGuid()}/passkeys");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task DeletePasskey_Existing_Returns204AndRemovesOnlyIt()
    {
        var user = await NewUserAsync();
        var (named, unnamed) = await InsertPasskeysAsync(user);
        using var client = Admin();

        var response = await client.DeleteAsync($"/admin/users/{user}/passkeys/{named}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal([unnamed], await server.Db.QueryAsync<Guid>("select id from auth.webauthn_credentials where user_id = @user", new { user }));
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'passkey_deleted' and payload->'traits'->>'passkey_id' = @id",
            new { id = named.ToString() }));
    }

    [Theory]
    [InlineData("8b6f4c5e-8c1e-4c1e-9a59-3a4f5e6d7c8b")]
    [InlineData("not-a-uuid")]
    public async Task DeletePasskey_UnknownOrMalformed_Returns404PasskeyNotFound(string passkeyId)
    {
        var user = await NewUserAsync();
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/admin/users/{user}/passkeys/{passkeyId}"), 404, "validation_failed",
            "Passkey not found", bearer: ServiceKey);
    }

    [Fact]
    public async Task DeletePasskey_OfAnotherUser_Returns404AndKeepsIt()
    {
        var (owner, other) = (await NewUserAsync(), await NewUserAsync());
        var (named, _) = await InsertPasskeysAsync(owner);

        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/admin/users/{other}/passkeys/{named}"), 404, "validation_failed",
            "Passkey not found", bearer: ServiceKey);
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.webauthn_credentials where id = @named", new { named }));
    }
}
