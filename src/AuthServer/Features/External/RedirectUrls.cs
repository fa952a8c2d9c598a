using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AuthServer.Config;

namespace AuthServer.Features.External;

/// Redirect targets (api.md §0 "referrer", §5.1 `IsRedirectURLValid`) and Go-style query encoding.
internal static class RedirectUrls
{
    /// GoTrue `GetReferrer`: a `redirect_to` header, then the query, then `Referer`; each only if allowed.
    public static string Referrer(HttpRequest request, ApiOptions api)
    {
        foreach (var candidate in new[]
                 {
                     request.Headers["redirect_to"].ToString(), request.Query["redirect_to"].ToString(),
                     request.Headers.Referer.ToString(),
                 })
            if (candidate.Length > 0 && IsValid(candidate, api))
                return candidate;
        return api.SiteUrl;
    }

    public static bool IsValid(string candidate, ApiOptions api)
    {
        if (!Uri.TryCreate(candidate, UriKind.Absolute, out var uri)) return false;
        if (uri.Scheme is "http" or "https")
        {
            var host = uri.IdnHost.Trim('[', ']');
            if (host.All(char.IsAsciiDigit)) return false; // `http://2130706433/` is an IP in disguise
            if (Uri.TryCreate(api.SiteUrl, UriKind.Absolute, out var site) && site.Scheme == uri.Scheme &&
                string.Equals(site.IdnHost, uri.IdnHost, StringComparison.OrdinalIgnoreCase) &&
                (site.Port == uri.Port || uri.IsLoopback))
                return true;
            if (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip)) return true;
        }
        var withoutFragment = candidate.Split('#', 2)[0];
        return api.UriAllowList.Any(glob => Glob(glob).IsMatch(withoutFragment));
    }

    /// gobwas/glob with separators `.` and `/`: `*` stays within a label or segment, `**` crosses them.
    static Regex Glob(string glob)
    {
        var pattern = new StringBuilder("^");
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*') { pattern.Append(".*"); i++; }
            else if (c == '*') pattern.Append("[^./]*");
            else if (c == '?') pattern.Append("[^./]");
            else if (c == '{') pattern.Append("(?:");
            else if (c == '}') pattern.Append(')');
            else if (c == ',' && pattern.ToString().Contains("(?:")) pattern.Append('|');
            else pattern.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(pattern.Append('$').ToString(), RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    }

    /// Go `url.Values.Encode`: keys sorted, `QueryEscape` (space as `+`).
    public static string Encode(IEnumerable<KeyValuePair<string, string>> values) =>
        string.Join("&", values.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => Escape(kv.Key) + "=" + Escape(kv.Value)));

    static string Escape(string value) => Uri.EscapeDataString(value).Replace("%20", "+");

    /// Adds query parameters to a URL, keeping its own.
    public static string WithQuery(string url, IEnumerable<KeyValuePair<string, string>> values)
    {
        var fragmentAt = url.IndexOf('#');
        var fragment = fragmentAt >= 0 ? url[fragmentAt..] : "";
        var baseUrl = fragmentAt >= 0 ? url[..fragmentAt] : url;
        var encoded = Encode(values);
        if (encoded.Length == 0) return url;
        return baseUrl + (baseUrl.Contains('?') ? "&" : "?") + encoded + fragment;
    }

    /// Replaces the fragment.
    public static string WithFragment(string url, IEnumerable<KeyValuePair<string, string>> values)
    {
        var fragmentAt = url.IndexOf('#');
        return (fragmentAt >= 0 ? url[..fragmentAt] : url) + "#" + Encode(values);
    }
}
