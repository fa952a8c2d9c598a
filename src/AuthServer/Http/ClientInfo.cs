using AuthServer.Config;
using AuthServer.RateLimits;

namespace AuthServer.Http;

/// Who is calling: client IP for sessions and audit rows and the User-Agent stored on sessions.
internal static class ClientInfo
{
    /// `ClientAddress.For`: a valid `Sb-Forwarded-For` when enabled (as GoTrue), else the socket peer, or the
    /// forwarded client when the peer is a trusted proxy (`GOTRUE_RATE_LIMIT_TRUSTED_PROXIES`). GoTrue takes the
    /// first `X-Forwarded-For` entry from anyone, which lets a client write any IP into `sessions.ip` and the
    /// audit log (ASVS 4.1.3, 16.3.1).
    public static string Ip(HttpContext http) =>
        ClientAddress.For(http, http.RequestServices.GetRequiredService<RateLimitOptions>()) is var ip && ip != "unknown" ? ip : "";

    public static string? UserAgent(HttpContext http) =>
        http.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua : null;
}
