using System.Net.Http.Json;
using AuthServer.Tests.Features;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>GOTRUE_SESSIONS_TIMEBOX=2h, GOTRUE_SESSIONS_INACTIVITY_TIMEOUT=30m.</summary>
public sealed class SessionLimitsFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_SESSIONS_TIMEBOX"] = "2h";
        settings["GOTRUE_SESSIONS_INACTIVITY_TIMEOUT"] = "30m";
    }
}

/// <summary>
/// Catalogue group S. S1–S6 are in TokenRefreshTests, TokenRefreshV2Tests, LogoutTests and UserTests; S8 in
/// DatabaseOutageTests and RateLimitTests (R5). This class adds S7 (absolute and idle lifetime).
/// </summary>
[Trait("catalogue", "S")]
public sealed class SessionLifetimeTests(SessionLimitsFixture server) : IClassFixture<SessionLimitsFixture>
{
    [Fact] // S7 inactivity
    public async Task Refresh_AfterInactivityTimeout_Returns400SessionExpired()
    {
        var (_, _, session) = await server.NewUserAsync();
        server.Clock.Advance(TimeSpan.FromMinutes(31));
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, Refresh.Token(session)), 400, "session_expired",
            "Invalid Refresh Token: Session Expired (Inactivity)");
    }

    [Fact] // S7 absolute lifetime: even a session refreshed every 20 minutes ends at the timebox
    public async Task Refresh_ActiveSessionPastTimebox_Returns400SessionExpired()
    {
        var (_, _, session) = await server.NewUserAsync();
        var token = Refresh.Token(session);
        for (var i = 0; i < 5; i++)
        {
            server.Clock.Advance(TimeSpan.FromMinutes(20));
            token = Refresh.Token(await Refresh.OkAsync(server, token));
        }
        server.Clock.Advance(TimeSpan.FromMinutes(21)); // 2h01m after sign-in, 21 min after the last refresh
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        await ApiAssert.ErrorAsync(await Refresh.PostAsync(client, token), 400, "session_expired",
            "Invalid Refresh Token: Session Expired");
    }
}
