using System.Net;
using AuthServer.Config;

namespace AuthServer.RateLimits;

/// Who a request comes from: the key of the per-client request limits, and the address recorded on sessions
/// and audit rows.
///
/// Request-limit key, in GoTrue's order (internal/api/middleware.go `performRateLimiting`):
/// 1. `Sb-Forwarded-For` when `GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED`: its first value, if it is an IP.
/// 2. Ours, opt-in: with `GOTRUE_RATE_LIMIT_TRUSTED_PROXIES`, the forwarding header (`GOTRUE_RATE_LIMIT_HEADER`,
///    else `X-Forwarded-For`) read right to left from a trusted peer, skipping trusted hops: the first untrusted
///    address is the client, so entries a client prepends can't pick its bucket (ASVS 4.1.3). An untrusted
///    peer is keyed by its socket address.
/// 3. `GOTRUE_RATE_LIMIT_HEADER`: its first comma-separated value, trimmed, as sent. An empty value is not
///    limited (GoTrue logs a warning for each such request; so do we).
/// 4. Ours, opt-in: `GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS`: the socket address.
/// 5. Otherwise none: as GoTrue, the per-client request limits do not apply.
internal static class ClientAddress
{
    public const string SbForwardedForHeader = "Sb-Forwarded-For";

    /// The outcome of keying one request: the key, or null with the reason to log (null: nothing to log).
    public readonly record struct Key(string? Value, string? Warning);

    public static Key RequestKey(HttpContext http, RateLimitOptions options)
    {
        if (!options.SbForwardedFor || !http.Request.Headers.ContainsKey(SbForwardedForHeader)) return Configured(http, options);
        if (SbForwardedFor(http) is { } sbff) return new(sbff.ToString(), null);
        // GoTrue reports an invalid value and carries on with the rate-limit header.
        var key = Configured(http, options);
        return key with { Warning = key.Warning ?? "invalid Sb-Forwarded-For header value" };
    }

    static Key Configured(HttpContext http, RateLimitOptions options)
    {
        if (options.TrustedProxies.Count > 0) return new(Forwarded(http, options), null);
        if (options.Header is not { } header) return new(options.BySocketAddress ? Socket(http) : null, null);
        // Go's `Header.Get`: the first line of the header only.
        var value = http.Request.Headers[header].FirstOrDefault() ?? "";
        if (value.Length == 0)
            return new(null, "request does not have a value for the rate limiting header, rate limiting is not applied");
        var first = value.Split(',', 2)[0].Trim();
        return first.Length == 0
            ? new(null, "first rate limit header value is empty, rate limiting is not applied")
            : new(first, null);
    }

    /// The client's IP for sessions, audit rows and captcha: `Sb-Forwarded-For` when enabled and valid (as
    /// GoTrue), else the socket peer, or the forwarded client when the peer is a trusted proxy. GoTrue takes the
    /// first `X-Forwarded-For` entry from anyone, which lets a client write any IP into `sessions.ip` and the
    /// audit log (ASVS 4.1.3, 16.3.1): that part is refused here on purpose.
    public static string For(HttpContext http, RateLimitOptions options)
    {
        if (options.SbForwardedFor && SbForwardedFor(http) is { } sbff) return sbff.ToString();
        return options.TrustedProxies.Count > 0 ? Forwarded(http, options) : Socket(http);
    }

    public static string Socket(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } remote ? RateLimitOptions.Normalize(remote).ToString() : "unknown";

    // GoTrue internal/api/sbff: the first comma-separated value, trimmed, must parse as an IP.
    static IPAddress? SbForwardedFor(HttpContext http)
    {
        var value = http.Request.Headers[SbForwardedForHeader].FirstOrDefault();
        if (string.IsNullOrEmpty(value)) return null;
        return IPAddress.TryParse(value.Split(',', 2)[0].Trim(), out var address) ? RateLimitOptions.Normalize(address) : null;
    }

    static string Forwarded(HttpContext http, RateLimitOptions options)
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
