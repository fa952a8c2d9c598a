using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>The OIDC fixture with the before/after-user-created pg hooks of <see cref="PgUserHooksTests"/>.</summary>
public sealed class OidcUserHooksFixture : OidcFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        base.Configure(settings);
        settings["GOTRUE_HOOK_BEFORE_USER_CREATED_ENABLED"] = "true";
        settings["GOTRUE_HOOK_BEFORE_USER_CREATED_URI"] = "pg-functions://postgres/public/before_user_created_hook";
        settings["GOTRUE_HOOK_AFTER_USER_CREATED_ENABLED"] = "true";
        settings["GOTRUE_HOOK_AFTER_USER_CREATED_URI"] = "pg-functions://postgres/public/after_user_created_hook";
    }
}

/// <summary>id_token users (GoTrue token_oidc.go → `triggerBeforeUserCreatedExternal`).</summary>
public sealed class IdTokenUserHooksTests(OidcUserHooksFixture server) : IClassFixture<OidcUserHooksFixture>
{
    [Fact]
    public async Task IdToken_BeforeHookRejectsNewUser_AnswersHookErrorNoUserNoIdentity()
    {
        await server.Db.ExecuteAsync(PgUserHooksTests.HookFunctions);
        var email = AuthServerFixture.NewEmail("blocked");
        var (token, sub, _) = server.GoogleToken(edit: c => c["email"] = email);

        await ApiAssert.ErrorAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = token }),
            403, "unknown", "Sign-ups are closed for you");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.identities where provider_id = @sub", new { sub }));
    }

    [Fact]
    public async Task IdToken_NewUser_BeforeHookSeesProviderCandidate_ExistingUserNotAgain()
    {
        await server.Db.ExecuteAsync(PgUserHooksTests.HookFunctions);
        var (token, sub, email) = server.GoogleToken();
        var session = await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = token }));

        var events = await server.Db.QueryAsync<string>(
            "select event::text from public.before_calls where event->'user'->>'email' = @email", new { email });
        var before = JsonNode.Parse(Assert.Single(events))!;
        Assert.Equal((string?)session["user"]!["id"], (string?)before["user"]!["id"]);
        Assert.Equal("google", (string?)before["user"]!["app_metadata"]!["provider"]);
        Assert.Equal(sub, (string?)before["user"]!["user_metadata"]!["sub"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from public.after_calls where event->'user'->>'email' = @email", new { email }));

        // Signing in again with the same subject creates nobody: no further hook calls.
        var claims = server.Google.Claims(OidcFixture.GoogleClientId, sub, email, true, server.Clock.GetUtcNow());
        await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = server.Google.Sign(claims) }));
        Assert.Single(await server.Db.QueryAsync<string>(
            "select event::text from public.before_calls where event->'user'->>'email' = @email", new { email }));
    }
}

public sealed class DbConnectionUserHooksFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_DBCONNECTIONS_CLIENT_IDS"] = "app-1";
        settings["GOTRUE_HOOK_BEFORE_USER_CREATED_ENABLED"] = "true";
        settings["GOTRUE_HOOK_BEFORE_USER_CREATED_URI"] = "pg-functions://postgres/public/before_user_created_hook";
        settings["GOTRUE_HOOK_AFTER_USER_CREATED_ENABLED"] = "true";
        settings["GOTRUE_HOOK_AFTER_USER_CREATED_URI"] = "pg-functions://postgres/public/after_user_created_hook";
    }
}

/// <summary>/dbconnections/signup creates users like /signup, so the same hooks apply.</summary>
public sealed class DbConnectionUserHooksTests(DbConnectionUserHooksFixture server) : IClassFixture<DbConnectionUserHooksFixture>
{
    async Task<HttpResponseMessage> SignupAsync(string email)
    {
        using var client = server.CreateClient();
        return await client.PostAsJsonAsync("/dbconnections/signup", new { client_id = "app-1", email, password = "correct-horse-battery" });
    }

    [Fact]
    public async Task DbConnectionSignup_BeforeHookRejects_AnswersItsStatusNoUser()
    {
        await server.Db.ExecuteAsync(PgUserHooksTests.HookFunctions);
        var email = AuthServerFixture.NewEmail("blocked");
        var response = await SignupAsync(email);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, text);
        Assert.Equal("Sign-ups are closed for you", (string?)JsonNode.Parse(text)!["message"]);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task DbConnectionSignup_HooksContinue_UserCreatedAndAfterHookCalled()
    {
        await server.Db.ExecuteAsync(PgUserHooksTests.HookFunctions);
        var email = AuthServerFixture.NewEmail("dbconn");
        var body = await server.OkJsonAsync(await SignupAsync(email));
        Assert.Equal((string?)body["user_id"], await server.Db.ScalarAsync<string>(
            "select event->'user'->>'id' from public.after_calls where event->'user'->>'email' = @email", new { email }));
    }
}
