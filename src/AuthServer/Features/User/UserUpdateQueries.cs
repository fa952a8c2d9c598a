using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace AuthServer.Features.User;

internal static class UserUpdateQueries
{
    /// GoTrue models `Session.IsRecovery`: the session was started by an emailed/texted code or link.
    public static Task<bool> SessionIsRecoveryAsync(NpgsqlConnection conn, Guid sessionId, CancellationToken ct) =>
        conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            select exists (select 1 from auth.mfa_amr_claims
                           where session_id = @sessionId and authentication_method in ('otp', 'magiclink', 'recovery'))
            """, new { sessionId }, cancellationToken: ct));

    public static Task SetUserMetadataAsync(NpgsqlConnection conn, Guid id, JsonObject meta, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set raw_user_meta_data = @meta::jsonb, updated_at = @now where id = @id",
            new { id, meta = meta.ToJsonString(), now }, cancellationToken: ct));

    public static Task SetAppMetadataAsync(NpgsqlConnection conn, Guid id, JsonObject meta, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set raw_app_meta_data = @meta::jsonb, updated_at = @now where id = @id",
            new { id, meta = meta.ToJsonString(), now }, cancellationToken: ct));

    /// New password: pending one-time tokens are void and every other session of the user ends
    /// (GoTrue `UpdatePassword` + `Logout(except current)`).
    public static Task SetPasswordAsync(NpgsqlConnection conn, Guid id, string hash, Guid? currentSession, DateTime now,
        CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set encrypted_password = @hash, updated_at = @now, confirmation_token = '',
                recovery_token = '', email_change_token_new = '', email_change_token_current = '',
                phone_change_token = '', reauthentication_token = ''
            where id = @id;
            delete from auth.one_time_tokens where user_id = @id;
            delete from auth.sessions where user_id = @id and id <> @currentSession;
            """, new { id, hash, now, currentSession = currentSession ?? Guid.Empty }, cancellationToken: ct));

    public static Task SetPendingEmailAsync(NpgsqlConnection conn, Guid id, string email, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set email_change = @email, email_change_sent_at = @now, updated_at = @now where id = @id",
            new { id, email, now }, cancellationToken: ct));

    public static Task SetPendingPhoneAsync(NpgsqlConnection conn, Guid id, string phone, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set phone_change = @phone, phone_change_sent_at = @now, updated_at = @now where id = @id",
            new { id, phone, now }, cancellationToken: ct));

    public static Task SetPhoneAsync(NpgsqlConnection conn, Guid id, string phone, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set phone = @phone, phone_confirmed_at = @now, phone_change = '', updated_at = @now
            where id = @id
            """, new { id, phone, now }, cancellationToken: ct));
}
