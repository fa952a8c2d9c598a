using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Http;

namespace AuthServer.Sessions;

/// Opt-in cookie sessions (`GOTRUE_COOKIE_ENABLED`) for browser apps that never hand tokens to
/// JavaScript. GoTrue's model (internal/api/token.go `setCookieTokens`, `clearCookieTokens`): a request
/// carrying `x-use-cookie` gets `{GOTRUE_COOKIE_KEY}-access-token` and `-refresh-token` cookies on a
/// token response (value `session` = session cookies, no Max-Age); logout clears them. Unlike GoTrue,
/// which only ever wrote them, we also read them back: `AuthUser` takes the access cookie and the
/// refresh grant the refresh cookie when no bearer token / body token is given. And unlike GoTrue,
/// the JSON body then leaves the tokens out: they are in the cookies, out of JavaScript's reach.
///
/// CSRF (security review 2026-12, M-4): the cookies are `SameSite=Lax`, which does not separate
/// same-site origins (sibling subdomains, other ports) and lets top-level GET navigations through. So:
/// - a request authenticated by cookie must come from a trusted origin (Sessions/CookieOrigins), else 403
///   `cookie_origin_not_allowed`; only those origins get credentialed CORS (Http/CorsSetup);
/// - every cookie-authenticated route also needs `x-use-cookie` (a header no form or navigation can set,
///   and a cross-origin script only after a preflight), except the read-only GETs in `ReadOnlyRoutes`.
internal static class CookieSessions
{
    public const string Header = "x-use-cookie";

    /// GET routes that only read, so the access cookie alone may authenticate them. Any other
    /// cookie-authenticated route, GETs that send mail or start a flow included (`/reauthenticate`,
    /// `/user/identities/authorize`), needs `x-use-cookie`: a route added later is covered by default.
    static readonly HashSet<string> ReadOnlyRoutes = new(StringComparer.OrdinalIgnoreCase) { "/user", "/profile" };

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
        // An untrusted origin gets no cookies (the browser would refuse it the response anyway).
        if (!http.Request.Headers.ContainsKey(Header)
            || !CookieOrigins.RequestAllowed(http, http.RequestServices.GetRequiredService<ApiOptions>(), options))
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

        if (http.Response.StatusCode == StatusCodes.Status200OK && TokenResponse(http.Response, buffer) is { } session)
        {
            Set(http, options, (string)session["access_token"]!, (string)session["refresh_token"]!,
                session: http.Request.Headers[Header].ToString() == "session");
            session.Remove("access_token");
            session.Remove("refresh_token");
            var bytes = JsonSerializer.SerializeToUtf8Bytes(session);
            http.Response.ContentLength = bytes.Length;
            await original.WriteAsync(bytes, http.RequestAborted);
            return;
        }
        if (IsRefreshGrant(http.Request) && http.Response.Headers["x-sb-error-code"].ToString() is
                 "refresh_token_not_found" or "refresh_token_already_used" or "session_not_found" or "session_expired" or "user_banned")
            Clear(http, options);

        buffer.Position = 0;
        await buffer.CopyToAsync(original, http.RequestAborted);
    });

    /// The access-token cookie when no bearer token was sent: with `x-use-cookie`, or alone on a
    /// read-only GET, and from a trusted origin (see the CSRF note above).
    public static string? AccessToken(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<CookieSessionOptions>();
        if (!options.Enabled || http.Request.Cookies[options.AccessTokenCookie] is not { Length: > 0 } token) return null;
        if (!http.Request.Headers.ContainsKey(Header) && !IsReadOnlyRoute(http)) return null;
        RequireTrustedOrigin(http, options);
        return token;
    }

    /// The refresh-token cookie for `grant_type=refresh_token` (a POST, so `x-use-cookie` is required).
    public static string? RefreshToken(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<CookieSessionOptions>();
        if (!options.Enabled || !http.Request.Headers.ContainsKey(Header)) return null;
        if (http.Request.Cookies[options.RefreshTokenCookie] is not { Length: > 0 } token) return null;
        RequireTrustedOrigin(http, options);
        return token;
    }

    static bool IsReadOnlyRoute(HttpContext http) =>
        HttpMethods.IsGet(http.Request.Method)
        && http.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route } && ReadOnlyRoutes.Contains(route);

    static void RequireTrustedOrigin(HttpContext http, CookieSessionOptions options)
    {
        if (!CookieOrigins.RequestAllowed(http, http.RequestServices.GetRequiredService<ApiOptions>(), options))
            throw ApiError.Forbidden(ErrorCode.CookieOriginNotAllowed,
                "Cookie sessions are not accepted from this origin: add it to GOTRUE_COOKIE_ALLOWED_ORIGINS or GOTRUE_URI_ALLOW_LIST");
    }

    static bool IsRefreshGrant(HttpRequest request) =>
        request.Path.Equals("/token", StringComparison.OrdinalIgnoreCase) && request.Query["grant_type"] == "refresh_token";

    /// The JSON object of a token response (string `access_token` and `refresh_token`), or null.
    static JsonObject? TokenResponse(HttpResponse response, MemoryStream body)
    {
        if (!(response.ContentType ?? "").StartsWith("application/json", StringComparison.OrdinalIgnoreCase)) return null;
        try
        {
            return JsonNode.Parse(body.GetBuffer().AsMemory(0, (int)body.Length).Span) is JsonObject json
                && json["access_token"]?.GetValueKind() == JsonValueKind.String
                && json["refresh_token"]?.GetValueKind() == JsonValueKind.String
                ? json
                : null;
        }
        catch (JsonException)
        {
            return null; // not a token response
        }
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
