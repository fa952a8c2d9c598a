using System.Text.Json;
using System.Text.RegularExpressions;
using AuthServer.Config;
using AuthServer.RateLimits;
using AuthServer.Http;
using AuthServer.Security;

namespace AuthServer.Features.Captcha;

/// GoTrue's captcha check (internal/api/middleware.go `verifyCaptcha`): with
/// `GOTRUE_SECURITY_CAPTCHA_ENABLED`, the body's `gotrue_meta_security.captcha_token` is sent to the
/// provider's siteverify URL; no token or a refused one → 400 `captcha_failed`; a provider that can't be
/// asked (down, slow past `GOTRUE_SECURITY_CAPTCHA_TIMEOUT`, garbage) → 500, as GoTrue. A request with an
/// admin JWT skips it. Add <see cref="CaptchaEndpoints.RequireCaptcha"/> to a route rather than calling
/// this twice: providers accept a token once.
internal sealed partial class CaptchaVerifier(CaptchaOptions options, RateLimitOptions rateLimits, AccessTokens tokens,
    JwtOptions jwt, TimeProvider clock, IHttpClientFactory httpClients)
{
    const string VerifiedKey = "authserver.captcha.verified";

    sealed record CaptchaRequest(CaptchaSecurity? GotrueMetaSecurity);
    sealed record CaptchaSecurity(string? CaptchaToken);

    public bool Enabled => options.Enabled;

    public async Task EnsureAsync(HttpContext http, CancellationToken ct)
    {
        if (!options.Enabled || http.Items.ContainsKey(VerifiedKey) || HasAdminToken(http)) return;

        // The handler reads the body again after us.
        http.Request.EnableBuffering();
        CaptchaRequest body;
        try
        {
            body = await BodyReader.ReadAsync<CaptchaRequest>(http.Request, ct);
        }
        finally
        {
            http.Request.Body.Position = 0;
        }
        var token = body.GotrueMetaSecurity?.CaptchaToken?.Trim();
        if (string.IsNullOrEmpty(token))
            throw ApiError.BadRequest(ErrorCode.CaptchaFailed, "captcha protection: request disallowed (no captcha_token found)");

        var (success, errorCodes) = await VerifyAsync(token, ClientAddress.For(http, rateLimits), ct);
        if (!success)
            throw ApiError.BadRequest(ErrorCode.CaptchaFailed,
                $"captcha protection: request disallowed ({string.Join(", ", errorCodes)})");
        http.Items[VerifiedKey] = true;
    }

    async Task<(bool Success, List<string> ErrorCodes)> VerifyAsync(string token, string clientIp, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Timeout);
        try
        {
            using var client = httpClients.CreateClient(nameof(CaptchaVerifier));
            using var response = await client.PostAsync(options.VerifyUrl, new FormUrlEncodedContent(
                [new("secret", options.Secret), new("response", token), new("remoteip", clientIp)]), timeout.Token);
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var json = await JsonDocument.ParseAsync(stream, cancellationToken: timeout.Token);
            var root = json.RootElement;
            var success = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("success", out var s)
                && s.ValueKind == JsonValueKind.True;
            var codes = new List<string>();
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error-codes", out var c) && c.ValueKind == JsonValueKind.Array)
                foreach (var code in c.EnumerateArray())
                    if (code.ValueKind == JsonValueKind.String) codes.Add(code.GetString()!);
            return (success, codes);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException
                                  || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw ApiError.Internal("captcha verification process failed", e);
        }
    }

    bool HasAdminToken(HttpContext http)
    {
        var match = Bearer().Match(http.Request.Headers.Authorization.ToString());
        return match.Success
            && tokens.TryVerify(match.Groups[1].Value, clock.GetUtcNow(), out var claims, out _, requireExp: false)
            && claims!.Role is { } role && jwt.AdminRoles.Contains(role);
    }

    [GeneratedRegex(@"^bearer (\S+)$", RegexOptions.IgnoreCase)]
    private static partial Regex Bearer();
}

internal static class CaptchaEndpoints
{
    /// Verifies the captcha before the handler runs (after the route's rate limit, as in GoTrue).
    /// <paramref name="when"/> narrows it, e.g. to `/token` grants `password` and `web3`.
    public static RouteHandlerBuilder RequireCaptcha(this RouteHandlerBuilder route, Func<HttpContext, bool>? when = null) =>
        route.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (when is null || when(http))
                await http.RequestServices.GetRequiredService<CaptchaVerifier>().EnsureAsync(http, http.RequestAborted);
            return await next(context);
        });
}
