using AuthServer.Features.Captcha;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Features.Otp;

/// `POST /otp` (passwordless, email half) and the legacy `POST /magiclink` (api.md §3; GoTrue otp.go,
/// magic_link.go). Unknown or unconfirmed addresses are signed up on the fly and get the confirmation
/// mail, which doubles as the magic link; confirmed users get a magic link. Both answer `{}`.
internal static class OtpEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapPost("/otp", OtpAsync).RequireCaptcha();
        app.MapPost("/magiclink", MagicLinkAsync).RequireCaptcha();
    }

    internal sealed record OtpRequest(string? Email, string? Phone, bool? CreateUser, JsonObject? Data, string? Channel,
        string? CodeChallenge, string? CodeChallengeMethod);

    static async Task<IResult> OtpAsync(HttpContext http, NpgsqlDataSource db, AuthOptions auth, MailerOptions options,
        JwtOptions jwt, Mailer mailer, Passwords passwords, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<OtpRequest>(http.Request, ct);
        var email = body.Email ?? "";
        var phone = body.Phone ?? "";
        if (email.Length > 0 && phone.Length > 0)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only an email address or phone number should be provided");
        if (email.Length > 0 && !string.IsNullOrEmpty(body.Channel))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Channel should only be specified with Phone OTP");
        var pkce = PkceParams.From(body.CodeChallenge, body.CodeChallengeMethod);
        if (phone.Length > 0)
            return await Phone.PhoneFlows.OtpAsync(http, phone, body.CreateUser ?? true, body.Data, body.Channel, ct);
        if (email.Length == 0)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "One of email or phone must be set");

        if (body.CreateUser == false)
        {
            var normalized = Identifiers.ValidateEmail(email);
            await using var conn = await db.OpenConnectionAsync(ct);
            if (await UserQueries.FindByEmailAsync(conn, normalized, SignupEndpoints.RequestAudience(http, jwt), ct) is null)
                throw ApiError.Unprocessable(ErrorCode.OtpDisabled, "Signups not allowed for otp");
        }
        await SendMagicLinkAsync(http, email, body.Data, pkce, db, auth, options, jwt, mailer, passwords, clock, ct);
        return Results.Json(new JsonObject());
    }

    internal sealed record MagicLinkRequest(string? Email, JsonObject? Data, string? CodeChallenge, string? CodeChallengeMethod);

    static async Task<IResult> MagicLinkAsync(HttpContext http, NpgsqlDataSource db, AuthOptions auth, MailerOptions options,
        JwtOptions jwt, Mailer mailer, Passwords passwords, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<MagicLinkRequest>(http.Request, ct);
        var pkce = PkceParams.From(body.CodeChallenge, body.CodeChallengeMethod);
        await SendMagicLinkAsync(http, body.Email ?? "", body.Data, pkce, db, auth, options, jwt, mailer, passwords, clock, ct);
        return Results.Json(new JsonObject());
    }

    static async Task SendMagicLinkAsync(HttpContext http, string email, JsonObject? data, PkceParams? pkce,
        NpgsqlDataSource db, AuthOptions auth, MailerOptions options, JwtOptions jwt, Mailer mailer, Passwords passwords,
        TimeProvider clock, CancellationToken ct)
    {
        if (!auth.EmailEnabled) throw ApiError.Unprocessable(ErrorCode.EmailProviderDisabled, "Email logins are disabled");
        if (!options.MagicLinkEnabled)
            throw ApiError.Unprocessable(ErrorCode.EmailProviderDisabled, "Login with magic link is disabled");
        if (email.Length == 0)
            throw ApiError.Unprocessable(ErrorCode.ValidationFailed, "Password recovery requires an email");
        email = Identifiers.ValidateEmail(email);
        var aud = SignupEndpoints.RequestAudience(http, jwt);
        var now = clock.GetUtcNow().UtcDateTime;
        var ip = ClientInfo.Ip(http);
        var links = mailer.Links(http);

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var existing = await UserQueries.FindByEmailAsync(conn, email, aud, ct);
        Guid userId;
        var createdHere = existing is null;
        if (existing is null)
        {
            if (auth.DisableSignup) throw ApiError.Unprocessable(ErrorCode.SignupDisabled, "Signups not allowed for this instance");
            // GoTrue signs the address up with a random password the user never learns.
            userId = Guid.NewGuid();
            await Hooks.UserCreation.BeforeAsync(http, userId, aud, email, null, "email", data, ct);
            await SignupQueries.CreateUserAsync(conn, userId, aud, jwt.DefaultGroupName, email, null,
                await passwords.HashAsync(Secrets.NewToken(), ct), "email", data ?? [], now, ct);
            var created = (await UserQueries.FindWithIdentitiesAsync(conn, userId, ct))!.Value.User;
            await AuditLog.WriteAsync(conn, created, AuditAction.UserSignedUp, ip, now, ct,
                new JsonObject { ["provider"] = "email" });
        }
        else userId = existing.Id;

        var user = (await MailQueries.LockUserAsync(conn, userId, ct))!;
        // Ours (H-1, M-5; docs/differences.md): an account that existed unconfirmed before this
        // request is neither autoconfirmed (GoTrue does, with no proof, when autoconfirm is on) nor sent the
        // sign-up confirmation (which would confirm a password someone else may have set). It gets the magic
        // link: following it proves the mailbox, confirms the account and clears the unproven password.
        if (user.EmailConfirmedAt is null && createdHere)
        {
            if (auth.MailerAutoconfirm)
            {
                await SignupQueries.ConfirmAsync(conn, userId, "email", now, ct);
                user = (await MailQueries.LockUserAsync(conn, userId, ct))!;
            }
            else
            {
                // The signup confirmation mail is the magic link of an unconfirmed address.
                await AuditLog.WriteAsync(conn, user, AuditAction.UserConfirmationRequested, ip, now, ct);
                if (pkce is not null) await FlowStates.CreateAsync(conn, userId, pkce, "email", "email/signup", now, ct);
                await mailer.SendConfirmationAsync(conn, user, pkce is not null, links, now, ct);
                await tx.CommitAsync(ct);
                mailer.Outbox.Notify();
                return;
            }
        }
        if (pkce is not null) await FlowStates.CreateAsync(conn, userId, pkce, "magiclink", "magiclink", now, ct);
        await AuditLog.WriteAsync(conn, user, AuditAction.UserRecoveryRequested, ip, now, ct);
        await mailer.SendRecoveryAsync(conn, user, magicLink: true, pkce is not null, links, now, ct);
        await tx.CommitAsync(ct);
        mailer.Outbox.Notify();
    }
}
