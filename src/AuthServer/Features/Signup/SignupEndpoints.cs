using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Captcha;
using AuthServer.RateLimits;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using AuthServer.Sessions;
using AuthServer.Features.Phone;
using AuthServer.Sms;
using Npgsql;

namespace AuthServer.Features.Signup;

/// `POST /signup` (api.md §3 POST /signup): email or phone + password, or anonymous with neither.
internal static class SignupEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app) => app.MapPost("/signup", SignupAsync).RequireCaptcha();

    internal sealed record SignupRequest(string? Email, string? Phone, string? Password, JsonObject? Data, string? Channel,
        string? CodeChallenge, string? CodeChallengeMethod);

    static async Task<IResult> SignupAsync(HttpContext http, NpgsqlDataSource db, AuthOptions auth, JwtOptions jwt,
        Passwords passwords, SessionIssuer sessions, Mailer mailer, SmsSender sms, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<SignupRequest>(http.Request, ct);
        var now = clock.GetUtcNow().UtcDateTime;
        var aud = RequestAudience(http, jwt);

        if (string.IsNullOrEmpty(body.Email) && string.IsNullOrEmpty(body.Phone))
            return await AnonymousSignupAsync(http, body, db, auth, jwt, sessions, now, aud, ct);

        if (auth.DisableSignup)
            throw ApiError.Unprocessable(ErrorCode.SignupDisabled, "Signups not allowed for this instance");
        if (string.IsNullOrEmpty(body.Password))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Signup requires a valid password");
        await passwords.EnsureAcceptableAsync(body.Password, ct);
        if (!string.IsNullOrEmpty(body.Email) && !string.IsNullOrEmpty(body.Phone))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed,
                "Only an email address or phone number should be provided on signup.");
        if (body.Channel is not (null or "" or "sms" or "whatsapp"))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Invalid channel: " + body.Channel);

        var provider = string.IsNullOrEmpty(body.Email) ? "phone" : "email";
        if (provider == "phone" && !string.IsNullOrEmpty(body.CodeChallenge))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "PKCE not supported for phone signups");
        var pkce = PkceParams.From(body.CodeChallenge, body.CodeChallengeMethod);
        string? email = null, phone = null;
        if (provider == "email")
        {
            if (!auth.EmailEnabled) throw ApiError.BadRequest(ErrorCode.EmailProviderDisabled, "Email signups are disabled");
            email = Identifiers.ValidateEmail(body.Email!);
        }
        else
        {
            if (!auth.PhoneEnabled) throw ApiError.BadRequest(ErrorCode.PhoneProviderDisabled, "Phone signups are disabled");
            phone = Identifiers.ValidatePhone(body.Phone!);
            sms.EnsureValidChannel(string.IsNullOrEmpty(body.Channel) ? "sms" : body.Channel);
        }

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var existing = email is not null
            ? await UserQueries.FindByEmailAsync(conn, email, aud, ct)
            : await UserQueries.FindByPhoneAsync(conn, phone!, aud, ct);
        var autoconfirm = provider == "email" ? auth.MailerAutoconfirm : auth.SmsAutoconfirm;
        var ip = ClientInfo.Ip(http);

        Guid userId;
        if (existing is not null)
        {
            var confirmed = provider == "email" ? existing.EmailConfirmedAt is not null : existing.PhoneConfirmedAt is not null;
            if (confirmed)
            {
                // GoTrue audits the repeated sign-up either way, then answers by autoconfirm.
                await AuditLog.WriteAsync(conn, existing, AuditAction.UserRepeatedSignup, ip, now, ct,
                    new JsonObject { ["provider"] = provider });
                await tx.CommitAsync(ct);
                if (auth.MailerAutoconfirm || auth.SmsAutoconfirm)
                    throw ApiError.Unprocessable(ErrorCode.UserAlreadyExists, "User already registered");
                // Enumeration protection: answer like a fresh sign-up, with a user that does not exist.
                return Results.Json(FakeUser(email, phone, aud, provider, body.Data, now), Json.Options);
            }
            // Unconfirmed: the user is not modified, since nobody has proven they own it yet.
            userId = existing.Id;
            if (autoconfirm && !await ProvesOwnershipAsync(http, existing, body.Password, email ?? phone!, passwords, ct))
            {
                // Ours (H-1, docs/differences.md): GoTrue confirms the account and hands out a
                // session here with no credential check, which takes over invited and admin-created users.
                // Answer as for a confirmed account instead (autoconfirm is on, so GoTrue's answer is the 422).
                await AuditLog.WriteAsync(conn, existing, AuditAction.UserRepeatedSignup, ip, now, ct,
                    new JsonObject { ["provider"] = provider });
                await tx.CommitAsync(ct);
                throw ApiError.Unprocessable(ErrorCode.UserAlreadyExists, "User already registered");
            }
        }
        else
        {
            var hash = await passwords.HashAsync(body.Password, ct);
            userId = Guid.NewGuid();
            await Hooks.UserCreation.BeforeAsync(http, userId, aud, email, phone, provider, body.Data, ct);
            try
            {
                await SignupQueries.CreateUserAsync(conn, userId, aud, jwt.DefaultGroupName, email, phone, hash, provider,
                    body.Data ?? [], now, ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                // A concurrent sign-up of the same address won the race: answer as for an existing user.
                throw ApiError.Unprocessable(ErrorCode.UserAlreadyExists, "User already registered");
            }
        }

        if (provider == "phone" && !autoconfirm)
            // The confirmation SMS: sent with no transaction open (Features/Phone/PhoneFlows).
            return Results.Json(await PhoneFlows.SendSignupConfirmationAsync(http, conn, tx, userId, existing is null, phone!,
                string.IsNullOrEmpty(body.Channel) ? "sms" : body.Channel, sms, now, ct), Json.Options);

        var audited = (await UserQueries.FindWithIdentitiesAsync(conn, userId, ct))!.Value.User;
        // GoTrue signup.go: `user_signedup` when the user is confirmed here, else `user_confirmation_requested`.
        await AuditLog.WriteAsync(conn, audited, autoconfirm ? AuditAction.UserSignedUp : AuditAction.UserConfirmationRequested,
            ip, now, ct, new JsonObject { ["provider"] = provider });
        if (autoconfirm)
        {
            await SignupQueries.ConfirmAsync(conn, userId, provider, now, ct);
            var session = await sessions.StartAsync(conn, userId, "password", http, now, ct, provider: provider);
            await tx.CommitAsync(ct);
            return Results.Json(session, Json.Options);
        }

        if (provider == "email")
        {
            // GoTrue signup.go: audit (above), PKCE flow, then the confirmation mail (queued in this transaction).
            var locked = (await MailQueries.LockUserAsync(conn, userId, ct))!;
            if (pkce is not null) await FlowStates.CreateAsync(conn, userId, pkce, "email", "email/signup", now, ct);
            await mailer.SendConfirmationAsync(conn, locked, pkce is not null, mailer.Links(http), now, ct);
            var created = (await UserQueries.FindWithIdentitiesAsync(conn, userId, ct))!.Value;
            await tx.CommitAsync(ct);
            mailer.Outbox.Notify();
            var json = UserJson.From(created.User, created.Identities);
            if (created.User.InvitedAt is not null)
            {
                // GoTrue signup.go `HasBeenInvited`: an invited user's data is the inviter's, not the caller's to see.
                json["user_metadata"] = new JsonObject();
                json["identities"] = new JsonArray();
            }
            return Results.Json(json, Json.Options);
        }

        throw new InvalidOperationException("unreachable: phone sign-ups without autoconfirm return above");
    }

    static async Task<IResult> AnonymousSignupAsync(HttpContext http, SignupRequest body, NpgsqlDataSource db,
        AuthOptions auth, JwtOptions jwt, SessionIssuer sessions, DateTime now, string aud, CancellationToken ct)
    {
        if (!auth.AnonymousEnabled)
            throw ApiError.Unprocessable(ErrorCode.AnonymousProviderDisabled, "Anonymous sign-ins are disabled");
        if (auth.DisableSignup)
            throw ApiError.Unprocessable(ErrorCode.SignupDisabled, "Signups not allowed for this instance");
        // GoTrue: internal/api/api.go checks the anonymous limit only once anonymous sign-ins are allowed.
        await http.RequestServices.GetRequiredService<RateLimiter>().EnsureAnonymousSignupAsync(http, ct);

        var userId = Guid.NewGuid();
        await Hooks.UserCreation.BeforeAsync(http, userId, aud, null, null, "anonymous", body.Data, ct);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var created = await SignupQueries.CreateAnonymousUserAsync(conn, userId, aud, jwt.DefaultGroupName, body.Data ?? [], now,
            ClientInfo.Ip(http), ct);
        var session = await sessions.StartAsync(conn, userId, "anonymous", http, now, ct, provider: "anonymous", auditAs: created);
        await tx.CommitAsync(ct);
        return Results.Json(session, Json.Options);
    }

    /// Autoconfirm may confirm an existing unconfirmed account only for whoever set its password: never an
    /// invited user, and only when the submitted password verifies against the stored hash. The check counts
    /// against the per-account password limit, so this is no guessing oracle beside `/token`.
    static async Task<bool> ProvesOwnershipAsync(HttpContext http, UserRow existing, string password, string account,
        Passwords passwords, CancellationToken ct)
    {
        if (existing.InvitedAt is not null || string.IsNullOrEmpty(existing.EncryptedPassword)) return false;
        var limiter = http.RequestServices.GetRequiredService<RateLimiter>();
        var attempt = await limiter.BeginPasswordAttemptAsync(http, account, ct);
        var hash = http.RequestServices.GetRequiredService<ColumnEncryption>().Reveal(existing.EncryptedPassword, existing.Id);
        var verified = await passwords.VerifyAsync(password, hash, ct);
        await (verified ? limiter.PasswordSucceededAsync(attempt, ct) : limiter.PasswordFailedAsync(attempt, ct));
        return verified;
    }

    /// `X-JWT-AUD` if sent, else `GOTRUE_JWT_AUD` (public routes never parse the bearer token).
    internal static string RequestAudience(HttpContext http, JwtOptions jwt) =>
        http.Request.Headers["X-JWT-AUD"].ToString() is { Length: > 0 } aud ? aud : jwt.Aud;

    static JsonObject FakeUser(string? email, string? phone, string aud, string provider, JsonObject? data, DateTime now)
    {
        var user = new UserRow
        {
            Id = Guid.NewGuid(),
            Aud = aud,
            Role = "",
            Email = email,
            Phone = phone,
            ConfirmationSentAt = now,
            CreatedAt = now,
            UpdatedAt = now,
            RawAppMetaData = new JsonObject { ["provider"] = provider, ["providers"] = new JsonArray(provider) }.ToJsonString(),
            RawUserMetaData = (data ?? []).ToJsonString(),
        };
        return UserJson.From(user, []);
    }
}
