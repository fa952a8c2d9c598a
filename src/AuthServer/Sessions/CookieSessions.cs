using System.Text.Json;
using AuthServer.Config;

namespace AuthServer.Sessions;

/// Opt-in cookie sessions (`GOTRUE_COOKIE_ENABLED`) for browser apps that never hand tokens to
/// JavaScript. GoTrue's model (internal/api/token.go `setCookieTokens`, `clearCookieTokens`): a request
/// carrying `x-use-cookie` gets `{GOTRUE_COOKIE_KEY}-access-token` and `-refresh-token` cookies on a
/// token response (value `session` = session cookies, no Max-Age); logout clears them. Unlike GoTrue,
/// which only ever wrote them, we also read them back: `AuthUser` takes the access cookie and the
/// refresh grant the refresh cookie when no bearer token / body token is given.
///
/// CSRF: the cookies are `SameSite=Lax` (no cross-site fetch/XHR carries them) and a state-changing
/// request authenticated by cookie must also carry `x-use-cookie`, a header an HTML form cannot set and
/// a cross-origin script can only send after a CORS preflight.
internal static class CookieSessions
{
    public const string Header = "x-use-cookie";

    /// Middleware: one place sets cookies for every token-issuing route (password, refresh, sign-up,
    /// and those added later) by looking at the response instead of touching each handler. Only
    /// requests with `x-use-cookie` are buffered. Runs outside the exception handler so it also sees
    /// rendered errors (a dead refresh token clears the cookies, as GoTrue does for a revoked one).
    public static IApplicationBuilder UseCookieSessions(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var options = http.RequestServices.GetRequiredService<CookieSessionOptions>();
        if (!options.Enabled)
        {
            await next(http);
            return;
        }
        if (HttpMethods.IsPost(http.Request.Method) && http.Request.Path.Equals("/logout", StringComparison.OrdinalIgnoreCase))
            http.Response.OnStarting(() =>
            {
                if (http.Response.StatusCode == StatusCodes.Status204NoContent) Clear(http, options);
                return Task.CompletedTask;
            });
        if (!http.Request.Headers.ContainsKey(Header))
        {
            await next(http);
            return;
        }

        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            await next(http);
        }
        finally
        {
            http.Response.Body = original;
        }

        if (http.Response.StatusCode == StatusCodes.Status200OK && TokensIn(http.Response, buffer) is var (access, refresh))
            Set(http, options, access, refresh, session: http.Request.Headers[Header].ToString() == "session");
        else if (IsRefreshGrant(http.Request) && http.Response.Headers["x-sb-error-code"].ToString() is
                 "refresh_token_not_found" or "refresh_token_already_used" or "session_not_found" or "session_expired" or "user_banned")
            Clear(http, options);

        buffer.Position = 0;
        await buffer.CopyToAsync(original, http.RequestAborted);
    });

    /// The access-token cookie when no bearer token was sent. Safe methods may use it alone; others
    /// need `x-use-cookie` too (see the CSRF note above).
    public static string? AccessToken(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<CookieSessionOptions>();
        if (!options.Enabled) return null;
        var method = http.Request.Method;
        if (!(HttpMethods.IsGet(method) || HttpMethods.IsHead(method)) && !http.Request.Headers.ContainsKey(Header))
            return null;
        return http.Request.Cookies[options.AccessTokenCookie] is { Length: > 0 } token ? token : null;
    }

    /// The refresh-token cookie for `grant_type=refresh_token` (a POST, so `x-use-cookie` is required).
    public static string? RefreshToken(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<CookieSessionOptions>();
        if (!options.Enabled || !http.Request.Headers.ContainsKey(Header)) return null;
        return http.Request.Cookies[options.RefreshTokenCookie] is { Length: > 0 } token ? token : null;
    }

    static bool IsRefreshGrant(HttpRequest request) =>
        request.Path.Equals("/token", StringComparison.OrdinalIgnoreCase) && request.Query["grant_type"] == "refresh_token";

    static (string Access, string Refresh)? TokensIn(HttpResponse response, MemoryStream body)
    {
        if (!(response.ContentType ?? "").StartsWith("application/json", StringComparison.OrdinalIgnoreCase)) return null;
        try
        {
            using var json = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("access_token", out var access) && access.ValueKind == JsonValueKind.String
                && json.RootElement.TryGetProperty("refresh_token", out var refresh) && refresh.ValueKind == JsonValueKind.String)
                return (access.GetString()!, refresh.GetString()!);
        }
        catch (JsonException)
        {
            // Not a token response.
        }
        return null;
    }

    static void Set(HttpContext http, CookieSessionOptions options, string access, string refresh, bool session)
    {
        var cookie = Attributes(options, session ? null : options.DurationSeconds);
        http.Response.Cookies.Append(options.AccessTokenCookie, access, cookie);
        http.Response.Cookies.Append(options.RefreshTokenCookie, refresh, cookie);
    }

    static void Clear(HttpContext http, CookieSessionOptions options)
    {
        var cookie = Attributes(options, 0);
        cookie.Expires = DateTimeOffset.UnixEpoch;
        http.Response.Cookies.Append(options.AccessTokenCookie, "", cookie);
        http.Response.Cookies.Append(options.RefreshTokenCookie, "", cookie);
    }

    static CookieOptions Attributes(CookieSessionOptions options, int? maxAgeSeconds) => new()
    {
        HttpOnly = true,
        Secure = options.Secure,
        SameSite = SameSiteMode.Lax,
        Path = "/",
        Domain = options.Domain.Length > 0 ? options.Domain : null,
        MaxAge = maxAgeSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
    };
}
