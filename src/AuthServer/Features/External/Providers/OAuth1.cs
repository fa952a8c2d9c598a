using System.Security.Cryptography;
using System.Text;

namespace AuthServer.Features.External.Providers;

/// OAuth 1.0a request signing, HMAC-SHA1 (RFC 5849 §3.4), for Twitter's legacy sign-in.
internal static class OAuth1
{
    /// RFC 5849 §3.6: RFC 3986 unreserved characters stay, everything else is %XX of its UTF-8 bytes.
    public static string Encode(string value)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~') sb.Append(c);
            else sb.Append('%').Append(b.ToString("X2"));
        }
        return sb.ToString();
    }

    /// §3.4.1.2: lower-case scheme and host, the port only when not the scheme's default, no query.
    public static string BaseUri(Uri url) =>
        url.Scheme.ToLowerInvariant() + "://" + url.Host.ToLowerInvariant() + (url.IsDefaultPort ? "" : ":" + url.Port) + url.AbsolutePath;

    /// §3.4.1.3.2: every parameter encoded, sorted by name then value, joined with `&`.
    public static string NormalizedParameters(IEnumerable<KeyValuePair<string, string>> parameters) =>
        string.Join("&", parameters.Select(p => (Name: Encode(p.Key), Value: Encode(p.Value)))
            .OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Name + "=" + p.Value));

    /// §3.4.1.1: method, base URI and normalized parameters (query, form body and oauth_*), each encoded.
    public static string BaseString(string method, Uri url, IEnumerable<KeyValuePair<string, string>> parameters) =>
        method.ToUpperInvariant() + "&" + Encode(BaseUri(url)) + "&" + Encode(NormalizedParameters(parameters));

    /// §3.4.2: HMAC-SHA1 keyed with the encoded client secret and token secret, base64.
    public static string Sign(string baseString, string clientSecret, string? tokenSecret) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.ASCII.GetBytes(Encode(clientSecret) + "&" + Encode(tokenSecret ?? "")),
            Encoding.ASCII.GetBytes(baseString)));

    /// The `Authorization: OAuth …` header (§3.5.1) for a request whose query and form parameters are
    /// <paramref name="requestParameters"/>; <paramref name="protocol"/> adds oauth_callback / oauth_verifier.
    public static string Header(string method, Uri url, IEnumerable<KeyValuePair<string, string>> requestParameters,
        string consumerKey, string consumerSecret, string? token, string? tokenSecret,
        IEnumerable<KeyValuePair<string, string>> protocol, string nonce, long timestamp)
    {
        var oauth = new List<KeyValuePair<string, string>>
        {
            new("oauth_consumer_key", consumerKey),
            new("oauth_nonce", nonce),
            new("oauth_signature_method", "HMAC-SHA1"),
            new("oauth_timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("oauth_version", "1.0"),
        };
        if (token is not null) oauth.Add(new("oauth_token", token));
        oauth.AddRange(protocol);
        var signature = Sign(BaseString(method, url, oauth.Concat(requestParameters)), consumerSecret, tokenSecret);
        oauth.Add(new("oauth_signature", signature));
        return "OAuth " + string.Join(", ", oauth.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{Encode(p.Key)}=\"{Encode(p.Value)}\""));
    }
}
