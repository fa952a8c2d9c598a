using System.Security.Cryptography;
using System.Text;
using AuthServer.Config;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.RateLimits;

/// Takes tokens from PostgreSQL-backed buckets. The middleware covers the routes of its table; handlers
/// call <see cref="EnsureAnonymousSignupAsync"/>, <see cref="EnsureEmailSentAsync"/> and
/// <see cref="EnsureSmsSentAsync"/> where GoTrue checks those buckets, and <see cref="TryTakeAsync"/> for
/// their own keys (e.g. per email address).
internal sealed class RateLimiter(NpgsqlDataSource db, RateLimitOptions options, TimeProvider clock, ILogger<RateLimiter> log)
{
    /// How long a client that signed in to an account stays "known" to it (exempt from the failure ceiling).
    static readonly TimeSpan KnownClientFor = TimeSpan.FromDays(30);

    public RateLimitOptions Options => options;

    public sealed record Decision(bool Allowed, TimeSpan RetryAfter);

    /// Takes one token from <paramref name="bucket"/> under <paramref name="key"/>.
    public async Task<Decision> TryTakeAsync(Bucket bucket, string key, CancellationToken ct)
    {
        var rate = Math.Max(bucket.RefillPerSecond, 1e-9);
        await using var conn = await db.OpenConnectionAsync(ct);
        var result = await RateLimitQueries.TakeAsync(conn, $"{bucket.Name}:{key}", bucket.Capacity, rate,
            clock.GetUtcNow().UtcDateTime, ct);
        return result.Allowed ? new Decision(true, TimeSpan.Zero) : new Decision(false, UntilOneToken(bucket, result.Tokens));
    }

    /// The key of the per-client request limits (see <see cref="ClientAddress"/>), or null when they do not
    /// apply to this request. GoTrue logs a warning for each request whose configured header is empty; so do we.
    public string? RequestKey(HttpContext http)
    {
        var key = ClientAddress.RequestKey(http, options);
        if (key.Warning is { } warning)
            log.LogWarning("{Reason} (header {Header})", warning, options.Header ?? ClientAddress.SbForwardedForHeader);
        return key.Value;
    }

    /// The client key of our own limiters (per-account password attempts, `/dbconnections/signup`): the
    /// request key, else the socket address. They protect accounts and our own routes, not GoTrue parity,
    /// so they keep working without a header.
    public string ClientKey(HttpContext http) => RequestKey(http) ?? ClientAddress.Socket(http);

    /// A per-client request limit: 429 `over_request_rate_limit` when the caller's bucket is empty; nothing
    /// when the request has no key (GoTrue: no header configured, or an empty value).
    public async Task EnsureAsync(HttpContext http, Bucket bucket, CancellationToken ct)
    {
        if (RequestKey(http) is not { } key) return;
        var decision = await TryTakeAsync(bucket, key, ct);
        if (!decision.Allowed) throw RequestRateLimit(decision.RetryAfter);
    }

    public static ApiError RequestRateLimit(TimeSpan retryAfter) =>
        ApiError.TooManyRequests(ErrorCode.OverRequestRateLimit, "Request rate limit reached", retryAfter);

    /// One password sign-in attempt, opened by <see cref="BeginPasswordAttemptAsync"/>.
    public sealed record PasswordAttempt(string Account, string Client);

    /// Per-account password limits (ours; GoTrue limits only per client, which credential stuffing from many
    /// clients walks past). Security review M-1: a limit keyed by the account alone let anyone keep the owner
    /// out. So (OWASP ASVS 5.0 §6.3, no malicious lockout):
    /// - each (account, client) pair has its own budget (`GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT`), taken
    ///   before the check and given back on success: an attacker elsewhere cannot spend the owner's;
    /// - the failures of all clients together count against a slower ceiling per account
    ///   (`GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT`), so guesses per account stay bounded however many
    ///   clients an attacker has; past it, only a client that signed in to this account within 30 days reaches
    ///   the password check.
    /// Keyed by the normalised email/phone whether or not the account exists, so a 429 tells nothing about it.
    public async Task<PasswordAttempt> BeginPasswordAttemptAsync(HttpContext http, string account, CancellationToken ct)
    {
        var attempt = new PasswordAttempt(account, ClientKey(http));
        var ceiling = options.PasswordFailuresPerAccount;
        var now = clock.GetUtcNow().UtcDateTime;
        await using (var conn = await db.OpenConnectionAsync(ct))
        {
            var level = await RateLimitQueries.PeekAsync(conn, $"{ceiling.Name}:{account}", ceiling.Capacity,
                Math.Max(ceiling.RefillPerSecond, 1e-9), now, ct) ?? ceiling.Capacity;
            if (level < 1 && !await RateLimitQueries.IsMarkedAsync(conn, KnownClientKey(attempt), now, ct))
                throw RequestRateLimit(UntilOneToken(ceiling, level));
        }
        var decision = await TryTakeAsync(options.PasswordPerAccount, PairKey(attempt), ct);
        if (!decision.Allowed) throw RequestRateLimit(decision.RetryAfter);
        return attempt;
    }

    /// A wrong password (or no such account): one failure against the account's ceiling.
    public Task PasswordFailedAsync(PasswordAttempt attempt, CancellationToken ct) =>
        TryTakeAsync(options.PasswordFailuresPerAccount, attempt.Account, ct);

    /// The right password: the attempt is given back and the client becomes known to the account.
    public async Task PasswordSucceededAsync(PasswordAttempt attempt, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        await RateLimitQueries.RefundAsync(conn, $"{options.PasswordPerAccount.Name}:{PairKey(attempt)}",
            options.PasswordPerAccount.Capacity, ct);
        await RateLimitQueries.MarkAsync(conn, KnownClientKey(attempt), now, now + KnownClientFor, ct);
    }

    static string PairKey(PasswordAttempt attempt) => $"{attempt.Account} {attempt.Client}";

    // Hashed: the marker outlives the buckets by weeks, and needs no readable email or address in it.
    static string KnownClientKey(PasswordAttempt attempt) => "password_known:" +
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(attempt.Account + "\n" + attempt.Client)));

    /// GoTrue's anonymous sign-in limit (`GOTRUE_RATE_LIMIT_ANONYMOUS_USERS` per hour per client).
    public Task EnsureAnonymousSignupAsync(HttpContext http, CancellationToken ct) =>
        EnsureAsync(http, options.Anonymous, ct);

    /// The global email budget (`GOTRUE_RATE_LIMIT_EMAIL_SENT`): call once per email actually sent
    /// (not with mailer autoconfirm), before sending. 429 `over_email_send_rate_limit` "email rate limit
    /// exceeded" (GoTrue: internal/api/mail.go `EmailRateLimitExceeded`).
    public async Task EnsureEmailSentAsync(HttpContext http, CancellationToken ct)
    {
        var decision = await TryTakeAsync(options.EmailSent, "global", ct);
        if (!decision.Allowed)
            throw ApiError.TooManyRequests(ErrorCode.OverEmailSendRateLimit, "email rate limit exceeded", decision.RetryAfter);
    }

    /// The global SMS budget (`GOTRUE_RATE_LIMIT_SMS_SENT`). 429 `over_sms_send_rate_limit`.
    public async Task EnsureSmsSentAsync(HttpContext http, CancellationToken ct)
    {
        var decision = await TryTakeAsync(options.SmsSent, "global", ct);
        if (!decision.Allowed)
            throw ApiError.TooManyRequests(ErrorCode.OverSmsSendRateLimit, "SMS rate limit exceeded", decision.RetryAfter);
    }

    // Time until one whole token has refilled; a zero-capacity bucket never refills, say an hour.
    static TimeSpan UntilOneToken(Bucket bucket, double tokens)
    {
        var rate = Math.Max(bucket.RefillPerSecond, 1e-9);
        var seconds = bucket.Capacity < 1 ? 3600 : Math.Ceiling((1 - tokens) / rate);
        return TimeSpan.FromSeconds(Math.Clamp(seconds, 1, 86_400));
    }
}
