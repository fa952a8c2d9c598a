using AuthServer.Config;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.Features.RateLimits;

/// Takes tokens from PostgreSQL-backed buckets. The middleware covers the routes of its table; handlers
/// call <see cref="EnsureAnonymousSignupAsync"/>, <see cref="EnsureEmailSentAsync"/> and
/// <see cref="EnsureSmsSentAsync"/> where GoTrue checks those buckets, and <see cref="TryTakeAsync"/> for
/// their own keys (e.g. per email address).
internal sealed class RateLimiter(NpgsqlDataSource db, RateLimitOptions options, TimeProvider clock)
{
    public RateLimitOptions Options => options;

    public sealed record Decision(bool Allowed, TimeSpan RetryAfter);

    /// Takes one token from <paramref name="bucket"/> under <paramref name="key"/>.
    public async Task<Decision> TryTakeAsync(Bucket bucket, string key, CancellationToken ct)
    {
        var rate = Math.Max(bucket.RefillPerSecond, 1e-9);
        await using var conn = await db.OpenConnectionAsync(ct);
        var result = await RateLimitQueries.TakeAsync(conn, $"{bucket.Name}:{key}", bucket.Capacity, rate,
            clock.GetUtcNow().UtcDateTime, ct);
        if (result.Allowed) return new Decision(true, TimeSpan.Zero);
        // Time until one whole token has refilled; a zero-capacity bucket never refills, say an hour.
        var seconds = bucket.Capacity < 1 ? 3600 : Math.Ceiling((1 - result.Tokens) / rate);
        return new Decision(false, TimeSpan.FromSeconds(Math.Clamp(seconds, 1, 86_400)));
    }

    /// Per-IP bucket for the caller: 429 `over_request_rate_limit` with Retry-After when it is empty.
    public async Task EnsureAsync(HttpContext http, Bucket bucket, CancellationToken ct)
    {
        var decision = await TryTakeAsync(bucket, ClientAddress.For(http, options), ct);
        if (!decision.Allowed)
            throw TooManyRequests(http, decision, ErrorCode.OverRequestRateLimit, "Request rate limit reached");
    }

    /// Per-account password attempts (ours, security-tests R4★; GoTrue limits only per IP, which credential
    /// stuffing from many IPs walks past). Keyed by the normalised email/phone whether or not it exists, so the
    /// 429 tells nothing about the account; taken before the check, given back by <see cref="RefundPasswordAttemptAsync"/>
    /// on success, so the owner's own sign-ins never count and an attacker can slow an account, never lock it.
    public async Task EnsurePasswordAttemptAsync(HttpContext http, string account, CancellationToken ct)
    {
        var decision = await TryTakeAsync(options.PasswordPerAccount, account, ct);
        if (!decision.Allowed)
            throw TooManyRequests(http, decision, ErrorCode.OverRequestRateLimit, "Request rate limit reached");
    }

    public async Task RefundPasswordAttemptAsync(string account, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await RateLimitQueries.RefundAsync(conn, $"{options.PasswordPerAccount.Name}:{account}", options.PasswordPerAccount.Capacity, ct);
    }

    /// GoTrue's anonymous sign-in limit (`GOTRUE_RATE_LIMIT_ANONYMOUS_USERS` per hour per IP).
    public Task EnsureAnonymousSignupAsync(HttpContext http, CancellationToken ct) =>
        EnsureAsync(http, options.Anonymous, ct);

    /// The global email budget (`GOTRUE_RATE_LIMIT_EMAIL_SENT`): call once per email actually sent
    /// (not with mailer autoconfirm), before sending. 429 `over_email_send_rate_limit` "email rate limit
    /// exceeded" (GoTrue: internal/api/mail.go `EmailRateLimitExceeded`).
    public async Task EnsureEmailSentAsync(HttpContext http, CancellationToken ct)
    {
        var decision = await TryTakeAsync(options.EmailSent, "global", ct);
        if (!decision.Allowed)
            throw TooManyRequests(http, decision, ErrorCode.OverEmailSendRateLimit, "email rate limit exceeded");
    }

    /// The global SMS budget (`GOTRUE_RATE_LIMIT_SMS_SENT`). 429 `over_sms_send_rate_limit`.
    public async Task EnsureSmsSentAsync(HttpContext http, CancellationToken ct)
    {
        var decision = await TryTakeAsync(options.SmsSent, "global", ct);
        if (!decision.Allowed)
            throw TooManyRequests(http, decision, ErrorCode.OverSmsSendRateLimit, "SMS rate limit exceeded");
    }

    /// GoTrue sends no Retry-After; we add it (RFC 9110 §10.2.3) so clients know when to come back.
    public static ApiError TooManyRequests(HttpContext http, Decision decision, string code, string message)
    {
        var seconds = (long)Math.Max(1, Math.Ceiling(decision.RetryAfter.TotalSeconds));
        http.Response.OnStarting(() =>
        {
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Task.CompletedTask;
        });
        return new ApiError(429, code, message);
    }
}
