using AuthServer.Config;
using AuthServer.Http;

namespace AuthServer.Sessions;

/// The origins trusted with cookie sessions (security review 2026-12, M-4): the site URL's origin,
/// the origins of `GOTRUE_URI_ALLOW_LIST` entries and `GOTRUE_COOKIE_ALLOWED_ORIGINS`. Only they get
/// credentialed CORS (Http/CorsSetup) and only their requests may be authenticated by the cookies.
/// An allow-list entry already trusts its origin to receive tokens in a redirect fragment, so it is
/// trusted here too; its `scheme://host[:port]` part is matched with the redirect check's own glob
/// (`*.example.com` covers every subdomain, as it does for redirects). Unlike the redirect check, a
/// loopback host on another port is not trusted: a page there is a different origin.
internal static class CookieOrigins
{
    /// `scheme://host[:port]` in lower case, default port dropped, or null when `value` is not an
    /// http(s) origin (a path, query, user info or the opaque `null` origin).
    public static string? Normalize(string value)
    {
        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            || uri.UserInfo.Length > 0 || uri.PathAndQuery != "/" || uri.Fragment.Length > 0)
            return null;
        return uri.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
    }

    public static bool IsAllowed(ApiOptions api, CookieSessionOptions cookies, string origin)
    {
        if (Normalize(origin) is not { } normalized) return false;
        if (Uri.TryCreate(api.SiteUrl, UriKind.Absolute, out var site)
            && string.Equals(site.GetLeftPart(UriPartial.Authority), normalized, StringComparison.OrdinalIgnoreCase))
            return true;
        if (cookies.AllowedOrigins.Contains(normalized, StringComparer.Ordinal)) return true;
        foreach (var entry in api.UriAllowList)
            if (OriginPart(entry) is { } pattern && Redirects.Glob(pattern).IsMatch(normalized))
                return true;
        return false;
    }

    /// Whether a request may be authenticated by the cookies: its `Origin` is trusted, or, without one,
    /// the browser did not mark it cross-site (`Sec-Fetch-Site`, Fetch Metadata). `same-origin` comes
    /// from the auth server's own origin. Clients that send neither header are not browsers and can
    /// only hold the cookies if they were given them.
    public static bool RequestAllowed(HttpContext http, ApiOptions api, CookieSessionOptions cookies)
    {
        var fetchSite = http.Request.Headers["Sec-Fetch-Site"].ToString();
        if (fetchSite == "same-origin") return true;
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length > 0) return IsAllowed(api, cookies, origin);
        return fetchSite != "cross-site";
    }

    /// The `scheme://host[:port]` part of an allow-list glob, or null when it has none.
    static string? OriginPart(string entry)
    {
        var scheme = entry.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0) return null;
        var end = entry.IndexOfAny(['/', '?', '#'], scheme + 3);
        return (end < 0 ? entry : entry[..end]).ToLowerInvariant();
    }
}
