using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Features.Phone;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using AuthServer.Sessions;
using AuthServer.Sms;
using AuthServer.Config;
using Npgsql;

namespace AuthServer.Features.Verify;

/// `POST /verify` with a token and a phone, types sms and phone_change (GoTrue verify.go
/// `verifyUserAndToken` + `smsVerify`): the stored hash of phone+token, within `GOTRUE_SMS_OTP_EXP`, or a
/// test OTP, or Twilio Verify's check. Wrong codes count towards the same 5-attempt cap as email codes.
internal static class PhoneVerify
{
    public static async Task<IResult> VerifyAsync(HttpContext http, string type, string rawPhone, string token,
        CancellationToken ct)
    {
        var services = http.RequestServices;
        var sms = services.GetRequiredService<SmsSender>();
        var clock = services.GetRequiredService<TimeProvider>();
        var db = services.GetRequiredService<NpgsqlDataSource>();
        // GoTrue `isPhoneOtpVerification`: a phone with another type looks the user up by (empty) email.
        if (rawPhone.Length == 0 || type is not ("sms" or "phone_change")) throw Invalid();
        var phone = Identifiers.ValidatePhone(rawPhone);
        var aud = SignupEndpoints.RequestAudience(http, services.GetRequiredService<JwtOptions>());

        // Twilio Verify checks its own code over HTTP: asked before any transaction is opened.
        var twilio = sms.TwilioVerify;
        var testOtp = sms.Options.TestOtpFor(phone, clock.GetUtcNow());
        var testMatch = testOtp is not null && Secrets.FixedTimeEquals(testOtp, token);
        if (twilio is not null && !testMatch)
        {
            await using var lookup = await db.OpenConnectionAsync(ct);
            var target = await FindAsync(lookup, type, phone, aud, ct) ?? throw Invalid();
            await lookup.CloseAsync();
            try { await twilio.VerifyAsync(type == "sms" ? phone : target.PhoneChange ?? "", token, ct); }
            catch (SmsProviderException) { throw Invalid(); }
            testMatch = true; // accepted by the provider
        }

        var now = clock.GetUtcNow().UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var found = await FindAsync(conn, type, phone, aud, ct);
        var user = found is null ? null : await MailQueries.LockUserAsync(conn, found.Id, ct);
        if (user is null) throw Invalid();
        if (user.IsBanned(clock.GetUtcNow())) throw ApiError.Forbidden(ErrorCode.UserBanned, "User is banned");

        if (!testMatch)
        {
            var tokens = await PhoneQueries.TokensAsync(conn, user.Id, ct);
            var (stored, sentAt, relatesTo) = type == "sms"
                ? (tokens.ConfirmationToken ?? "", user.ConfirmationSentAt, phone)
                : (tokens.PhoneChangeToken ?? "", user.PhoneChangeSentAt, user.PhoneChange ?? "");
            var expired = sentAt is not { } sent || now > DateTime.SpecifyKind(sent, DateTimeKind.Utc) + sms.Options.OtpExpiry;
            if (stored.Length == 0 || expired || !Secrets.FixedTimeEquals(stored, TokenHashes.Of(relatesTo, token)))
            {
                if (stored.Length > 0)
                {
                    var exhausted = await VerifyQueries.CountFailureAsync(conn, user.Id, [stored], VerifyEndpoints.MaxFailures, now, ct);
                    if (exhausted.Count > 0) await PhoneQueries.VoidAsync(conn, user.Id, stored, ct);
                    await tx.CommitAsync(ct);
                }
                throw Invalid();
            }
        }

        var ip = ClientInfo.Ip(http);
        if (type == "sms")
        {
            await AuditLog.WriteAsync(conn, user, AuditAction.UserSignedUp, ip, now, ct);
            await PhoneQueries.ConfirmPhoneAsync(conn, user.Id, now, ct);
        }
        else
        {
            await AuditLog.WriteAsync(conn, user, AuditAction.UserModified, ip, now, ct);
            var hadPhoneIdentity = (await UserQueries.FindWithIdentitiesAsync(conn, user.Id, ct))!.Value.Identities
                .Any(i => i.Provider == "phone");
            await PhoneQueries.ApplyPhoneChangeAsync(conn, user.Id, user.PhoneChange!, now, ct);
            var notifications = services.GetRequiredService<Notifications>();
            await notifications.PhoneChangedAsync(conn, user.Id, user.Phone ?? "", ct);
            // GoTrue `smsVerify`: a phone identity created by the change is a newly linked sign-in method.
            if (!hadPhoneIdentity) await notifications.IdentityLinkedAsync(conn, user.Id, "phone", ct);
        }
        await VerifyQueries.ClearOneTimeTokensAsync(conn, user.Id, ct);
        var session = await services.GetRequiredService<SessionIssuer>().StartAsync(conn, user.Id, "otp", http, now, ct,
            provider: "phone");
        await tx.CommitAsync(ct);
        return Results.Json(session, Json.Options);
    }

    static async Task<UserRow?> FindAsync(NpgsqlConnection conn, string type, string phone, string aud, CancellationToken ct) =>
        type == "sms"
            ? await UserQueries.FindByPhoneAsync(conn, phone, aud, ct)
            : await PhoneQueries.FindByPhoneChangeAsync(conn, phone, aud, ct);

    static ApiError Invalid() => ApiError.Forbidden(ErrorCode.OtpExpired, "Token has expired or is invalid");
}
