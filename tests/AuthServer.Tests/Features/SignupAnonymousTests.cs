using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED=true.</summary>
public sealed class AnonymousEnabledFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = "true";
}

/// <summary>POST /signup with neither email nor phone: the anonymous sign-in (api.md §3 anonymous branch).</summary>
public sealed class SignupAnonymousTests(AnonymousEnabledFixture server) : IClassFixture<AnonymousEnabledFixture>
{
    [Fact]
    public async Task Signup_AnonymousEnabled_ReturnsAnonymousSessionAndUser()
    {
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/signup", new { data = new { full_name = "Ann Onymous" } });

        var session = ApiAssert.Session(await server.OkJsonAsync(response), server.Clock);
        var user = session["user"]!.AsObject();
        Assert.True((bool)user["is_anonymous"]!);
        Assert.Equal("authenticated", (string?)user["role"]);
        Assert.Equal("", (string?)user["email"]);
        ApiAssert.JsonEqual("{}", user["app_metadata"]);
        ApiAssert.JsonEqual("""{"full_name":"Ann Onymous"}""", user["user_metadata"]);
        Assert.Empty(user["identities"]!.AsArray());
        Assert.True(DateTimeOffset.TryParse((string?)user["last_sign_in_at"], out _), user.ToJsonString());
        var claims = Jwt.Payload((string)session["access_token"]!);
        Assert.True((bool)claims["is_anonymous"]!);
        Assert.Equal((string?)user["id"], (string?)claims["sub"]);
        Assert.Equal("anonymous", (string?)claims["amr"]![0]!["method"]);
    }

    [Fact]
    public async Task Signup_Anonymous_WritesUserSessionAndAuditRowsAsGoTrueDoes()
    {
        using var client = server.CreateClient();

        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { data = new { full_name = "Ann" } }));

        var userId = Guid.Parse((string)session["user"]!["id"]!);
        var sessionId = Guid.Parse((string)Jwt.Payload((string)session["access_token"]!)["session_id"]!);
        var user = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @userId", new { userId });
        Assert.Equal(Guid.Empty, user.InstanceId);
        Assert.Null(user.Email);
        Assert.Null(user.EncryptedPassword);
        Assert.NotNull(user.LastSignInAt);
        Assert.True(await server.Db.ScalarAsync<bool>("select is_anonymous from auth.users where id = @userId", new { userId }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.identities where user_id = @userId", new { userId }));
        Assert.Equal(userId, await server.Db.ScalarAsync<Guid>("select user_id from auth.sessions where id = @sessionId", new { sessionId }));
        Assert.Equal((string?)session["refresh_token"], await server.Db.ScalarAsync<string>(
            "select token from auth.refresh_tokens where session_id = @sessionId and not revoked", new { sessionId }));
        Assert.Equal(["anonymous"], await server.Db.QueryAsync<string>(
            "select authentication_method from auth.mfa_amr_claims where session_id = @sessionId", new { sessionId }));

        // Both audit rows name the new user; sign-up first, then the login that started the session.
        var audit = (await server.Db.QueryAsync<string>(
            """
            select payload::text from auth.audit_log_entries
            where payload->>'actor_id' = @id and instance_id = @nil::uuid order by payload->>'action' desc
            """, new { id = userId.ToString(), nil = Db.NilUuid })).Select(p => JsonNode.Parse(p)!.AsObject()).ToList();
        Assert.Equal(2, audit.Count);
        ApiAssert.JsonEqual($$"""
            {"actor_id":"{{userId}}","actor_username":"","actor_via_sso":false,"action":"user_signedup","log_type":"team",
             "actor_name":"Ann","traits":{"provider":"anonymous"} }
            """, audit[0]);
        ApiAssert.JsonEqual($$"""
            {"actor_id":"{{userId}}","actor_username":"","actor_via_sso":false,"action":"login","log_type":"account",
             "actor_name":"Ann","traits":{"provider":"anonymous"} }
            """, audit[1]);
    }

    [Fact]
    public async Task Signup_AnonymousSession_CanBeRefreshedAndReadsUser()
    {
        using var client = server.CreateClient();
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { }));

        var refreshed = await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)session["refresh_token"]! }));
        using var authed = server.CreateClient(bearer: (string)refreshed["access_token"]!);
        var user = await server.OkJsonAsync(await authed.GetAsync("/user"));

        Assert.Equal((string?)session["user"]!["id"], (string?)user["id"]);
        Assert.True((bool)user["is_anonymous"]!);
    }
}
