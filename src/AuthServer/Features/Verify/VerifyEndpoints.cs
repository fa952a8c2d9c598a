using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;

namespace AuthServer.Features.Verify;

/// `POST /verify` (OTP or token hash → session) and `GET /verify` (the link in the mail → 303 redirect),
/// api.md §3 and GoTrue internal/api/verify.go.
internal static class VerifyEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapPost("/verify", VerifyPostAsync);
        app.MapGet("/verify", VerifyGetAsync);
    }

    /// Wrong codes allowed per code before it is void (ours; GoTrue has no cap). SMS and reauthentication
    /// codes, which have no link, are voided at this count; an email code only closes to the client (below).
    public const int MaxFailures = 5;

    /// Email codes (review M-2): a wrong code never voids the token, because the mailed link carries the
    /// same token and anyone who knows the address could otherwise void it. The code path closes for one
    /// client key after <see cref="MaxFailures"/> wrong codes, and for every client after this many in
    /// total, so at most 10 of the 10^6 codes are ever tried per mailed code. The link keeps working.
    public const int MaxEmailCodeFailuresTotal = 10;

    const string FirstLinkAccepted = "Confirmation link accepted. Please proceed to confirm link sent to the other email";

    internal sealed record VerifyRequest(string? Type, string? Token, string? TokenHash, string? Email, string? Phone,
        string? RedirectTo);

    /// What a verification did: the user to sign in, or null when only the first of two email-change links was used.
    sealed record Outcome(UserRow? User, string Type);

    static async Task<IResult> VerifyPostAsync(HttpContext http, NpgsqlDataSource db, MailerOptions options, JwtOptions jwt,
        SessionIssuer sessions, Passwords passwords, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<VerifyRequest>(http.Request, ct);
        var type = body.Type ?? "";
        if (type.Length == 0) throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Verify requires a verification type");
        var token = (body.Token ?? "").Replace("-", "");
        var tokenHash = body.TokenHash ?? "";
        var email = body.Email ?? "";
        var phone = body.Phone ?? "";
        if (token.Length > 0 && tokenHash.Length == 0)
        {
            if ((email.Length == 0) == (phone.Length == 0))
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only an email address or phone number should be provided on verify");
        }
        else if (token.Length == 0 && tokenHash.Length > 0)
        {
            if (email.Length > 0 || phone.Length > 0 || !string.IsNullOrEmpty(body.RedirectTo))
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only the token_hash and type should be provided");
        }
        else throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Verify requires either a token or a token hash");
        if (token.Length > 0 && (phone.Length > 0 || type is "sms" or "phone_change"))
            return await PhoneVerify.VerifyAsync(http, type, phone, token, ct);
        if (type is "sms" or "phone_change")
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Unsupported verification type"); // SMS codes have no link
        if (type is not ("signup" or "invite" or "recovery" or "magiclink" or "email_change" or "email"))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Unsupported verification type");

        var now = clock.GetUtcNow().UtcDateTime;
        var aud = SignupEndpoints.RequestAudience(http, jwt);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        UserRow user;
        string matched;
        if (tokenHash.Length > 0)
        {
            (user, matched, type) = await ByTokenHashAsync(conn, type, tokenHash, options, now, ct);
        }
        else
        {
            string normalized;
            try { normalized = Identifiers.ValidateEmail(email); }
            catch (ApiError) { throw ApiError.Unprocessable(ErrorCode.ValidationFailed, "Invalid email format"); }
            var hash = TokenHashes.Of(normalized, token);
            Guid? userId = type == "email_change"
                ? await VerifyQueries.FindUserForEmailChangeAsync(conn, normalized, hash, aud, options.SecureEmailChangeEnabled, ct)
                : (await UserQueries.FindByEmailAsync(conn, normalized, aud, ct))?.Id;
            var locked = userId is { } id ? await MailQueries.LockUserAsync(conn, id, ct) : null;
            if (locked is null) throw Invalid();
            if (locked.IsBanned(clock.GetUtcNow())) throw ApiError.Forbidden(ErrorCode.UserBanned, "User is banned");
            var tokens = await VerifyQueries.LoadTokensAsync(conn, locked.Id, ct);
            var clientKey = ClientInfo.Ip(http);
            var candidates = Candidates(type, locked, tokens).Where(c => !string.IsNullOrEmpty(c.Stored)).ToList();
            var closed = await VerifyQueries.ClosedCodesAsync(conn, candidates.Select(c => c.Stored!).ToArray(), clientKey,
                MaxFailures, MaxEmailCodeFailuresTotal, ct);
            candidates.RemoveAll(c => closed.Contains(c.Stored!));
            var hit = candidates.FirstOrDefault(c => Matches(c.Stored, hash) && !Expired(c.SentAt, options, now));
            if (hit is null)
            {
                // Count the wrong code against the live codes of the type it names (`email`: confirmation and
                // recovery, as GoTrue tries both), and keep the count. Nothing is voided (review M-2).
                var live = candidates.Select(c => c.Stored!).Distinct().ToArray();
                if (live.Length > 0)
                {
                    await VerifyQueries.CountCodeFailureAsync(conn, locked.Id, live, clientKey, now, ct);
                    await tx.CommitAsync(ct);
                }
                throw Invalid();
            }
            (user, matched, type) = (locked, hit.Stored!, hit.Type);
        }

        var outcome = await ApplyAsync(conn, user, type, matched, options, passwords, now, ClientInfo.Ip(http), ct,
            http.RequestServices.GetRequiredService<Notifications>());
        if (outcome.User is null)
        {
            await tx.CommitAsync(ct);
            return Results.Json(new JsonObject { ["msg"] = FirstLinkAccepted, ["code"] = "200" });
        }
        var session = await sessions.StartAsync(conn, user.Id, "otp", http, now, ct);
        await tx.CommitAsync(ct);
        return Results.Json(session, Json.Options);
    }

    static async Task<IResult> VerifyGetAsync(HttpContext http, NpgsqlDataSource db, MailerOptions options, ApiOptions api,
        SessionIssuer sessions, Passwords passwords, TimeProvider clock, CancellationToken ct)
    {
        var token = http.Request.Query["token"].ToString();
        var type = http.Request.Query["type"].ToString();
        if (type.Length == 0) throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Verify requires a verification type");
        if (token.Length == 0) throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Verify requires either a token or a token hash");
        var redirect = Redirects.Referrer(http, api);
        var pkce = token.StartsWith(Mailer.PkcePrefix, StringComparison.Ordinal);
        var now = clock.GetUtcNow().UtcDateTime;

        try
        {
            if (type is not ("signup" or "invite" or "recovery" or "magiclink" or "email_change" or "email"))
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Unsupported verification type");
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            var (user, matched, resolved) = await ByTokenHashAsync(conn, type, token, options, now, ct);
            var outcome = await ApplyAsync(conn, user, resolved, matched, options, passwords, now, ClientInfo.Ip(http), ct,
                http.RequestServices.GetRequiredService<Notifications>());
            if (outcome.User is null)
            {
                await tx.CommitAsync(ct);
                return See(MessageRedirect(redirect, FirstLinkAccepted, pkce));
            }
            if (pkce)
            {
                var method = resolved switch { "signup" => "email/signup", var t => t };
                var code = await FlowStates.IssueAuthCodeAsync(conn, user.Id, method, now, ct)
                    ?? throw ApiError.BadRequest(ErrorCode.FlowStateNotFound, "No associated flow state found. No valid flow state found for user.");
                await tx.CommitAsync(ct);
                return See(WithQuery(redirect, [("code", code)]));
            }
            var session = await sessions.StartAsync(conn, user.Id, "otp", http, now, ct);
            await tx.CommitAsync(ct);
            var fragment = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["access_token"] = (string)session["access_token"]!,
                ["expires_at"] = ((long)session["expires_at"]!).ToString(),
                ["expires_in"] = ((long)session["expires_in"]!).ToString(),
                ["refresh_token"] = (string)session["refresh_token"]!,
                ["sb"] = "",
                ["token_type"] = "bearer",
                ["type"] = resolved,
            };
            return See(StripFragment(redirect) + "#" + Encode(fragment));
        }
        catch (ApiError e)
        {
            return See(ErrorRedirect(redirect, e, pkce));
        }
    }

    /// A link's token: looked up in one_time_tokens, then checked against the locked user's column and expiry.
    static async Task<(UserRow User, string Matched, string Type)> ByTokenHashAsync(NpgsqlConnection conn, string type,
        string tokenHash, MailerOptions options, DateTime now, CancellationToken ct)
    {
        string[] types = type switch
        {
            "signup" or "invite" => ["confirmation_token"],
            "recovery" or "magiclink" => ["recovery_token"],
            "email_change" => ["email_change_token_new", "email_change_token_current"],
            _ => ["confirmation_token", "recovery_token"],
        };
        var userId = await VerifyQueries.FindUserByTokenHashAsync(conn, tokenHash, types, ct);
        var user = userId is { } id ? await MailQueries.LockUserAsync(conn, id, ct) : null;
        if (user is null) throw LinkInvalid();
        if (user.IsBanned(new DateTimeOffset(now))) throw ApiError.Forbidden(ErrorCode.UserBanned, "User is banned");
        var tokens = await VerifyQueries.LoadTokensAsync(conn, user.Id, ct);
        var hit = Candidates(type, user, tokens).FirstOrDefault(c =>
            c.Stored is { Length: > 0 } stored && Secrets.FixedTimeEquals(stored, tokenHash));
        if (hit is null || Expired(hit.SentAt, options, now)) throw LinkInvalid();
        return (user, hit.Stored!, hit.Type);
    }

    sealed record Candidate(string Type, string? Stored, DateTime? SentAt);

    /// The stored tokens a verification type may match, in GoTrue's order (`email`: confirmation, then recovery).
    static List<Candidate> Candidates(string type, UserRow user, VerifyQueries.Tokens tokens) => type switch
    {
        "signup" or "invite" => [new(type, tokens.ConfirmationToken, user.ConfirmationSentAt)],
        "recovery" or "magiclink" => [new(type, tokens.RecoveryToken, user.RecoverySentAt)],
        "email_change" =>
        [
            new(type, tokens.EmailChangeTokenNew, user.EmailChangeSentAt),
            new(type, tokens.EmailChangeTokenCurrent, user.EmailChangeSentAt),
        ],
        _ => [new("signup", tokens.ConfirmationToken, user.ConfirmationSentAt), new("magiclink", tokens.RecoveryToken, user.RecoverySentAt)],
    };

    /// GoTrue `isOtpValid`: the stored value is the hash, or the hash with the PKCE prefix.
    static bool Matches(string? stored, string hash) =>
        !string.IsNullOrEmpty(stored) &&
        (Secrets.FixedTimeEquals(stored, hash) || Secrets.FixedTimeEquals(stored, Mailer.PkcePrefix + hash));

    static bool Expired(DateTime? sentAt, MailerOptions options, DateTime now) =>
        sentAt is not { } sent || now > DateTime.SpecifyKind(sent, DateTimeKind.Utc) + options.OtpExpiry;

    static async Task<Outcome> ApplyAsync(NpgsqlConnection conn, UserRow user, string type, string matched,
        MailerOptions options, Passwords passwords, DateTime now, string ip, CancellationToken ct, Notifications notifications)
    {
        switch (type)
        {
            case "signup" or "invite":
                if (string.IsNullOrEmpty(user.EncryptedPassword) && user.InvitedAt is not null)
                    // An invited user gets a random password; the app asks them to set their own (GoTrue `signupVerify`).
                    await VerifyQueries.SetPasswordAsync(conn, user.Id, await passwords.HashAsync(Secrets.NewToken(), ct), now, ct);
                await AuditLog.WriteAsync(conn, user, AuditAction.UserSignedUp, ip, now, ct);
                await VerifyQueries.ConfirmEmailAsync(conn, user.Id, now, ct, markIdentities: true);
                break;
            case "recovery" or "magiclink":
                await VerifyQueries.ClearRecoveryAsync(conn, user.Id, now, ct);
                if (user.EmailConfirmedAt is null)
                {
                    await AuditLog.WriteAsync(conn, user, AuditAction.UserSignedUp, ip, now, ct);
                    // GoTrue `recoverVerify`: `User.Confirm` only, the identities' email_verified stays as it was.
                    await VerifyQueries.ConfirmEmailAsync(conn, user.Id, now, ct, markIdentities: false);
                    // Ours (M-5, docs/differences.md): the owner proved the mailbox, not the
                    // password someone set at sign-up before them (pre-account takeover); it goes, as on the
                    // OAuth path. The owner sets one with PUT /user.
                    await VerifyQueries.ClearPasswordAsync(conn, user.Id, now, ct);
                }
                else await AuditLog.WriteAsync(conn, user, AuditAction.Login, ip, now, ct);
                break;
            case "email_change":
                {
                    var tokens = await VerifyQueries.LoadTokensAsync(conn, user.Id, ct);
                    if (options.SecureEmailChangeEnabled && tokens.EmailChangeConfirmStatus == 0 && !string.IsNullOrEmpty(user.Email))
                    {
                        await VerifyQueries.AcceptFirstEmailChangeLinkAsync(conn, user.Id,
                            current: matched == tokens.EmailChangeTokenCurrent, now, ct);
                        return new Outcome(null, type);
                    }
                    await AuditLog.WriteAsync(conn, user, AuditAction.UserModified, ip, now, ct);
                    await VerifyQueries.ApplyEmailChangeAsync(conn, user.Id, user.EmailChange!, now, ct);
                    await notifications.EmailChangedAsync(conn, user.Id, user.Email ?? "", ct);
                    break;
                }
        }
        await VerifyQueries.ClearOneTimeTokensAsync(conn, user.Id, ct);
        return new Outcome(user, type);
    }

    static ApiError Invalid() => ApiError.Forbidden(ErrorCode.OtpExpired, "Token has expired or is invalid");
    static ApiError LinkInvalid() => ApiError.Forbidden(ErrorCode.OtpExpired, "Email link is invalid or has expired");

    static IResult See(string url) => new SeeOther(url);

    sealed class SeeOther(string url) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.StatusCode = StatusCodes.Status303SeeOther;
            http.Response.Headers.Location = url;
            return Task.CompletedTask;
        }
    }

    /// api.md §1.5: error params in the fragment (and the query for PKCE); `error` from the HTTP status.
    static string ErrorRedirect(string redirect, ApiError e, bool pkce)
    {
        var values = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["error_code"] = e.Code,
            ["error_description"] = e.Message,
            ["sb"] = "",
        };
        var error = e.Status switch
        {
            400 => "invalid_request",
            401 => "unauthorized_client",
            403 => "access_denied",
            500 => "server_error",
            503 => "temporarily_unavailable",
            _ => null,
        };
        if (error is not null) values["error"] = error;
        var encoded = Encode(values);
        var baseUrl = StripFragment(redirect).Split('?', 2)[0];
        return pkce ? $"{baseUrl}?{encoded}#{encoded}" : $"{baseUrl}#{encoded}";
    }

    static string MessageRedirect(string redirect, string message, bool pkce)
    {
        var target = pkce ? WithQuery(redirect, [("message", message)]) : StripFragment(redirect);
        return target + "#message=" + Mailer.QueryEscape(message) + "&sb=";
    }

    /// Go `url.Values` semantics: the value replaces any existing one and the query is re-encoded sorted.
    static string WithQuery(string url, (string Key, string Value)[] add)
    {
        var noFragment = StripFragment(url);
        var parts = noFragment.Split('?', 2);
        var values = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        if (parts.Length == 2)
            foreach (var pair in parts[1].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                var key = Uri.UnescapeDataString(kv[0].Replace('+', ' '));
                var value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : "";
                if (!values.TryGetValue(key, out var list)) values[key] = list = [];
                list.Add(value);
            }
        foreach (var (key, value) in add) values[key] = [value];
        var query = string.Join('&', values.SelectMany(kv => kv.Value.Select(v => Mailer.QueryEscape(kv.Key) + "=" + Mailer.QueryEscape(v))));
        return parts[0] + "?" + query;
    }

    static string StripFragment(string url) => url.Split('#', 2)[0];

    static string Encode(SortedDictionary<string, string> values) =>
        string.Join('&', values.Select(kv => Mailer.QueryEscape(kv.Key) + "=" + Mailer.QueryEscape(kv.Value)));
}
