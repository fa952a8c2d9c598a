using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_SESSIONS_SINGLE_PER_USER=true with GOTRUE_SESSIONS_TAGS=web,mobile.</summary>
public sealed class SinglePerUserFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_SESSIONS_SINGLE_PER_USER"] = "true";
        settings["GOTRUE_SESSIONS_TAGS"] = "web,mobile";
    }
}

/// <summary>
/// One session per user as GoTrue's refresh grant (internal/tokens/service.go): an older session is refused
/// at its next refresh once a newer valid session of the same tag exists; nothing is deleted.
/// </summary>
public sealed class SinglePerUserTests(SinglePerUserFixture server) : IClassFixture<SinglePerUserFixture>
{
    const string Revoked = "Invalid Refresh Token: Session Expired (Revoked by Newer Login)";

    /// Signs up (the older session), moves the clock on, signs in again (the newer one).
    async Task<(JsonObject Older, JsonObject Newer)> TwoSessionsAsync()
    {
        var (email, password, older) = await server.NewUserAsync("single");
        server.Clock.Advance(TimeSpan.FromSeconds(2));
        return (older, await server.SignInAsync(email, password));
    }

    Task SetTagAsync(JsonObject session, string tag) =>
        server.Db.ExecuteAsync("update auth.sessions set tag = @tag where id = @id::uuid", new { tag, id = Refresh.SessionId(session) });

    [Fact]
    public async Task Refresh_OlderSessionAfterNewerSignIn_Returns400SessionExpiredAndKeepsTheRow()
    {
        var (older, _) = await TwoSessionsAsync();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, Refresh.Token(older)), 400, "session_expired", Revoked);

        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where id = @id::uuid",
            new { id = Refresh.SessionId(older) }));
    }

    [Fact]
    public async Task Refresh_NewestSession_Succeeds()
    {
        var (_, newer) = await TwoSessionsAsync();

        await Refresh.OkAsync(server, Refresh.Token(newer));
    }

    [Fact]
    public async Task Refresh_OlderSessionRefreshedLast_StaysTheActiveOne()
    {
        // The comparison is on last refresh, not creation: refresh the older one after the newer one was made...
        var (email, password, older) = await server.NewUserAsync("single-order");
        server.Clock.Advance(TimeSpan.FromSeconds(2));
        var newer = await server.SignInAsync(email, password);
        await server.Db.ExecuteAsync("update auth.sessions set refreshed_at = (now() at time zone 'utc') + interval '1 hour' where id = @id::uuid",
            new { id = Refresh.SessionId(older) });

        await Refresh.OkAsync(server, Refresh.Token(older));
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, Refresh.Token(newer)), 400, "session_expired", Revoked);
    }

    [Fact]
    public async Task Refresh_NewerSessionNoLongerValid_DoesNotRevokeTheOlder()
    {
        var (older, newer) = await TwoSessionsAsync();
        await server.Db.ExecuteAsync("update auth.sessions set not_after = now() - interval '1 minute' where id = @id::uuid",
            new { id = Refresh.SessionId(newer) });

        await Refresh.OkAsync(server, Refresh.Token(older));
    }

    [Fact]
    public async Task Refresh_SessionsWithDifferentTags_EachKeepsOneActive()
    {
        var (older, newer) = await TwoSessionsAsync();
        await SetTagAsync(older, "mobile"); // the newer one has no tag: the first configured, "web"

        await Refresh.OkAsync(server, Refresh.Token(older));
        await Refresh.OkAsync(server, Refresh.Token(newer));
    }

    [Fact]
    public async Task Refresh_UnknownTag_CountsAsTheFirstConfiguredTag()
    {
        var (older, newer) = await TwoSessionsAsync();
        await SetTagAsync(older, "tv");
        await SetTagAsync(newer, "web");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, Refresh.Token(older)), 400, "session_expired", Revoked);
    }
}

/// <summary>The setting off (default): every session of a user keeps refreshing.</summary>
public sealed class SinglePerUserOffTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Fact]
    public async Task Refresh_OlderSessionAfterNewerSignIn_Succeeds()
    {
        var (email, password, older) = await server.NewUserAsync("many");
        await server.SignInAsync(email, password);

        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = Refresh.Token(older) }));
    }
}

/// <summary>GOTRUE_SESSIONS_ALLOW_LOW_AAL=1m.</summary>
public sealed class AllowLowAalFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) => settings["GOTRUE_SESSIONS_ALLOW_LOW_AAL"] = "1m";
}

/// <summary>
/// The low-AAL window as GoTrue (Session.CheckValidity, GenerateAccessToken): for a user with a verified
/// factor, an aal1 session's access tokens end with the window and its refreshes are refused after it.
/// </summary>
public sealed class AllowLowAalTests(AllowLowAalFixture server) : IClassFixture<AllowLowAalFixture>
{
    const string LowAal = "Invalid Refresh Token: Session Expired (Low AAL: User Needs MFA Verification)";

    /// A user with a verified TOTP factor, signed in with the password only (aal1).
    async Task<JsonObject> SignInWithFactorAsync()
    {
        var (email, password, signup) = await server.NewUserAsync("low-aal");
        await server.Db.ExecuteAsync(
            "insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at) values (gen_random_uuid(), @id::uuid, 'totp', 'verified', now(), now())",
            new { id = (string)signup["user"]!["id"]! });
        return await server.SignInAsync(email, password);
    }

    static long Claim(JsonObject session, string name) => (long)Jwt.Payload((string)session["access_token"]!)[name]!;

    [Fact]
    public async Task SignIn_UserWithFactor_AccessTokenEndsWithTheWindow()
    {
        var session = await SignInWithFactorAsync();

        Assert.InRange(Claim(session, "exp") - Claim(session, "iat"), 59, 60);
        Assert.Equal(Claim(session, "exp"), (long)session["expires_at"]!);
        Assert.Equal(3600, (long)session["expires_in"]!); // GoTrue keeps the configured lifetime here
    }

    [Fact]
    public async Task SignIn_UserWithoutFactor_AccessTokenKeepsFullLifetime()
    {
        var (_, _, session) = await server.NewUserAsync("full-aal");

        Assert.Equal(3600, Claim(session, "exp") - Claim(session, "iat"));
    }

    [Fact]
    public async Task Refresh_UserWithFactorAfterTheWindow_Returns400SessionExpired()
    {
        var session = await SignInWithFactorAsync();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        var inside = await server.OkJsonAsync(await Refresh.PostAsync(client, Refresh.Token(session))); // inside the window
        Assert.InRange(Claim(inside, "exp") - Claim(inside, "iat"), 1, 60);
        server.Clock.Advance(TimeSpan.FromMinutes(2));

        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, Refresh.Token(inside)), 400, "session_expired", LowAal);
    }

    [Fact]
    public async Task Refresh_UserWithoutFactorAfterTheWindow_Succeeds()
    {
        var (_, _, session) = await server.NewUserAsync("no-factor");
        server.Clock.Advance(TimeSpan.FromMinutes(2));

        await Refresh.OkAsync(server, Refresh.Token(session));
    }

    [Fact]
    public async Task Refresh_SessionVerifiedToAal2AfterTheWindow_SucceedsWithFullLifetime()
    {
        var session = await SignInWithFactorAsync();
        var id = Refresh.SessionId(session);
        await server.Db.ExecuteAsync(
            """
            update auth.sessions set aal = 'aal2' where id = @id::uuid;
            insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
            values (gen_random_uuid(), @id::uuid, now(), now(), 'totp');
            """, new { id });
        server.Clock.Advance(TimeSpan.FromMinutes(2));

        var refreshed = await Refresh.OkAsync(server, Refresh.Token(session));

        Assert.Equal(3600, Claim(refreshed, "exp") - Claim(refreshed, "iat"));
    }
}
