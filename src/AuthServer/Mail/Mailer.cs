using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.RateLimits;
using AuthServer.Http;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Mail;

/// Where links in a mail point: the validated redirect target and the base URL of the API.
internal sealed record MailLinks(string Referrer, Uri ExternalUrl);

/// The email flows of GoTrue's internal/api/mail.go (`sendConfirmation`, `sendInvite`, `sendPasswordRecovery`,
/// `sendMagicLink`, `sendReauthenticationOtp`, `sendEmailChange`): per-user throttle, a fresh OTP whose
/// SHA-224 hash (with `pkce_` for PKCE flows) replaces the previous token in `auth.users` and
/// `auth.one_time_tokens`, and the message queued in the outbox — all inside the caller's transaction,
/// on a user row the caller has locked. Callers call <see cref="Outbox.Notify"/> after committing.
/// With the Send Email hook on, each message also carries the hook's input (<see cref="SendEmailHook"/>).
internal sealed partial class Mailer(MailerOptions options, ApiOptions api, Outbox outbox, SendEmailHook hook,
    AuthOptions auth, RateLimiter limiter, IHttpContextAccessor accessor)
{
    public const string PkcePrefix = "pkce_";

    public Outbox Outbox => outbox;

    public MailLinks Links(HttpContext http) => new(Redirects.Referrer(http, api), ExternalUrl(http));

    public MailLinks Links(HttpContext http, string referrer) => new(referrer, ExternalUrl(http));

    /// API_EXTERNAL_URL, or the request's forwarded host when listed in GOTRUE_MAILER_EXTERNAL_HOSTS
    /// (https, or http only for localhost), as GoTrue's `isValidExternalHost`.
    public Uri ExternalUrl(HttpContext http)
    {
        if (options.ExternalHosts.Count > 0)
        {
            var forwarded = http.Request.Headers["X-Forwarded-Host"].ToString();
            var host = forwarded.Length > 0 ? forwarded : http.Request.Host.Host;
            var match = options.ExternalHosts.FirstOrDefault(h => string.Equals(h, host, StringComparison.OrdinalIgnoreCase));
            if (match is not null)
            {
                var proto = http.Request.Headers["X-Forwarded-Proto"].ToString();
                var scheme = match == "localhost" && (proto == "http" || (proto.Length == 0 && http.Request.Scheme == "http"))
                    ? "http" : "https";
                if (Uri.TryCreate($"{scheme}://{match}", UriKind.Absolute, out var url)) return url;
            }
        }
        return api.ExternalUrl;
    }

    /// GoTrue `validateSentWithinFrequencyLimit`: 429 until `sentAt + GOTRUE_SMTP_MAX_FREQUENCY`.
    public void EnsureFrequency(DateTime? sentAt, DateTime now)
    {
        if (sentAt is not { } sent) return;
        var allowedAt = DateTime.SpecifyKind(sent, DateTimeKind.Utc) + options.MaxFrequency;
        if (allowedAt > now)
            throw ApiError.TooManyRequests(ErrorCode.OverEmailSendRateLimit,
                $"For security purposes, you can only request this after {(int)Math.Ceiling((allowedAt - now).TotalSeconds)} seconds.",
                allowedAt - now);
    }

    /// GoTrue mail.go `checkEmailAddressAuthorization`: with GOTRUE_EXTERNAL_EMAIL_AUTHORIZED_ADDRESSES set, only
    /// those recipients (ignoring a `+label`, case-insensitively) may be sent mail; checked before anything is queued.
    public void EnsureAuthorized(string recipient)
    {
        if (options.AuthorizedAddresses.Count == 0 || recipient.Length == 0) return;
        var normalized = EmailLabel().Replace(recipient, "@");
        if (options.AuthorizedAddresses.Any(a => string.Equals(a, normalized, StringComparison.OrdinalIgnoreCase))) return;
        throw ApiError.BadRequest(ErrorCode.EmailAddressNotAuthorized,
            $"Email address \"{recipient.Replace("\\", "\\\\").Replace("\"", "\\\"")}\" cannot be used as it is not authorized");
    }

    /// GoTrue mail.go `sendEmail`: every send (one per call, even when an email change mails both addresses)
    /// takes a token from the global `GOTRUE_RATE_LIMIT_EMAIL_SENT` budget, after the address checks and before
    /// anything is queued: 429 `over_email_send_rate_limit` "email rate limit exceeded". GoTrue skips the budget
    /// with mailer autoconfirm on (its "TODO(km)"), except that a budget of zero refuses every send.
    public async Task SpendBudgetAsync(CancellationToken ct)
    {
        if (auth.MailerAutoconfirm && limiter.Options.EmailSent.Capacity > 0) return;
        var http = accessor.HttpContext
            ?? throw new InvalidOperationException("Mail is only sent while handling a request");
        await limiter.EnsureEmailSentAsync(http, ct);
    }

    /// The budget for mail that must not fail its request (notifications): false instead of a 429.
    public async Task<bool> TrySpendBudgetAsync(CancellationToken ct)
    {
        if (auth.MailerAutoconfirm && limiter.Options.EmailSent.Capacity > 0) return true;
        return (await limiter.TryTakeAsync(limiter.Options.EmailSent, "global", ct)).Allowed;
    }

    [GeneratedRegex("[+][^@]+@")]
    private static partial Regex EmailLabel();

    public async Task SendConfirmationAsync(NpgsqlConnection conn, UserRow user, bool pkce, MailLinks links, DateTime now,
        CancellationToken ct)
    {
        EnsureFrequency(user.ConfirmationSentAt, now);
        var email = user.Email!;
        EnsureAuthorized(email);
        await SpendBudgetAsync(ct);
        var otp = TokenHashes.NewOtp(options.OtpLength);
        var token = Prefix(TokenHashes.Of(email, otp), pkce);
        await MailQueries.SetConfirmationTokenAsync(conn, user.Id, token, email, invited: false, now, ct);
        await EnqueueAsync(conn, "confirmation", email, user, otp, token, "signup", options.ConfirmationPath, links, now, ct,
            await hook.PayloadAsync(conn, user.Id, "signup", links, ct, otp, token));
    }

    /// No throttle: an admin may re-invite at will (GoTrue `sendInvite`).
    public async Task<string> SendInviteAsync(NpgsqlConnection conn, UserRow user, MailLinks links, DateTime now, CancellationToken ct)
    {
        var email = user.Email!;
        EnsureAuthorized(email);
        await SpendBudgetAsync(ct);
        var otp = TokenHashes.NewOtp(options.OtpLength);
        var token = TokenHashes.Of(email, otp);
        await MailQueries.SetConfirmationTokenAsync(conn, user.Id, token, email, invited: true, now, ct);
        await EnqueueAsync(conn, "invite", email, user, otp, token, "invite", options.InvitePath, links, now, ct,
            await hook.PayloadAsync(conn, user.Id, "invite", links, ct, otp, token));
        return token;
    }

    /// Recovery and magic link share `recovery_token` and its `recovery_sent_at` throttle.
    public async Task SendRecoveryAsync(NpgsqlConnection conn, UserRow user, bool magicLink, bool pkce, MailLinks links,
        DateTime now, CancellationToken ct)
    {
        EnsureFrequency(user.RecoverySentAt, now);
        var email = user.Email!;
        EnsureAuthorized(email);
        await SpendBudgetAsync(ct);
        var otp = TokenHashes.NewOtp(options.OtpLength);
        var token = Prefix(TokenHashes.Of(email, otp), pkce);
        await MailQueries.SetRecoveryTokenAsync(conn, user.Id, token, email, now, ct);
        var type = magicLink ? "magiclink" : "recovery";
        await EnqueueAsync(conn, magicLink ? "magic_link" : "recovery", email, user, otp, token, type, options.RecoveryPath,
            links, now, ct, await hook.PayloadAsync(conn, user.Id, type, links, ct, otp, token));
    }

    /// <paramref name="links"/> only matter to the Send Email hook (`redirect_to`, `site_url`); default: the configured ones.
    public async Task SendReauthenticationAsync(NpgsqlConnection conn, UserRow user, DateTime now, CancellationToken ct,
        MailLinks? links = null)
    {
        EnsureFrequency(user.ReauthenticationSentAt, now);
        var email = user.Email!;
        EnsureAuthorized(email);
        await SpendBudgetAsync(ct);
        var otp = TokenHashes.NewOtp(options.OtpLength);
        var token = TokenHashes.Of(email, otp);
        await MailQueries.SetReauthenticationTokenAsync(conn, user.Id, token, email, now, ct);
        var data = new JsonObject
        {
            ["SiteURL"] = api.SiteUrl,
            ["Email"] = email,
            ["Token"] = otp,
            ["Data"] = user.UserMetadata,
        };
        await outbox.EnqueueAsync(conn, "reauthentication", email, data, now, ct,
            await hook.PayloadAsync(conn, user.Id, "reauthentication", links ?? new MailLinks(api.SiteUrl, api.ExternalUrl), ct,
                otp, token));
    }

    /// Ours (docs/beyond-gotrue.md "Database connections"): a connection's `welcome_email_enabled` greets each new user.
    /// No token and no throttle: it is sent once, when the user is created.
    public async Task SendWelcomeAsync(NpgsqlConnection conn, UserRow user, MailLinks links, DateTime now, CancellationToken ct)
    {
        EnsureAuthorized(user.Email!);
        await SpendBudgetAsync(ct);
        var data = new JsonObject
        {
            ["SiteURL"] = api.SiteUrl,
            ["Email"] = user.Email ?? "",
            ["Data"] = user.UserMetadata,
            ["RedirectTo"] = links.Referrer,
        };
        // The hook is told `email_action_type: "welcome"` (ours; GoTrue has no welcome mail).
        await outbox.EnqueueAsync(conn, "welcome", user.Email!, data, now, ct,
            await hook.PayloadAsync(conn, user.Id, "welcome", links, ct));
    }

    /// A link to the new address, and with secure email change a second one to the current address.
    public async Task SendEmailChangeAsync(NpgsqlConnection conn, UserRow user, string newEmail, bool pkce, MailLinks links,
        DateTime now, CancellationToken ct)
    {
        EnsureFrequency(user.EmailChangeSentAt, now);
        // GoTrue: the new address must be authorized, and with secure change the current one too.
        EnsureAuthorized(newEmail);
        if (options.SecureEmailChangeEnabled) EnsureAuthorized(user.Email ?? "");
        await SpendBudgetAsync(ct);
        var otpNew = TokenHashes.NewOtp(options.OtpLength);
        var tokenNew = Prefix(TokenHashes.Of(newEmail, otpNew), pkce);
        string? otpCurrent = null, tokenCurrent = null;
        var current = user.Email ?? "";
        if (options.SecureEmailChangeEnabled && current.Length > 0)
        {
            otpCurrent = TokenHashes.NewOtp(options.OtpLength);
            tokenCurrent = Prefix(TokenHashes.Of(current, otpCurrent), pkce);
        }
        await MailQueries.SetEmailChangeAsync(conn, user.Id, newEmail, tokenNew, current, tokenCurrent, now, ct);
        if (hook.Enabled)
        {
            // GoTrue makes one hook call carrying both codes. Its pairing is crossed (mail.go, "BUG(cstockton)"):
            // `token` is the current address's OTP, `token_hash` the new address's hash, `token_new` the new
            // address's OTP and `token_hash_new` the current address's hash. Hook consumers rely on it, so we keep it.
            var payload = otpCurrent is not null
                ? await hook.PayloadAsync(conn, user.Id, "email_change", links, ct, otpCurrent, tokenNew, otpNew, tokenCurrent!)
                : await hook.PayloadAsync(conn, user.Id, "email_change", links, ct, otpNew, tokenNew);
            await EnqueueAsync(conn, "email_change", newEmail, user, otpNew, tokenNew, "email_change", options.EmailChangePath,
                links, now, ct, payload, newEmail);
            return;
        }
        await EnqueueAsync(conn, "email_change", newEmail, user, otpNew, tokenNew, "email_change", options.EmailChangePath,
            links, now, ct, null, newEmail);
        if (otpCurrent is not null)
            await EnqueueAsync(conn, "email_change", current, user, otpCurrent, tokenCurrent!, "email_change",
                options.EmailChangePath, links, now, ct, null, newEmail);
    }

    async Task EnqueueAsync(NpgsqlConnection conn, string kind, string to, UserRow user, string otp, string token,
        string verifyType, string path, MailLinks links, DateTime now, CancellationToken ct, JsonObject? hookPayload,
        string? newEmail = null)
    {
        var data = new JsonObject
        {
            ["SiteURL"] = api.SiteUrl,
            ["ConfirmationURL"] = ActionLink(links.ExternalUrl, path, token, verifyType, links.Referrer),
            ["Email"] = user.Email ?? "",
            ["Token"] = otp,
            ["TokenHash"] = token,
            ["Data"] = user.UserMetadata,
            ["RedirectTo"] = links.Referrer,
        };
        if (newEmail is not null)
        {
            data["NewEmail"] = newEmail;
            data["SendingTo"] = to;
        }
        await outbox.EnqueueAsync(conn, kind, to, data, now, ct, hookPayload);
    }

    /// GoTrue templatemailer `getPath` + `URL.ResolveReference`: `<path>?token=…&type=…&redirect_to=…`, the
    /// redirect escaped only when it contains `&`, `=` or `#`, the path's own query appended.
    public static string ActionLink(Uri externalUrl, string path, string token, string type, string referrer)
    {
        var parts = path.Split('?', 2);
        var redirect = referrer.AsSpan().IndexOfAny("&=#") >= 0 ? QueryEscape(referrer) : referrer;
        var query = $"token={QueryEscape(token)}&type={QueryEscape(type)}&redirect_to={redirect}";
        if (parts.Length == 2 && parts[1].Length > 0) query += "&" + parts[1];
        var resolved = new Uri(externalUrl, parts[0]);
        return resolved.GetLeftPart(UriPartial.Path) + "?" + query;
    }

    public string ActionLink(MailLinks links, string type, string token) => ActionLink(links.ExternalUrl, type switch
    {
        "signup" => options.ConfirmationPath,
        "invite" => options.InvitePath,
        "email_change" => options.EmailChangePath,
        _ => options.RecoveryPath,
    }, token, type, links.Referrer);

    /// Go `url.QueryEscape`.
    public static string QueryEscape(string value) => Uri.EscapeDataString(value).Replace("%20", "+");

    static string Prefix(string hash, bool pkce) => pkce ? PkcePrefix + hash : hash;
}
