using AuthServer.Data;
using Dapper;
using Npgsql;

namespace AuthServer.Mail;

/// One-time tokens as GoTrue stores them: the hash in the `auth.users` column and mirrored in
/// `auth.one_time_tokens` (one live row per user and type; a new token replaces the old).
internal static class MailQueries
{
    const string Upsert = """
        insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at)
        values (gen_random_uuid(), @id, @type::auth.one_time_token_type, @token, @relatesTo, @now, @now)
        on conflict (user_id, token_type) do update
            set token_hash = excluded.token_hash, relates_to = excluded.relates_to, updated_at = excluded.updated_at
        """;

    /// The user row, locked until the transaction ends: sends and verifications of one user are serialised,
    /// so throttles, attempt counters and single-use tokens hold under concurrent requests.
    public static Task<UserRow?> LockUserAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"""
            select {UserQueries.Columns} from auth.users u
            where u.id = @id and u.instance_id = '00000000-0000-0000-0000-000000000000'
            for update
            """, new { id }, cancellationToken: ct));

    public static Task SetConfirmationTokenAsync(NpgsqlConnection conn, Guid id, string token, string relatesTo, bool invited,
        DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            $"""
            update auth.users set confirmation_token = @token, confirmation_sent_at = @now,
                invited_at = case when @invited then @now else invited_at end
            where id = @id;
            {Upsert.Replace("@type", "'confirmation_token'")};
            """, new { id, token, relatesTo, invited, now }, cancellationToken: ct));

    public static Task SetRecoveryTokenAsync(NpgsqlConnection conn, Guid id, string token, string relatesTo, DateTime now,
        CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            $"""
            update auth.users set recovery_token = @token, recovery_sent_at = @now where id = @id;
            {Upsert.Replace("@type", "'recovery_token'")};
            """, new { id, token, relatesTo, now }, cancellationToken: ct));

    public static Task SetReauthenticationTokenAsync(NpgsqlConnection conn, Guid id, string token, string relatesTo,
        DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            $"""
            update auth.users set reauthentication_token = @token, reauthentication_sent_at = @now where id = @id;
            {Upsert.Replace("@type", "'reauthentication_token'")};
            """, new { id, token, relatesTo, now }, cancellationToken: ct));

    /// Pending email change; an empty/null token leaves no row of that type (generate_link makes one link).
    public static Task SetEmailChangeAsync(NpgsqlConnection conn, Guid id, string newEmail, string? tokenNew, string current,
        string? tokenCurrent, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set email_change = @newEmail, email_change_token_new = coalesce(@tokenNew, ''),
                email_change_token_current = coalesce(@tokenCurrent, ''), email_change_sent_at = @now,
                email_change_confirm_status = 0, updated_at = @now
            where id = @id;
            delete from auth.one_time_tokens where user_id = @id and token_type in ('email_change_token_new', 'email_change_token_current');
            insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at)
            select gen_random_uuid(), @id, t.type::auth.one_time_token_type, t.hash, t.relates_to, @now, @now
            from (values ('email_change_token_new', @tokenNew, @newEmail), ('email_change_token_current', @tokenCurrent, @current))
                as t(type, hash, relates_to)
            where coalesce(t.hash, '') <> '';
            """, new { id, newEmail, tokenNew = string.IsNullOrEmpty(tokenNew) ? null : tokenNew, current, tokenCurrent, now },
            cancellationToken: ct));
}
