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
