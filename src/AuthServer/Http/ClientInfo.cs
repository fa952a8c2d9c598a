using System.Net;

namespace AuthServer.Http;

/// Who is calling: client IP for sessions and audit rows (first parseable `X-Forwarded-For` entry,
/// else the socket, as GoTrue does) and the User-Agent stored on sessions.
internal static class ClientInfo
{
    public static string Ip(HttpContext http)
    {
        foreach (var part in http.Request.Headers["X-Forwarded-For"].ToString().Split(','))
            if (IPAddress.TryParse(part.Trim(), out var forwarded))
                return forwarded.ToString();
        var remote = http.Connection.RemoteIpAddress;
        if (remote is null) return "";
        return (remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote).ToString();
    }

    public static string? UserAgent(HttpContext http) =>
        http.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua : null;
}
