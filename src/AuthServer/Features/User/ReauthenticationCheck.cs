using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Verify;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using Dapper;
using Npgsql;

namespace AuthServer.Features.User;

/// `GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION`: a password change from a session older than
/// 24 h (or without one) needs the code from `GET /reauthenticate` as `nonce` (GoTrue user.go
/// `verifyReauthentication`). Wrong nonces count towards the same 5-attempt cap as other codes.
internal static class ReauthenticationCheck
{
    public static async Task EnsureAsync(NpgsqlConnection conn, NpgsqlTransaction tx, UserRow user, Guid? sessionId,
        string? nonce, MailerOptions options, DateTime now, CancellationToken ct, TimeSpan? smsExpiry = null)
    {
        var created = sessionId is { } sid
            ? await conn.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
                "select created_at from auth.sessions where id = @sid", new { sid }, cancellationToken: ct))
            : null;
        if (created is { } c && now <= DateTime.SpecifyKind(c, DateTimeKind.Utc).AddHours(24)) return;
        if (string.IsNullOrEmpty(nonce))
            throw ApiError.BadRequest(ErrorCode.ReauthenticationNeeded, "Password update requires reauthentication");

        var locked = (await MailQueries.LockUserAsync(conn, user.Id, ct))!;
        var tokens = await VerifyQueries.LoadTokensAsync(conn, user.Id, ct);
        var stored = tokens.ReauthenticationToken ?? "";
        var relatesTo = string.IsNullOrEmpty(locked.Email) ? locked.Phone ?? "" : locked.Email;
        // GoTrue `verifyReauthentication`: a code sent by SMS lives GOTRUE_SMS_OTP_EXP.
        var expiry = string.IsNullOrEmpty(locked.Email) ? smsExpiry ?? options.OtpExpiry : options.OtpExpiry;
        var expired = locked.ReauthenticationSentAt is not { } sent ||
                      now > DateTime.SpecifyKind(sent, DateTimeKind.Utc) + expiry;
        if (stored.Length == 0 || expired || !Secrets.FixedTimeEquals(stored, TokenHashes.Of(relatesTo, nonce)))
        {
            if (stored.Length > 0)
            {
                var exhausted = await VerifyQueries.CountFailureAsync(conn, user.Id, [stored], VerifyEndpoints.MaxFailures, now, ct);
                if (exhausted.Count > 0) await VerifyQueries.VoidTokensAsync(conn, user.Id, exhausted.ToArray(), ct);
                await tx.CommitAsync(ct);
            }
            throw ApiError.Unprocessable(ErrorCode.ReauthenticationNotValid, "Nonce has expired or is invalid");
        }
    }
}
