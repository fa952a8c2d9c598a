using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION=2 with UPGRADE_PERCENTAGE=100.</summary>
public sealed class RefreshV2Fixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION"] = "2";
        settings["GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE"] = "100";
    }
}

/// <summary>v2 refresh tokens for new sessions and the v1 → v2 upgrade (jwt.md §5.1–5.2).</summary>
public sealed class TokenRefreshV2Tests(RefreshV2Fixture server) : IClassFixture<RefreshV2Fixture>
{
    static string SessionId(JsonObject session) => Refresh.SessionId(session);

    Task<long?> CounterAsync(string sessionId) => server.Db.ScalarAsync<long?>(
        "select refresh_token_counter from auth.sessions where id = @sessionId::uuid", new { sessionId });

    [Fact]
    public async Task SignUp_V2Enabled_IssuesV2TokenWithSessionKeyAndNoTokenRow()
    {
        var (_, _, session) = await server.NewUserAsync();

        var token = Refresh.Token(session);
        Assert.Matches("^[A-Za-z0-9_-]{51,63}$", token);
        Assert.Equal(0, await CounterAsync(SessionId(session)));
        Assert.Equal(32, Convert.FromBase64String((await server.Db.ScalarAsync<string>(
            "select refresh_token_hmac_key from auth.sessions where id = @id::uuid", new { id = SessionId(session) }))
            .Replace('-', '+').Replace('_', '/') + "=").Length);
        Assert.Empty(await Refresh.RowsAsync(server, SessionId(session)));
    }

    [Fact]
    public async Task Refresh_V2Token_AdvancesCounterAndKeepsSession()
    {
        var (_, _, session) = await server.NewUserAsync();
        using var client = server.CreateClient();

        var first = await server.OkJsonAsync(await Refresh.PostAsync(client, Refresh.Token(session)));
        var second = await server.OkJsonAsync(await Refresh.PostAsync(client, Refresh.Token(first)));

        Assert.Equal(SessionId(session), SessionId(second));
        Assert.Equal(2, await CounterAsync(SessionId(session)));
        Assert.Equal(3, new[] { Refresh.Token(session), Refresh.Token(first), Refresh.Token(second) }.Distinct().Count());
        Assert.Equal("password", (string?)Jwt.Payload((string)second["access_token"]!)["amr"]![0]!["method"]);
    }

    [Fact]
    public async Task Refresh_V2TokenTwoBehindOutsideReuseInterval_Returns400AlreadyUsedAndDeletesSession()
    {
        var (_, _, session) = await server.NewUserAsync();
        using var client = server.CreateClient(apiVersion: AuthServerFixture.ApiVersion2024);
        var t0 = Refresh.Token(session);
        var t1 = Refresh.Token(await server.OkJsonAsync(await Refresh.PostAsync(client, t0)));
        await server.OkJsonAsync(await Refresh.PostAsync(client, t1));
        server.Clock.Advance(TimeSpan.FromSeconds(1));

        var response = await Refresh.PostAsync(client, t0);

        await ApiAssert.ErrorAsync(response, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where id = @id::uuid",
            new { id = SessionId(session) }));
    }

    [Fact]
    public async Task Refresh_V2TokenWithForgedSignature_Returns400RefreshTokenNotFound()
    {
        var (_, _, session) = await server.NewUserAsync();
        var bytes = Convert.FromBase64String(Pad(Refresh.Token(session)));
        bytes[^5] ^= 0xff; // last signature byte; then fix the checksum so only the HMAC is wrong
        var checksum = System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(0, bytes.Length - 4));
        checksum.AsSpan(0, 4).CopyTo(bytes.AsSpan(bytes.Length - 4));
        var forged = Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        await server.AssertErrorBothShapesAsync(c => Refresh.PostAsync(c, forged),
            400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
        Assert.Equal(0, await CounterAsync(SessionId(session)));
    }

    [Theory]
    [InlineData("AKqqqqoAAEAAgAAAAAAAAAIDBsMl_ecnlhnlv59fF8aoYzvN58Z")] // checksum off by one character
    [InlineData("AaqqqqoAAEAAgAAAAAAAAAIDBsMl_ecnlhnlv59fF8aoYzvN58Y")] // version byte not 0
    [InlineData("AKqqqqoAAEAAgAAAAAAAAAIDBsMl_ecnlhnlv59fF8aoYzvN5")] // truncated
    [InlineData("not a token at all, but long enough to not be v1!!")]
    public async Task Refresh_MalformedV2Token_Returns400ValidationFailed(string token)
    {
        await server.AssertErrorBothShapesAsync(c => Refresh.PostAsync(c, token),
            400, "validation_failed", "Refresh token is not valid");
    }

    [Fact]
    public async Task Refresh_V1TokenWithUpgradeAt100Percent_RevokesNewV1AndReturnsV2()
    {
        var userId = await server.Db.InsertEmailUserAsync(AuthServerFixture.NewEmail("upgrade"), "correct-horse-battery");
        var sessionId = Guid.NewGuid();
        var v1 = Refresh.UnknownToken();
        await server.Db.ExecuteAsync(
            """
            insert into auth.sessions (id, user_id, created_at, updated_at, aal) values (@sessionId, @userId, now(), now(), 'aal1');
            insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
            values ('00000000-0000-0000-0000-000000000000', @v1, @userId::text, false, now(), now(), '', @sessionId);
            insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
            values (gen_random_uuid(), @sessionId, now(), now(), 'password');
            """, new { sessionId, userId, v1 });
        using var client = server.CreateClient();

        var upgraded = await server.OkJsonAsync(await Refresh.PostAsync(client, v1));

        Assert.DoesNotMatch(ApiAssert.RefreshTokenV1(), Refresh.Token(upgraded));
        Assert.Equal(sessionId.ToString(), SessionId(upgraded));
        Assert.Equal(0, await CounterAsync(sessionId.ToString()));
        var rows = await Refresh.RowsAsync(server, sessionId.ToString());
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.True(r.Revoked, $"{r.Token} should be revoked"));

        var next = await server.OkJsonAsync(await Refresh.PostAsync(client, Refresh.Token(upgraded)));
        Assert.Equal(sessionId.ToString(), SessionId(next));
        Assert.Equal(1, await CounterAsync(sessionId.ToString()));
    }

    static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
    }
}
