using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using AuthServer.Sessions;
using AuthServer.Sms;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Mfa;

/// Phone factors (GoTrue internal/api/mfa.go `enrollPhoneFactor`, `challengePhoneFactor`, `verifyPhoneFactor`):
/// the code goes out by SMS through <see cref="SmsSender"/> (send-SMS hook with sms_type `mfa`, or the
/// provider) and is kept in `mfa_challenges.otp_code` as GoTrue keeps it: plaintext, or GoTrue's encrypted
/// string bound to the challenge id with GOTRUE_SECURITY_DB_ENCRYPTION_*. Verification follows our TOTP rules:
/// a challenge verifies once, and failed attempts per factor per minute are limited.
internal static class PhoneFactors
{
    internal sealed record ChallengeRequest(string? Channel);

    public static async Task<IResult> EnrollAsync(HttpContext http, AuthUser auth, MfaEndpoints.EnrollRequest body,
        Guid sessionId, NpgsqlDataSource db, MfaOptions mfa, TimeProvider clock, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(body.Phone))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Phone number required to enroll Phone factor");
        var phone = Identifiers.ValidatePhone(body.Phone);
        var friendlyName = body.FriendlyName ?? "";
        var now = clock.GetUtcNow().UtcDateTime;

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // One enrolment per user at a time, so the checks below hold until the insert (unique_phone_factor_per_user).
        _ = await MailQueries.LockUserAsync(conn, auth.User.Id, ct);
        await MfaQueries.DeleteExpiredFactorsAsync(conn, now - mfa.FactorExpiry, ct);
        var samePhone = (await MfaQueries.FactorsOfAsync(conn, auth.User.Id, ct))
            .Where(f => f.FactorType == "phone" && f.Phone == phone).ToList();
        if (samePhone.Any(f => f.IsVerified))
            throw VerifiedPhoneExists();
        // GoTrue replaces an unverified factor of the same phone instead of refusing the enrolment.
        foreach (var stale in samePhone)
            await conn.ExecuteAsync(new CommandDefinition("delete from auth.mfa_factors where id = @id",
                new { id = stale.Id }, cancellationToken: ct));
        var factors = await MfaQueries.FactorsOfAsync(conn, auth.User.Id, ct);
        await MfaEndpoints.ValidateNewFactorAsync(conn, factors, friendlyName, mfa, sessionId, ct);

        var factorId = Guid.NewGuid();
        try
        {
            await conn.ExecuteAsync(new CommandDefinition(
                """
                insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, phone)
                values (@factorId, @userId, @friendlyName, 'phone', 'unverified', @now, @now, @phone)
                """, new { factorId, userId = auth.User.Id, friendlyName, now, phone }, cancellationToken: ct));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw e.ConstraintName == "unique_phone_factor_per_user" ? VerifiedPhoneExists() : MfaEndpoints.NameConflict(friendlyName);
        }
        await AuditLog.WriteAsync(conn, auth.User, AuditAction.FactorInProgress, ClientInfo.Ip(http), now, ct,
            new JsonObject { ["factor_id"] = factorId.ToString(), ["factor_type"] = "phone" });
        await tx.CommitAsync(ct);

        // GoTrue answers with the phone as the client sent it.
        return Results.Json(new JsonObject
        {
            ["id"] = factorId.ToString(),
            ["type"] = "phone",
            ["friendly_name"] = friendlyName,
            ["phone"] = body.Phone,
        }, Json.Options);
    }

    static ApiError VerifiedPhoneExists() => ApiError.Unprocessable(ErrorCode.MfaVerifiedFactorExists,
        "A verified phone factor already exists, unenroll the existing factor to continue");

    /// Claims the factor (frequency check and `last_challenged_at` stamp under a row lock, committed, so a
    /// concurrent challenge gets the 429), sends with no transaction open, then stores the challenge; a
    /// failed send puts `last_challenged_at` back.
    public static async Task<IResult> ChallengeAsync(HttpContext http, AuthUser auth, FactorRow loaded,
        NpgsqlDataSource db, MfaOptions mfa, SmsSender sms, ColumnEncryption encryption, TimeProvider clock,
        CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<ChallengeRequest>(http.Request, ct);
        var channel = string.IsNullOrEmpty(body.Channel) ? SmsProvider.SmsChannel : body.Channel;
        sms.EnsureValidChannel(channel);

        var now = clock.GetUtcNow().UtcDateTime;
        now = new DateTime(now.Ticks - now.Ticks % 10, DateTimeKind.Utc); // PostgreSQL keeps microseconds
        DateTime? previous;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            var factor = await MfaQueries.LockFactorAsync(conn, loaded.Id, ct)
                ?? throw ApiError.NotFound(ErrorCode.MfaFactorNotFound, "Factor not found");
            previous = factor.LastChallengedAt;
            if (previous is { } last)
            {
                var allowedAt = DateTime.SpecifyKind(last, DateTimeKind.Utc) + mfa.PhoneMaxFrequency;
                if (allowedAt >= now)
                    // GoTrue generateFrequencyLimitErrorMessage: whole seconds left, truncated.
                    throw ApiError.TooManyRequests(ErrorCode.OverSmsSendRateLimit,
                        $"For security purposes, you can only request this after {(long)(allowedAt - now).TotalSeconds} seconds.",
                        allowedAt - now);
            }
            await conn.ExecuteAsync(new CommandDefinition(
                "update auth.mfa_factors set last_challenged_at = @now where id = @id",
                new { id = factor.Id, now }, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }

        var otp = TokenHashes.NewOtp(mfa.PhoneOtpLength);
        var challengeId = Guid.NewGuid();
        try
        {
            await SendAsync(sms, auth.User, loaded.Phone ?? "", otp, Message(mfa.PhoneTemplate, otp), channel, http, ct);
        }
        catch (Exception)
        {
            // Not the request's token: a client that hangs up must not leave the stamp behind.
            await using var undo = await db.OpenConnectionAsync(CancellationToken.None);
            await undo.ExecuteAsync(new CommandDefinition(
                "update auth.mfa_factors set last_challenged_at = @previous where id = @id and last_challenged_at = @now",
                new { id = loaded.Id, previous, now }, cancellationToken: CancellationToken.None));
            throw;
        }

        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            var ip = ClientInfo.Ip(http);
            await conn.ExecuteAsync(new CommandDefinition(
                """
                insert into auth.mfa_challenges (id, factor_id, created_at, ip_address, otp_code)
                values (@challengeId, @factorId, @now, coalesce(nullif(@ip, '')::inet, '0.0.0.0'::inet), @otpCode)
                """,
                new { challengeId, factorId = loaded.Id, now, ip, otpCode = encryption.Protect(otp, challengeId) },
                cancellationToken: ct));
            await AuditLog.WriteAsync(conn, auth.User, AuditAction.ChallengeCreated, ip, now, ct,
                new JsonObject { ["factor_id"] = loaded.Id.ToString(), ["factor_status"] = loaded.Status });
            await tx.CommitAsync(ct);
        }

        return Results.Json(new JsonObject
        {
            ["id"] = challengeId.ToString(),
            ["type"] = "phone",
            ["expires_at"] = new DateTimeOffset(now + mfa.ChallengeExpiry).ToUnixTimeSeconds(),
        }, Json.Options);
    }

    /// GoTrue answers every delivery failure of an MFA SMS with a 500 (the cause goes to the log).
    static async Task SendAsync(SmsSender sms, UserRow user, string phone, string otp, string message, string channel,
        HttpContext http, CancellationToken ct)
    {
        try
        {
            await sms.SendMfaAsync(user, phone, otp, message, channel, http, ct);
        }
        catch (ApiError e) when (sms.HookEnabled)
        {
            throw ApiError.Internal("error invoking hook", e);
        }
        catch (SmsProviderException e)
        {
            throw ApiError.Internal("error sending message", e);
        }
    }

    /// `GOTRUE_MFA_PHONE_TEMPLATE` with `{{ .Code }}` (parsed at boot, so only rendering can fail here).
    static string Message(string template, string otp)
    {
        try
        {
            return GoTemplate.Parse(template).Render(new Dictionary<string, object?> { ["Code"] = otp });
        }
        catch (TemplateException e)
        {
            throw ApiError.Internal("error generating sms template", e);
        }
    }

    /// The phone half of `POST /factors/{id}/verify`, inside the caller's transaction after the shared
    /// challenge checks (found, unused, same IP, not expired).
    public static async Task<IResult> VerifyAsync(HttpContext http, AuthUser auth, FactorRow factor,
        MfaQueries.ChallengeRow challenge, string code, Guid sessionId, NpgsqlConnection conn, NpgsqlTransaction tx,
        MfaOptions mfa, SmsSender sms, SessionIssuer issuer, ColumnEncryption encryption, DateTimeOffset now,
        CancellationToken ct)
    {
        var (_, windowOpen) = await MfaEndpoints.LockVerifyAttemptsAsync(conn, factor.Id, mfa, now, ct);

        if (sms.TwilioVerify is { } twilio)
        {
            // Twilio Verify made the code and checks it; our stored code was never sent.
            try
            {
                await twilio.VerifyAsync(factor.Phone ?? "", code, ct);
            }
            catch (SmsProviderException e)
            {
                await MfaQueries.RecordFailureAsync(conn, factor.Id, newWindow: !windowOpen, now.UtcDateTime, ct);
                await tx.CommitAsync(ct);
                throw new ApiError(403, ErrorCode.OtpExpired, "Token has expired or is invalid", e);
            }
        }
        else
        {
            var stored = await conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
                "select otp_code from auth.mfa_challenges where id = @id", new { id = challenge.Id }, cancellationToken: ct));
            string otp;
            try
            {
                otp = encryption.Reveal(stored, challenge.Id) ?? "";
            }
            catch (CryptographicException e)
            {
                throw ApiError.Internal("Database error verifying MFA TOTP secret", new CryptographicException(
                    $"auth.mfa_challenges.otp_code of challenge {challenge.Id} could not be decrypted: {e.Message}", e));
            }
            var valid = otp.Length > 0 &&
                        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(otp), Encoding.UTF8.GetBytes(code));
            await Hooks.MfaVerificationHook.RunAsync(http, auth.User.Id, factor.Id, factor.FactorType, valid, ct);
            if (!valid)
            {
                // GoTrue rewrites a plaintext code, or one under an older key, after a wrong attempt.
                if (stored is not null && encryption.ShouldReEncrypt(stored))
                    await conn.ExecuteAsync(new CommandDefinition(
                        "update auth.mfa_challenges set otp_code = @otpCode where id = @id",
                        new { id = challenge.Id, otpCode = encryption.Protect(otp, challenge.Id) }, cancellationToken: ct));
                await MfaQueries.RecordFailureAsync(conn, factor.Id, newWindow: !windowOpen, now.UtcDateTime, ct);
                await tx.CommitAsync(ct);
                throw ApiError.Unprocessable(ErrorCode.MfaVerificationFailed, "Invalid MFA Phone code entered");
            }
        }

        await AuditLog.WriteAsync(conn, auth.User, AuditAction.VerificationAttempted, ClientInfo.Ip(http), now.UtcDateTime, ct,
            new JsonObject
            {
                ["factor_id"] = factor.Id.ToString(),
                ["challenge_id"] = challenge.Id.ToString(),
                ["factor_type"] = factor.FactorType,
            });
        await conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.mfa_challenges set verified_at = @now where id = @challengeId;
            update auth.mfa_factors set status = 'verified', updated_at = @now where id = @factorId and status <> 'verified';
            update authserver.mfa_totp_state set failed_attempts = 0, failures_started_at = null where factor_id = @factorId;
            """, new { challengeId = challenge.Id, factorId = factor.Id, now = now.UtcDateTime }, cancellationToken: ct));
        var session = await issuer.ReissueAsync(conn, auth.User.Id, sessionId, "mfa/phone", factor.Id, now.UtcDateTime, ct);
        await MfaQueries.AfterVerificationAsync(conn, auth.User.Id, factor.FactorType, ct);
        await tx.CommitAsync(ct);
        return Results.Json(session, Json.Options);
    }
}
