using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AuthServer.Config;

namespace AuthServer.Http;

/// Where browser flows send the user back to (api.md §0 "Lookup order", §5.1 `IsRedirectURLValid`).
/// An invalid candidate never errors: it falls through to the next source and finally the site URL,
/// so the server can never be used as an open redirect.
internal static partial class Redirects
{
    /// GoTrue `GetReferrer`: a `redirect_to` header, the `redirect_to` query value, the Referer header, the site URL.
    public static string Referrer(HttpContext http, ApiOptions api)
    {
        foreach (var candidate in new[]
                 {
                     http.Request.Headers["redirect_to"].ToString(),
                     http.Request.Query["redirect_to"].ToString(),
                     http.Request.Headers.Referer.ToString(),
                 })
            if (IsValid(api, candidate)) return candidate;
        return api.SiteUrl;
    }

    /// `candidate` if it passes the allow-list check, else the usual referrer (generate_link, verify).
    public static string ValidOrReferrer(HttpContext http, ApiOptions api, string? candidate) =>
        !string.IsNullOrEmpty(candidate) && IsValid(api, candidate) ? candidate : Referrer(http, api);

    public static bool IsValid(ApiOptions api, string candidate)
    {
        if (string.IsNullOrWhiteSpace(candidate)) return false;
        // Control characters (CR/LF above all) can never be part of a URL we redirect to: they would split the
        // Location header (security-tests B9, D1).
        if (candidate.Any(char.IsControl)) return false;
        var web = candidate.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ||
                  candidate.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        // Uri rewrites numeric hosts (2130706433 → 127.0.0.1) and refuses some odd ones, so check the host as
        // written, before any allow-list glob could match it.
        var raw = web ? RawHost(candidate) : "";
        if (web && (!SafeHost().IsMatch(raw) || DecimalHost().IsMatch(raw))) return false;
        if (Uri.TryCreate(candidate, UriKind.Absolute, out var url) && url.Scheme is "http" or "https")
        {
            var host = url.IdnHost.Trim('[', ']');
            if (!SafeHost().IsMatch(host)) return false;
            // A loopback IP literal passes whatever the site URL is.
            if (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip)) return true;
            if (Uri.TryCreate(api.SiteUrl, UriKind.Absolute, out var site) &&
                string.Equals(site.Scheme, url.Scheme, StringComparison.OrdinalIgnoreCase) &&
                string.Equals(site.IdnHost.Trim('[', ']'), host, StringComparison.OrdinalIgnoreCase) &&
                (site.Port == url.Port || IsLoopbackName(host)))
                return true;
        }
        var withoutFragment = candidate.Split('#', 2)[0];
        foreach (var pattern in api.UriAllowList)
            if (Glob(pattern).IsMatch(withoutFragment)) return true;
        return false;
    }

    static string RawHost(string url)
    {
        var rest = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var end = rest.IndexOfAny(['/', '?', '#']);
        var authority = end < 0 ? rest : rest[..end];
        authority = authority[(authority.LastIndexOf('@') + 1)..];
        if (authority.StartsWith('[')) return authority[1..Math.Max(1, authority.IndexOf(']'))];
        var colon = authority.LastIndexOf(':');
        return colon < 0 ? authority : authority[..colon];
    }

    static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
        (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    static readonly ConcurrentDictionary<string, Regex> Globs = new();

    /// gobwas/glob with separators `.` and `/`: `*` stays within a label/segment, `**` crosses them,
    /// `?` is one non-separator character, `[…]`/`[!…]` classes, `{a,b}` alternatives.
    internal static Regex Glob(string pattern) => Globs.GetOrAdd(pattern, p =>
        new Regex("^" + GlobToRegex(p, 0, out _, inBraces: false) + "$", RegexOptions.Singleline | RegexOptions.CultureInvariant,
            TimeSpan.FromMilliseconds(200)));

    static string GlobToRegex(string p, int start, out int end, bool inBraces)
    {
        var sb = new StringBuilder();
        var i = start;
        while (i < p.Length)
        {
            var c = p[i];
            if (inBraces && (c == ',' || c == '}')) break;
            switch (c)
            {
                case '*' when i + 1 < p.Length && p[i + 1] == '*':
                    sb.Append(".*");
                    i += 2;
                    continue;
                case '*':
                    sb.Append("[^./]*");
                    break;
                case '?':
                    sb.Append("[^./]");
                    break;
                case '\\' when i + 1 < p.Length:
                    sb.Append(Regex.Escape(p[i + 1].ToString()));
                    i += 2;
                    continue;
                case '[':
                    {
                        var close = p.IndexOf(']', i + 1);
                        if (close < 0) { sb.Append(@"\["); break; }
                        var body = p[(i + 1)..close];
                        var negate = body.StartsWith('!');
                        if (negate) body = body[1..];
                        sb.Append('[').Append(negate ? "^" : "").Append(body.Replace("\\", @"\\").Replace("[", @"\[")).Append(']');
                        i = close + 1;
                        continue;
                    }
                case '{':
                    {
                        var alternatives = new List<string>();
                        var j = i + 1;
                        while (true)
                        {
                            alternatives.Add(GlobToRegex(p, j, out j, inBraces: true));
                            if (j >= p.Length) break;
                            if (p[j] == '}') { j++; break; }
                            j++; // ','
                        }
                        sb.Append("(?:").Append(string.Join('|', alternatives)).Append(')');
                        i = j;
                        continue;
                    }
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    break;
            }
            i++;
        }
        end = i;
        return sb.ToString();
    }

    // Hosts with characters outside letters, digits, '.', '-', ':' (IPv6) and '_' are rejected, as GoTrue does.
    [GeneratedRegex(@"^[A-Za-z0-9.\-_:]+$")]
    private static partial Regex SafeHost();

    // A purely decimal host (e.g. 2130706433) is an IPv4 address in disguise.
    [GeneratedRegex(@"^[0-9]+$")]
    private static partial Regex DecimalHost();
}
