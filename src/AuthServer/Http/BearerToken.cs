using System.Text.RegularExpressions;

namespace AuthServer.Http;

/// The `Authorization: Bearer <token>` header as GoTrue reads it (api/auth.go `extractBearerToken`:
/// `(?i)^bearer (\S+$)`), for user and admin routes alike.
internal static partial class BearerToken
{
    /// The token, or null when the header is missing or not a bearer header.
    public static string? From(HttpRequest request)
    {
        var match = Bearer().Match(request.Headers.Authorization.ToString());
        return match.Success ? match.Groups[1].Value : null;
    }

    [GeneratedRegex(@"^bearer (\S+)$", RegexOptions.IgnoreCase)]
    private static partial Regex Bearer();
}
