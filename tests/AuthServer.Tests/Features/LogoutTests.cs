using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>POST /logout?scope=global|local|others (api.md §3 POST /logout).</summary>
public sealed class LogoutTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static string AccessToken(JsonObject session) => (string)session["access_token"]!;

    /// <summary>Three sessions of one user: the one we log out with, and two others.</summary>
    async Task<(string UserId, JsonObject Current, JsonObject[] Others)> ThreeSessionsAsync()
    {
        var (email, password, current) = await server.NewUserAsync();
        var others = new[] { await server.SignInAsync(email, password), await server.SignInAsync(email, password) };
        return ((string)current["user"]!["id"]!, current, others);
    }

    Task<List<string>> SessionIdsAsync(string userId) =>
        server.Db.QueryAsync<string>("select id::text from auth.sessions where user_id = @userId::uuid", new { userId });

    [Theory]
    [InlineData("/logout")]
    [InlineData("/logout?scope=global")]
    [InlineData("/auth/v1/logout")]
    public async Task Logout_GlobalScope_Returns204AndDeletesAllSessions(string path)
    {
        var (userId, current, others) = await ThreeSessionsAsync();
        using var client = server.CreateClient(bearer: AccessToken(current));

        await ApiAssert.NoContentAsync(await client.PostAsync(path, null));

        Assert.Empty(await SessionIdsAsync(userId));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.refresh_tokens where user_id = @userId", new { userId }));
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "session_not_found", bearer: AccessToken(others[0]));
        await server.AssertErrorBothShapesAsync(c => Refresh.PostAsync(c, Refresh.Token(others[1])),
            400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
        Assert.Contains("logout", await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @userId", new { userId }));
    }

    [Fact]
    public async Task Logout_LocalScope_DeletesOnlyThisSession()
    {
        var (userId, current, others) = await ThreeSessionsAsync();
        using var client = server.CreateClient(bearer: AccessToken(current));

        await ApiAssert.NoContentAsync(await client.PostAsync("/logout?scope=local", null));

        Assert.Equal(others.Select(Refresh.SessionId).Order(), (await SessionIdsAsync(userId)).Order());
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "session_not_found", bearer: AccessToken(current));
        using var otherClient = server.CreateClient(bearer: AccessToken(others[0]));
        await server.OkJsonAsync(await otherClient.GetAsync("/user"));
        await Refresh.OkAsync(server, Refresh.Token(others[1]));
    }

    [Fact]
    public async Task Logout_OthersScope_KeepsOnlyThisSession()
    {
        var (userId, current, others) = await ThreeSessionsAsync();
        using var client = server.CreateClient(bearer: AccessToken(current));

        await ApiAssert.NoContentAsync(await client.PostAsync("/logout?scope=others", null));

        Assert.Equal([Refresh.SessionId(current)], await SessionIdsAsync(userId));
        await server.OkJsonAsync(await client.GetAsync("/user"));
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "session_not_found", bearer: AccessToken(others[0]));
        await Refresh.OkAsync(server, Refresh.Token(current));
    }

    [Fact]
    public async Task Logout_UnsupportedScope_Returns400ValidationFailedAndKeepsSessions()
    {
        var (userId, current, _) = await ThreeSessionsAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/logout?scope=everyone", null),
            400, "validation_failed", bearer: AccessToken(current));

        Assert.Equal(3, (await SessionIdsAsync(userId)).Count);
    }

    [Fact]
    public async Task Logout_WithoutAuthorization_Returns401NoAuthorization()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/logout", null),
            401, "no_authorization", "This endpoint requires a valid Bearer token");
    }
}
