using System.Net;
using AuthServer.Config;

namespace AuthServer.Features.RateLimits;

/// The client IP that rate limits are keyed by. The socket peer, unless that peer is a configured trusted
/// proxy (`GOTRUE_RATE_LIMIT_TRUSTED_PROXIES`): then the forwarding header (`GOTRUE_RATE_LIMIT_HEADER`, else
/// `X-Forwarded-For`) is read from the right, skipping trusted hops, and the first untrusted address is the
/// client. Entries left of it were written by the client itself, so a spoofed value can't pick a bucket
/// (ASVS 4.1.3). GoTrue instead trusts the header's first value from anyone, and without the header applies
/// no per-IP limit at all (config.md §8); both are refused here on purpose.
internal static class ClientAddress
{
    public static string For(HttpContext http, RateLimitOptions options)
    {
        if (http.Connection.RemoteIpAddress is not { } remote) return "unknown";
        var current = RateLimitOptions.Normalize(remote);
        if (!options.IsTrustedProxy(current)) return current.ToString();

        var hops = new List<string>();
        foreach (var value in http.Request.Headers[options.Header ?? "X-Forwarded-For"])
            if (value is not null)
                hops.AddRange(value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        for (var i = hops.Count - 1; i >= 0; i--)
        {
            // Garbage written by whoever is left of the last trusted hop: key by that hop's view.
            if (Parse(hops[i]) is not { } hop) return current.ToString();
            current = hop;
            if (!options.IsTrustedProxy(current)) return current.ToString();
        }
        return current.ToString();
    }

    static IPAddress? Parse(string text)
    {
        if (IPAddress.TryParse(text, out var address)) return RateLimitOptions.Normalize(address);
        // `203.0.113.7:4711` or `[2001:db8::1]:4711`, as some proxies write it.
        return IPEndPoint.TryParse(text, out var endpoint) ? RateLimitOptions.Normalize(endpoint.Address) : null;
    }
}
