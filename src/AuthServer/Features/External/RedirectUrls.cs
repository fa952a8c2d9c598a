namespace AuthServer.Features.External;

/// Go-style query and fragment building for OAuth redirects. Which redirect targets are allowed is
/// `Http/Redirects` (api.md §5.1), shared with the email flows.
internal static class RedirectUrls
{
    /// Go `url.Values.Encode`: keys sorted, `QueryEscape` (space as `+`).
    public static string Encode(IEnumerable<KeyValuePair<string, string>> values) =>
        string.Join("&", values.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => Escape(kv.Key) + "=" + Escape(kv.Value)));

    static string Escape(string value) => Mail.Mailer.QueryEscape(value);

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
