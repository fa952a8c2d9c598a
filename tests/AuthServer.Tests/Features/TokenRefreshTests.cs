using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

static class Refresh
{
    public static Task<HttpResponseMessage> PostAsync(HttpClient client, string? refreshToken) =>
        client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = refreshToken });

    public static async Task<JsonObject> OkAsync(AuthServerFixture server, string refreshToken)
    {
        using var client = server.CreateClient();
        return ApiAssert.Session(await server.OkJsonAsync(await PostAsync(client, refreshToken)), server.Clock);
    }

    public static string SessionId(JsonObject session) => (string)Jwt.Payload((string)session["access_token"]!)["session_id"]!;

    public static string Token(JsonObject session) => (string)session["refresh_token"]!;

    public static Task<List<RefreshTokenRow>> RowsAsync(AuthServerFixture server, string sessionId) =>
        server.Db.QueryAsync<RefreshTokenRow>(RefreshTokenRow.Select + " where session_id = @sessionId::uuid order by id", new { sessionId });

    /// <summary>12 characters of [a-z2-7] that no server issued.</summary>
    public static string UnknownToken() =>
        new(Enumerable.Range(0, 12).Select(_ => "abcdefghijklmnopqrstuvwxyz234567"[Random.Shared.Next(32)]).ToArray());
}

/// <summary>POST /token?grant_type=refresh_token with the default reuse interval 0 (jwt.md §5.2).</summary>
public sealed class TokenRefreshTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Fact]
    public async Task Token_RefreshGrant_RotatesTokenWithinSameSession()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var t0 = Refresh.Token(signup);
        var sessionId = Refresh.SessionId(signup);

        var refreshed = await Refresh.OkAsync(server, t0);

        var t1 = Refresh.Token(refreshed);
        Assert.NotEqual(t0, t1);
        Assert.Equal(sessionId, Refresh.SessionId(refreshed));
        Assert.Equal((string?)signup["user"]!["id"], (string?)refreshed["user"]!["id"]);
        var claims = Jwt.Payload((string)refreshed["access_token"]!);
        Assert.Equal("password", (string?)claims["amr"]![0]!["method"]);
        Assert.Equal((long?)Jwt.Payload((string)signup["access_token"]!)["amr"]![0]!["timestamp"], (long?)claims["amr"]![0]!["timestamp"]);

        var rows = await Refresh.RowsAsync(server, sessionId);
        Assert.Equal([t0, t1], rows.Select(r => r.Token));
        Assert.True(rows[0].Revoked);
        Assert.False(rows[1].Revoked);
        Assert.Equal(t0, rows[1].Parent);
        Assert.Equal(Guid.Empty, rows[1].InstanceId);
        Assert.Equal((string?)signup["user"]!["id"], rows[1].UserId);
        Assert.NotNull((await server.Db.SingleAsync<SessionRow>(SessionRow.Select + " where id = @sessionId::uuid", new { sessionId })).RefreshedAt);
        var actions = await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @id", new { id = (string)signup["user"]!["id"]! });
        Assert.Contains("token_refreshed", actions);
        Assert.Contains("token_revoked", actions);
    }

    [Fact]
    public async Task Token_RefreshGrant_ReloadsUserIntoResponseAndClaims()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var userId = (string)signup["user"]!["id"]!;
        await server.Db.ExecuteAsync(
            """update auth.users set raw_user_meta_data = raw_user_meta_data || '{"plan":"pro"}'::jsonb where id = @userId::uuid""",
            new { userId });

        var refreshed = await Refresh.OkAsync(server, Refresh.Token(signup));

        Assert.Equal("pro", (string?)refreshed["user"]!["user_metadata"]!["plan"]);
        Assert.Equal("pro", (string?)Jwt.Payload((string)refreshed["access_token"]!)["user_metadata"]!["plan"]);
    }

    [Fact]
    public async Task Token_RefreshUnderAuthV1Prefix_ReturnsSession()
    {
        var (_, _, signup) = await server.NewUserAsync();
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/auth/v1/token?grant_type=refresh_token", new { refresh_token = Refresh.Token(signup) });

        ApiAssert.Session(await server.OkJsonAsync(response), server.Clock);
    }

    [Fact]
    public async Task Token_RefreshParentReplayedAfterRotation_ReturnsActiveChildWithoutNewRow()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var t0 = Refresh.Token(signup);
        var t1 = Refresh.Token(await Refresh.OkAsync(server, t0));
        server.Clock.Advance(TimeSpan.FromSeconds(2));

        var replay = await Refresh.OkAsync(server, t0);

        Assert.Equal(t1, Refresh.Token(replay));
        Assert.Equal(2, (await Refresh.RowsAsync(server, Refresh.SessionId(signup))).Count);
    }

    [Fact]
    public async Task I1_ParentPresentedAfterParentWindow_IsReuseAndRevokesFamily()
    {
        // Review I-1: a just-rotated token that leaked used to return the live token at any later time.
        // The parent rule now holds for the reuse interval with a 10 s floor (the interval is 0 here).
        var (_, _, signup) = await server.NewUserAsync();
        var sessionId = Refresh.SessionId(signup);
        var t0 = Refresh.Token(signup);
        var t1 = Refresh.Token(await Refresh.OkAsync(server, t0));
        server.Clock.Advance(TimeSpan.FromSeconds(11));
        using var client = server.CreateClient(apiVersion: AuthServerFixture.ApiVersion2024);

        var response = await Refresh.PostAsync(client, t0);

        await ApiAssert.ErrorAsync(response, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
        var rows = await Refresh.RowsAsync(server, sessionId);
        Assert.Equal([t0, t1], rows.Select(r => r.Token));
        Assert.All(rows, r => Assert.True(r.Revoked, $"{r.Token} should be revoked"));
        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, t1), 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
    }

    [Fact]
    public async Task Token_RefreshRevokedTokenReusedOutsideInterval_Returns400AlreadyUsedAndRevokesSessionTokens()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var sessionId = Refresh.SessionId(signup);
        var t0 = Refresh.Token(signup);
        var t1 = Refresh.Token(await Refresh.OkAsync(server, t0));
        var t2 = Refresh.Token(await Refresh.OkAsync(server, t1));
        server.Clock.Advance(TimeSpan.FromSeconds(1));
        using var client = server.CreateClient(apiVersion: AuthServerFixture.ApiVersion2024);

        var response = await Refresh.PostAsync(client, t0);

        await ApiAssert.ErrorAsync(response, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
        // The revocation is committed although the request failed (security-tests.md S1).
        var rows = await Refresh.RowsAsync(server, sessionId);
        Assert.Equal([t0, t1, t2], rows.Select(r => r.Token));
        Assert.All(rows, r => Assert.True(r.Revoked, $"{r.Token} should be revoked"));
        server.Clock.Advance(TimeSpan.FromSeconds(1));
        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, t2), 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
        Assert.Equal(3, (await Refresh.RowsAsync(server, sessionId)).Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("ABCDEFGHIJKL")]
    [InlineData("abcdefghijk!")]
    [InlineData("abcdefghijklm")]
    public async Task Token_RefreshMalformedToken_Returns400ValidationFailed(string refreshToken)
    {
        await server.AssertErrorBothShapesAsync(c => Refresh.PostAsync(c, refreshToken),
            400, "validation_failed", "Refresh token is not valid");
    }

    [Fact]
    public async Task Token_RefreshMissingToken_Returns400ValidationFailed()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=refresh_token", new { }),
            400, "validation_failed", "Refresh token is not valid");
    }

    [Fact]
    public async Task Token_RefreshUnknownWellFormedToken_Returns400RefreshTokenNotFound()
    {
        var token = Refresh.UnknownToken();

        await server.AssertErrorBothShapesAsync(c => Refresh.PostAsync(c, token),
            400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
    }

    [Fact]
    public async Task Token_RefreshBannedUser_Returns400UserBanned()
    {
        var (_, _, signup) = await server.NewUserAsync();
        await server.Db.ExecuteAsync("update auth.users set banned_until = now() + interval '1 day' where id = @id::uuid", new { id = (string)signup["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => Refresh.PostAsync(c, Refresh.Token(signup)),
            400, "user_banned", "Invalid Refresh Token: User Banned");

        Assert.False((await Refresh.RowsAsync(server, Refresh.SessionId(signup))).Single().Revoked);
    }
}

/// <summary>GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL=10 (jwt.md §5.2 step 2).</summary>
public sealed class TokenRefreshReuseIntervalTests(ReuseIntervalFixture server) : IClassFixture<ReuseIntervalFixture>
{
    [Fact]
    public async Task Token_RefreshParentReusedInsideInterval_ReturnsActiveChild()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var t0 = Refresh.Token(signup);
        var t1 = Refresh.Token(await Refresh.OkAsync(server, t0));

        var replay = await Refresh.OkAsync(server, t0);

        Assert.Equal(t1, Refresh.Token(replay));
        Assert.Equal(Refresh.SessionId(signup), Refresh.SessionId(replay));
        Assert.Equal(2, (await Refresh.RowsAsync(server, Refresh.SessionId(signup))).Count);
    }

    [Fact]
    public async Task Token_RefreshRevokedTokenReusedAfterInterval_Returns400AlreadyUsedAndRevokesSessionTokens()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var sessionId = Refresh.SessionId(signup);
        var t0 = Refresh.Token(signup);
        var t1 = Refresh.Token(await Refresh.OkAsync(server, t0));
        await Refresh.OkAsync(server, t1);
        server.Clock.Advance(TimeSpan.FromSeconds(ReuseIntervalFixture.ReuseIntervalSeconds + 1));
        using var client = server.CreateClient();

        var response = await Refresh.PostAsync(client, t0);

        await ApiAssert.ErrorAsync(response, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
        Assert.All(await Refresh.RowsAsync(server, sessionId), r => Assert.True(r.Revoked, $"{r.Token} should be revoked"));
    }

    [Fact]
    public async Task Token_RefreshGrandparentReusedInsideInterval_Returns400AlreadyUsedWithoutNewToken()
    {
        // security-tests S3★: GoTrue would mint another child of t0 here (jwt.md §5.2 2c); we refuse.
        var (_, _, signup) = await server.NewUserAsync();
        var sessionId = Refresh.SessionId(signup);
        var t0 = Refresh.Token(signup);
        var t1 = Refresh.Token(await Refresh.OkAsync(server, t0));
        var t2 = Refresh.Token(await Refresh.OkAsync(server, t1));
        using var client = server.CreateClient();

        var response = await Refresh.PostAsync(client, t0);

        await ApiAssert.ErrorAsync(response, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
        var rows = await Refresh.RowsAsync(server, sessionId);
        Assert.Equal([t0, t1, t2], rows.Select(r => r.Token));
        Assert.False(rows[2].Revoked); // inside the interval the live token survives: the replay may be a slow tab
        var t3 = Refresh.Token(await Refresh.OkAsync(server, t2));
        Assert.NotEqual(t2, t3);
    }

    [Fact]
    public async Task Token_RefreshTokenOfRevokedFamilyInsideInterval_Returns400AlreadyUsed()
    {
        // The trap in security-tests (a): revoking a family bumps updated_at, so its tokens look fresh.
        var (_, _, signup) = await server.NewUserAsync();
        var t0 = Refresh.Token(signup);
        var t1 = Refresh.Token(await Refresh.OkAsync(server, t0));
        var t2 = Refresh.Token(await Refresh.OkAsync(server, t1));
        server.Clock.Advance(TimeSpan.FromSeconds(ReuseIntervalFixture.ReuseIntervalSeconds + 1));
        using var client = server.CreateClient();
        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, t0), 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");

        var response = await Refresh.PostAsync(client, t2);

        await ApiAssert.ErrorAsync(response, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
        Assert.All(await Refresh.RowsAsync(server, Refresh.SessionId(signup)), r => Assert.True(r.Revoked));
    }

    [Fact]
    public async Task Token_TwentyConcurrentRefreshesOfOneToken_AllGetTheSameSuccessor()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var t0 = Refresh.Token(signup);
        var sessionId = Refresh.SessionId(signup);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var racers = Enumerable.Range(0, 20).Select(async _ =>
        {
            using var client = server.CreateClient();
            await start.Task;
            var response = await Refresh.PostAsync(client, t0);
            return (Status: (int)response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }).ToList();
        start.SetResult();
        var results = await Task.WhenAll(racers);

        // The first racer swaps t0 → t1; every later one finds t0 revoked with t1 as the active child
        // whose parent is t0, and gets t1 back (jwt.md §5.2 step 2a).
        Assert.All(results, r => Assert.True(r.Status == 200, $"{r.Status} {r.Body}\n{server.ServerLog}"));
        var tokens = results.Select(r => (string)JsonNode.Parse(r.Body)!["refresh_token"]!).Distinct().ToList();
        var t1 = Assert.Single(tokens);
        Assert.NotEqual(t0, t1);
        var rows = await Refresh.RowsAsync(server, sessionId);
        Assert.Equal([t0, t1], rows.Select(r => r.Token));
        Assert.True(rows[0].Revoked);
        Assert.False(rows[1].Revoked);
    }
}
