using System.Text.RegularExpressions;
using AuthServer.Config;

namespace AuthServer.RateLimits;

/// The per-client request limits of GoTrue's router (internal/api/api.go `limitHandler`), keyed by method and
/// path, so a route gets its bucket by existing: routes another feature adds later (`/verify`, `/otp`…) need
/// no code here. Runs before the endpoint, like GoTrue's middleware, so a refused request does no work.
/// Which client a request counts for (and whether these limits apply at all) is `ClientAddress.RequestKey`.
internal static partial class RateLimitMiddleware
{
    public static IApplicationBuilder UseRateLimits(this IApplicationBuilder app) =>
        app.Use(async (http, next) =>
        {
            var limiter = http.RequestServices.GetRequiredService<RateLimiter>();
            if (BucketFor(http.Request, limiter.Options) is { } bucket)
                await limiter.EnsureAsync(http, bucket, http.RequestAborted);
            await next(http);
        });

    /// The route table (api.md §3, config.md §8). Paths compare as routing does: case-insensitive, with or
    /// without a trailing slash, after `/auth/v1` is stripped.
    public static Bucket? BucketFor(HttpRequest request, RateLimitOptions options)
    {
        var path = (request.Path.Value ?? "").TrimEnd('/').ToLowerInvariant();
        return (request.Method, path) switch
        {
            ("POST", "/token") => request.Query["grant_type"] == "web3" ? options.Web3 : options.Token,
            ("GET" or "POST", "/verify") => options.Verify,
            // One bucket per route, each at GOTRUE_RATE_LIMIT_OTP (GoTrue builds a limiter per route).
            // /signup counts every sign-up; anonymous ones also take from the anonymous bucket in the handler.
            ("POST", "/otp") => options.OtpBucket("otp"),
            ("POST", "/magiclink") => options.OtpBucket("magiclink"),
            ("POST", "/recover") => options.OtpBucket("recover"),
            ("POST", "/resend") => options.OtpBucket("resend"),
            ("POST", "/signup") => options.OtpBucket("signup"),
            ("PUT", "/user") => options.OtpBucket("user"),
            ("POST", "/sso") => options.Sso,
            ("POST", "/passkeys/authentication/options") => options.Passkey,
            ("POST", var p) when MfaChallengeOrVerify().IsMatch(p) => options.MfaChallengeAndVerify,
            _ => null,
        };
    }

    [GeneratedRegex("^/factors/[^/]+/(challenge|verify)$")]
    private static partial Regex MfaChallengeOrVerify();
}
