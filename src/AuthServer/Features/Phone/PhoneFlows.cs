using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using AuthServer.Sms;
using Npgsql;

namespace AuthServer.Features.Phone;

/// The phone halves of `/signup`, `/otp`, `/resend`, `/reauthenticate` and `PUT /user` (GoTrue signup.go,
/// otp.go `SmsOtp`, resend.go, reauthenticate.go, user.go), each sending its SMS through <see cref="SmsSender"/>.
internal static class PhoneFlows
{
    /// Sign-up of a phone without SMS autoconfirm (GoTrue signup.go): the caller's transaction holds the
    /// user it found or created; this commits it with the send claimed, sends, then stores the code. A
    /// user created by this request is deleted again if the SMS cannot be sent.
    public static async Task<JsonObject> SendSignupConfirmationAsync(HttpContext http, NpgsqlConnection conn,
        NpgsqlTransaction tx, Guid userId, bool created, string phone, string channel, SmsSender sms, DateTime now,
        CancellationToken ct)
    {
        var user = (await MailQueries.LockUserAsync(conn, userId, ct))!;
        var claim = await sms.ClaimAsync(conn, user, phone, SmsSender.Confirmation, now, ct);
        await tx.CommitAsync(ct);
        var ip = ClientInfo.Ip(http);
        var (_, json) = await sms.DeliverAndStoreAsync(claim, user, channel, http, async c =>
        {
            var stored = (await UserQueries.FindWithIdentitiesAsync(c, userId, ct))!.Value;
            await AuditLog.WriteAsync(c, stored.User, AuditAction.UserConfirmationRequested, ip, now, ct,
                new JsonObject { ["provider"] = "phone" });
            return UserJson.From(stored.User, stored.Identities);
        }, created ? c => PhoneQueries.DeleteUnconfirmedUserAsync(c, userId) : null, ct);
        return json;
    }

    /// `POST /otp` with a phone (GoTrue otp.go `SmsOtp`): a new or unconfirmed phone is signed up with a
    /// random password and gets the confirmation SMS (`{}`); a confirmed one gets an OTP in
    /// `confirmation_token` (`{"message_id"}` when the provider gave one).
    public static async Task<IResult> OtpAsync(HttpContext http, string rawPhone, bool createUser, JsonObject? data,
        string? channel, CancellationToken ct)
    {
        var services = http.RequestServices;
        var auth = services.GetRequiredService<AuthOptions>();
        var jwt = services.GetRequiredService<JwtOptions>();
        var sms = services.GetRequiredService<SmsSender>();
        if (!auth.PhoneEnabled) throw ApiError.BadRequest(ErrorCode.PhoneProviderDisabled, "Unsupported phone provider");
        var phone = Identifiers.ValidatePhone(rawPhone);
        channel = string.IsNullOrEmpty(channel) ? SmsProvider.SmsChannel : channel;
        sms.EnsureValidChannel(channel);
        var aud = SignupEndpoints.RequestAudience(http, jwt);
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var ip = ClientInfo.Ip(http);

        await using var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var existing = await UserQueries.FindByPhoneAsync(conn, phone, aud, ct);
        if (!createUser && existing is null)
            throw ApiError.Unprocessable(ErrorCode.OtpDisabled, "Signups not allowed for otp");

        if (existing?.PhoneConfirmedAt is null)
        {
            // GoTrue runs its Signup handler here, with a password nobody learns.
            if (auth.DisableSignup) throw ApiError.Unprocessable(ErrorCode.SignupDisabled, "Signups not allowed for this instance");
            var userId = existing?.Id ?? Guid.NewGuid();
            if (existing is null)
            {
                await Hooks.UserCreation.BeforeAsync(http, userId, aud, null, phone, "phone", data, ct);
                var hash = await services.GetRequiredService<Passwords>().HashAsync(Secrets.NewToken(), ct);
                try
                {
                    await SignupQueries.CreateUserAsync(conn, userId, aud, jwt.DefaultGroupName, null, phone, hash, "phone",
                        data ?? [], now, ct);
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    throw ApiError.Unprocessable(ErrorCode.UserAlreadyExists, "User already registered");
                }
            }
            else
                // Ours (M-5, docs/differences.md): the code sent now confirms the account when
                // used, which proves the phone, not a password someone set at sign-up before its owner. An
                // unconfirmed account cannot sign in with that password yet, so it goes now.
                await PhoneQueries.ClearPasswordAsync(conn, userId, now, ct);
            if (!auth.SmsAutoconfirm)
            {
                await SendSignupConfirmationAsync(http, conn, tx, userId, existing is null, phone, channel, sms, now, ct);
                return Results.Json(new JsonObject());
            }
            if (existing is null)
            {
                // Autoconfirm: signed up and confirmed, then the OTP is sent as to any confirmed user.
                var signedUp = (await MailQueries.LockUserAsync(conn, userId, ct))!;
                await AuditLog.WriteAsync(conn, signedUp, AuditAction.UserSignedUp, ip, now, ct,
                    new JsonObject { ["provider"] = "phone", ["channel"] = channel });
                await PhoneQueries.ConfirmPhoneAsync(conn, userId, now, ct);
                existing = signedUp;
            }
            // Ours (H-1): an account that existed unconfirmed is not autoconfirmed with no proof (GoTrue does);
            // the code sent below confirms it when used.
        }

        var user = (await MailQueries.LockUserAsync(conn, existing.Id, ct))!;
        var claim = await sms.ClaimAsync(conn, user, phone, SmsSender.Confirmation, now, ct);
        await tx.CommitAsync(ct);
        var (messageId, _) = await sms.DeliverAndStoreAsync(claim, user, channel, http, async c =>
        {
            await AuditLog.WriteAsync(c, user, AuditAction.UserRecoveryRequested, ip, now, ct, new JsonObject { ["channel"] = channel });
            return true;
        }, null, ct);
        return MessageId(messageId);
    }

    /// `POST /resend` types sms and phone_change (GoTrue resend.go): nothing pending answers `{}`.
    public static async Task<IResult> ResendAsync(HttpContext http, string type, string rawPhone, CancellationToken ct)
    {
        var services = http.RequestServices;
        var sms = services.GetRequiredService<SmsSender>();
        var phone = Identifiers.ValidatePhone(rawPhone);
        var aud = SignupEndpoints.RequestAudience(http, services.GetRequiredService<JwtOptions>());
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;

        await using var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var found = type == "sms"
            ? await UserQueries.FindByPhoneAsync(conn, phone, aud, ct)
            : await PhoneQueries.FindByPhoneChangeAsync(conn, phone, aud, ct);
        if (found is null) return Results.Json(new JsonObject());
        var user = (await MailQueries.LockUserAsync(conn, found.Id, ct))!;
        if (type == "sms" ? user.PhoneConfirmedAt is not null : string.IsNullOrEmpty(user.PhoneChange))
            return Results.Json(new JsonObject());

        var claim = type == "sms"
            ? await sms.ClaimAsync(conn, user, phone, SmsSender.Confirmation, now, ct)
            : await sms.ClaimAsync(conn, user, user.PhoneChange!, SmsSender.PhoneChange, now, ct);
        await tx.CommitAsync(ct);
        var ip = ClientInfo.Ip(http);
        var (messageId, _) = await sms.DeliverAndStoreAsync(claim, user, SmsProvider.SmsChannel, http, async c =>
        {
            if (type == "sms") await AuditLog.WriteAsync(c, user, AuditAction.UserRecoveryRequested, ip, now, ct);
            return true;
        }, null, ct);
        return MessageId(messageId);
    }

    /// `GET /reauthenticate` for a user without an email (GoTrue reauthenticate.go): the code goes to the phone.
    public static async Task<IResult> ReauthenticateAsync(HttpContext http, UserRow caller, CancellationToken ct)
    {
        if (caller.PhoneConfirmedAt is null)
            throw ApiError.Unprocessable(ErrorCode.PhoneNotConfirmed, "Please verify your phone first.");
        var services = http.RequestServices;
        var sms = services.GetRequiredService<SmsSender>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;

        await using var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var user = (await MailQueries.LockUserAsync(conn, caller.Id, ct))!;
        var claim = await sms.ClaimAsync(conn, user, user.Phone!, SmsSender.Reauthentication, now, ct);
        await tx.CommitAsync(ct);
        var ip = ClientInfo.Ip(http);
        var (messageId, _) = await sms.DeliverAndStoreAsync(claim, user, SmsProvider.SmsChannel, http, async c =>
        {
            await AuditLog.WriteAsync(c, user, AuditAction.UserReauthenticateRequested, ip, now, ct);
            return true;
        }, null, ct);
        return MessageId(messageId);
    }

    /// `PUT /user` with a new phone and no SMS autoconfirm: the OTP goes to the new phone (type
    /// phone_change) and the change is pending until `POST /verify`. Runs before the rest of the update,
    /// so a failed send changes nothing.
    public static async Task SendPhoneChangeAsync(HttpContext http, UserRow caller, string phone, string channel,
        CancellationToken ct)
    {
        var services = http.RequestServices;
        var sms = services.GetRequiredService<SmsSender>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var aud = caller.Aud ?? services.GetRequiredService<JwtOptions>().Aud;

        await using var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (await UserQueries.FindByPhoneAsync(conn, phone, aud, ct) is not null)
            throw ApiError.Unprocessable(ErrorCode.PhoneExists, "A user with this phone number has already been registered");
        var user = (await MailQueries.LockUserAsync(conn, caller.Id, ct))!;
        var claim = await sms.ClaimAsync(conn, user, phone, SmsSender.PhoneChange, now, ct);
        await tx.CommitAsync(ct);
        await sms.DeliverAndStoreAsync(claim, user, channel, http, _ => Task.FromResult(true), null, ct);
    }

    /// GoTrue `SmsOtpResponse`: `message_id` is omitted when empty (hook, no id).
    static IResult MessageId(string messageId) =>
        Results.Json(messageId.Length == 0 ? new JsonObject() : new JsonObject { ["message_id"] = messageId });
}
