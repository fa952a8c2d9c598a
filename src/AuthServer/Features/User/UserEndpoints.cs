using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Verify;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Features.User;

/// `GET /user` and `PUT /user` (api.md §3).
internal static class UserEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/user", GetUser);
        app.MapPut("/user", UpdateUserAsync);
    }

    internal sealed record UpdateUserRequest(string? Email, string? Password, string? CurrentPassword, string? Nonce,
        JsonObject? Data, JsonObject? AppMetadata, string? Phone, string? Channel, string? CodeChallenge,
        string? CodeChallengeMethod);

    static IResult GetUser(HttpContext http, AuthUser auth)
    {
        // Only an explicit X-JWT-AUD different from the token's own aud is a mismatch.
        var requested = http.Request.Headers["X-JWT-AUD"].ToString();
        if (requested.Length > 0 && requested != auth.Claims.Aud)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Token audience doesn't match request audience");
        return Results.Json(UserJson.From(auth.User, auth.Identities, auth.Factors), Json.Options);
    }

    static async Task<IResult> UpdateUserAsync(HttpContext http, AuthUser auth, NpgsqlDataSource db, JwtOptions jwt,
        AuthOptions authOptions, PasswordOptions passwordOptions, Passwords passwords, Mailer mailer,
        MailerOptions mailerOptions, Notifications notifications, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<UpdateUserRequest>(http.Request, ct);
        var pkce = PkceParams.From(body.CodeChallenge, body.CodeChallengeMethod);
        var user = auth.User;
        var now = clock.GetUtcNow().UtcDateTime;

        string? email = null, phone = null;
        if (!string.IsNullOrEmpty(body.Email)) email = Identifiers.ValidateEmail(body.Email);
        if (!string.IsNullOrEmpty(body.Phone)) phone = Identifiers.ValidatePhone(body.Phone);
        var password = string.IsNullOrEmpty(body.Password) ? null : body.Password;
        if (password is not null) await passwords.EnsureAcceptableAsync(password, ct);

        // GoTrue user.go: with a verified factor, password/email/phone changes need an aal2 session.
        if (auth.Factors.Any(f => f.IsVerified) &&
            (password is not null || (email is not null && email != user.Email) || (phone is not null && phone != user.Phone)))
        {
            await using var aalConn = await db.OpenConnectionAsync(ct);
            if (await Mfa.MfaQueries.SessionAalAsync(aalConn, auth.SessionId, ct) != "aal2")
                throw ApiError.Unauthorized(ErrorCode.InsufficientAal,
                    "AAL2 session is required to update email or password when MFA is enabled.");
        }

        // GoTrue internal/api/user.go: the email or phone must be in this request, not merely on the user.
        if (password is not null && user.IsAnonymous && email is null && phone is null)
            throw ApiError.Unprocessable(ErrorCode.ValidationFailed,
                "Updating password of an anonymous user without an email or phone is not allowed");
        if (body.AppMetadata is not null && !(user.Role == jwt.AdminGroupName && user.Aud == jwt.Aud))
            throw ApiError.Forbidden(ErrorCode.NotAdmin, "Updating app_metadata requires admin privileges");
        if (user.IsSsoUser && (email is not null || phone is not null || password is not null))
            throw ApiError.Unprocessable("user_sso_managed", "Updating email, phone or password of an SSO account is not allowed");

        string? newHash = null;
        if (password is not null)
        {
            var hasPassword = !string.IsNullOrEmpty(user.EncryptedPassword);
            // GoTrue user.go: not in a recovery session (`Session.IsRecovery`: an AMR of otp, magiclink or recovery),
            // so a user who followed a reset link or code can set a password without knowing the old one.
            if (passwordOptions.UpdateRequiresCurrentPassword && hasPassword && !await IsRecoverySessionAsync(db, auth.SessionId, ct))
            {
                if (string.IsNullOrEmpty(body.CurrentPassword))
                    throw ApiError.BadRequest("current_password_required", "Current password required when setting new password.");
                if (!await passwords.VerifyAsync(body.CurrentPassword, user.EncryptedPassword, ct))
                    throw ApiError.BadRequest("current_password_invalid", "Current password required when setting new password.");
            }
            if (hasPassword && await passwords.VerifyAsync(password, user.EncryptedPassword, ct))
                throw ApiError.Unprocessable(ErrorCode.SamePassword, "New password should be different from the old password.");
            newHash = await passwords.HashAsync(password, ct);
        }

        // The phone-change SMS goes first, with no transaction open; a failed send changes nothing
        // (Features/Phone/PhoneFlows). GoTrue sends it inside its one update transaction.
        var phoneChanging = phone is not null && phone != user.Phone;
        if (phoneChanging && !authOptions.SmsAutoconfirm)
        {
            var channel = string.IsNullOrEmpty(body.Channel) ? "sms" : body.Channel;
            http.RequestServices.GetRequiredService<AuthServer.Sms.SmsSender>().EnsureValidChannel(channel);
            await Phone.PhoneFlows.SendPhoneChangeAsync(http, user, phone!, channel, ct);
        }

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var ip = ClientInfo.Ip(http);
        var mailQueued = false;
        // First, before any write: a rejected nonce commits only its attempt count.
        if (newHash is not null && mailerOptions.UpdatePasswordRequireReauthentication)
            await ReauthenticationCheck.EnsureAsync(conn, tx, user, auth.SessionId, body.Nonce, mailerOptions, now, ct,
                http.RequestServices.GetRequiredService<AuthServer.Config.SmsOptions>().OtpExpiry);

        if (email is not null && email != user.Email)
        {
            if (await UserQueries.FindByEmailAsync(conn, email, user.Aud ?? jwt.Aud, ct) is not null)
                throw ApiError.Unprocessable(ErrorCode.EmailExists, "A user with this email address has already been registered");
            if (user.IsAnonymous && authOptions.MailerAutoconfirm)
                // An anonymous user adding an email with autoconfirm on is like a sign-up (GoTrue user.go).
                await VerifyQueries.ApplyEmailChangeAsync(conn, user.Id, email, now, ct);
            else
            {
                var locked = (await MailQueries.LockUserAsync(conn, user.Id, ct))!;
                if (pkce is not null) await FlowStates.CreateAsync(conn, user.Id, pkce, "email_change", "email_change", now, ct);
                await mailer.SendEmailChangeAsync(conn, locked, email, pkce is not null, mailer.Links(http), now, ct);
                mailQueued = true;
            }
        }
        if (phoneChanging && authOptions.SmsAutoconfirm)
        {
            if (await UserQueries.FindByPhoneAsync(conn, phone!, user.Aud ?? jwt.Aud, ct) is not null)
                throw ApiError.Unprocessable(ErrorCode.PhoneExists, "A user with this phone number has already been registered");
            // GoTrue user.go: with SMS autoconfirm the change is verified at once (`smsVerify`, phone_change).
            await Phone.PhoneQueries.ApplyPhoneChangeAsync(conn, user.Id, phone!, now, ct);
            await VerifyQueries.ClearOneTimeTokensAsync(conn, user.Id, ct);
            await notifications.PhoneChangedAsync(conn, user.Id, user.Phone ?? "", ct);
            // GoTrue `smsVerify`: a phone identity created by the change is a newly linked sign-in method.
            if (!auth.Identities.Any(i => i.Provider == "phone"))
                await notifications.IdentityLinkedAsync(conn, user.Id, "phone", ct);
            mailQueued = true;
        }
        if (body.Data is not null)
            await UserUpdateQueries.SetUserMetadataAsync(conn, user.Id, UserJson.MergeMetadata(user.UserMetadata, body.Data), now, ct);
        if (body.AppMetadata is not null)
            await UserUpdateQueries.SetAppMetadataAsync(conn, user.Id, UserJson.MergeMetadata(user.AppMetadata, body.AppMetadata), now, ct);
        if (newHash is not null)
        {
            await UserUpdateQueries.SetPasswordAsync(conn, user.Id, newHash, auth.SessionId, now, ct);
            await AuditLog.WriteAsync(conn, user, AuditAction.UserUpdatedPassword, ip, now, ct);
            await notifications.PasswordChangedAsync(conn, user.Id, ct);
            mailQueued = true;
        }
        await AuditLog.WriteAsync(conn, user, AuditAction.UserModified, ip, now, ct);
        var updated = (await UserQueries.FindWithIdentitiesAsync(conn, user.Id, ct))!.Value;
        await tx.CommitAsync(ct);
        if (mailQueued) mailer.Outbox.Notify();
        return Results.Json(UserJson.From(updated.User, updated.Identities, auth.Factors), Json.Options);
    }

    static async Task<bool> IsRecoverySessionAsync(NpgsqlDataSource db, Guid? sessionId, CancellationToken ct)
    {
        if (sessionId is not { } id) return false;
        await using var conn = await db.OpenConnectionAsync(ct);
        return await UserUpdateQueries.SessionIsRecoveryAsync(conn, id, ct);
    }
}
