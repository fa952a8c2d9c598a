using AuthServer.Data;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Verify;

/// The state changes of a successful verification (GoTrue internal/models/user.go `Confirm`, `Recover`,
/// `ConfirmEmailChange`) and the wrong-attempt counter.
internal static class VerifyQueries
{
    /// The user an emailed link (`token_hash`) belongs to, from `auth.one_time_tokens`.
    public static Task<Guid?> FindUserByTokenHashAsync(NpgsqlConnection conn, string tokenHash, string[] types,
        CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(
            """
            select user_id from auth.one_time_tokens
            where token_hash = @tokenHash and token_type::text = any(@types)
            limit 1
            """, new { tokenHash, types }, cancellationToken: ct));

    /// GoTrue `FindUserForEmailChange`: the new address with its token, or (secure change) the current one.
    public static Task<Guid?> FindUserForEmailChangeAsync(NpgsqlConnection conn, string email, string hash, string aud,
        bool secure, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(
            """
            select id from auth.users
            where instance_id = '00000000-0000-0000-0000-000000000000' and aud = @aud and is_sso_user = false and (
                (lower(email_change) = @email and email_change_token_new in (@hash, 'pkce_' || @hash))
                or (@secure and lower(email) = @email and email_change_token_current in (@hash, 'pkce_' || @hash)))
            limit 1
            """, new { email, hash, aud, secure }, cancellationToken: ct));

    public sealed class Tokens
    {
        public string? ConfirmationToken { get; init; }
        public string? RecoveryToken { get; init; }
        public string? EmailChangeTokenNew { get; init; }
        public string? EmailChangeTokenCurrent { get; init; }
        public short EmailChangeConfirmStatus { get; init; }
        public string? ReauthenticationToken { get; init; }
    }

    public static Task<Tokens> LoadTokensAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.QuerySingleAsync<Tokens>(new CommandDefinition(
            """
            select confirmation_token, recovery_token, email_change_token_new, email_change_token_current,
                   email_change_confirm_status, reauthentication_token
            from auth.users where id = @id
            """, new { id }, cancellationToken: ct));

    /// One more wrong code against each stored token; returns the hashes that reached the cap, which the
    /// caller then voids. Atomic in PostgreSQL, so concurrent guesses are all counted.
    public static async Task<List<string>> CountFailureAsync(NpgsqlConnection conn, Guid userId, string[] tokenHashes,
        int cap, DateTime now, CancellationToken ct) =>
        (await conn.QueryAsync<string>(new CommandDefinition(
            """
            insert into authserver.otp_failures (token_hash, user_id, failures, updated_at)
            select h, @userId, 1, @now from unnest(@tokenHashes) as h
            on conflict (token_hash) do update set failures = authserver.otp_failures.failures + 1, updated_at = @now
            returning case when failures >= @cap then token_hash end
            """, new { userId, tokenHashes, cap, now }, cancellationToken: ct))).Where(h => h is not null).ToList();

    /// Stored email codes closed to guessing for this client (review M-2): this client made
    /// <paramref name="perClient"/> wrong guesses at it, or all clients together <paramref name="total"/>.
    /// Only the code path closes; the link (`token_hash`) stays valid.
    public static async Task<HashSet<string>> ClosedCodesAsync(NpgsqlConnection conn, string[] tokenHashes,
        string clientKey, int perClient, int total, CancellationToken ct) =>
        (await conn.QueryAsync<string>(new CommandDefinition(
            """
            select token_hash from authserver.otp_failures
            where token_hash = any(@tokenHashes) and failures >= @total
            union
            select token_hash from authserver.otp_client_failures
            where token_hash = any(@tokenHashes) and client_key = @clientKey and failures >= @perClient
            """, new { tokenHashes, clientKey, perClient, total }, cancellationToken: ct))).ToHashSet();

    /// One more wrong email code against each stored token, in total and for this client. Never voids:
    /// the caller holds the user row lock, so the check in <see cref="ClosedCodesAsync"/> and this count
    /// are serialised per user.
    public static Task CountCodeFailureAsync(NpgsqlConnection conn, Guid userId, string[] tokenHashes, string clientKey,
        DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into authserver.otp_failures (token_hash, user_id, failures, updated_at)
            select h, @userId, 1, @now from unnest(@tokenHashes) as h
            on conflict (token_hash) do update set failures = authserver.otp_failures.failures + 1, updated_at = @now;
            insert into authserver.otp_client_failures (token_hash, client_key, user_id, failures, updated_at)
            select h, @clientKey, @userId, 1, @now from unnest(@tokenHashes) as h
            on conflict (token_hash, client_key) do update
                set failures = authserver.otp_client_failures.failures + 1, updated_at = @now;
            """, new { userId, tokenHashes, clientKey, now }, cancellationToken: ct));

    /// Voids exhausted codes: the users column and the one_time_tokens row.
    public static Task VoidTokensAsync(NpgsqlConnection conn, Guid id, string[] hashes, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set
                confirmation_token = case when confirmation_token = any(@hashes) then '' else confirmation_token end,
                recovery_token = case when recovery_token = any(@hashes) then '' else recovery_token end,
                email_change_token_new = case when email_change_token_new = any(@hashes) then '' else email_change_token_new end,
                email_change_token_current = case when email_change_token_current = any(@hashes) then '' else email_change_token_current end,
                reauthentication_token = case when reauthentication_token = any(@hashes) then '' else reauthentication_token end
            where id = @id;
            delete from auth.one_time_tokens where user_id = @id and token_hash = any(@hashes);
            """, new { id, hashes }, cancellationToken: ct));

    /// Email confirmed (signup, invite, first magic link): GoTrue `Confirm` (user_metadata.email_verified).
    /// <paramref name="markIdentities"/>: GoTrue `signupVerify` also sets `email_verified` on every identity
    /// whose email is the user's; `recoverVerify` does not.
    public static Task ConfirmEmailAsync(NpgsqlConnection conn, Guid id, DateTime now, CancellationToken ct,
        bool markIdentities) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set email_confirmed_at = coalesce(email_confirmed_at, @now), confirmation_token = '',
                updated_at = @now,
                raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || '{"email_verified": true}'::jsonb
            where id = @id;
            update auth.identities i set identity_data = i.identity_data || '{"email_verified": true}'::jsonb, updated_at = @now
            from auth.users u
            where @markIdentities and u.id = @id and i.user_id = u.id
                and coalesce(i.email, '') <> '' and i.email = lower(coalesce(u.email, ''));
            """, new { id, now, markIdentities }, cancellationToken: ct));

    /// M-5: a password nobody proved is removed when the owner confirms the account another way.
    public static Task ClearPasswordAsync(NpgsqlConnection conn, Guid id, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set encrypted_password = '', updated_at = @now where id = @id",
            new { id, now }, cancellationToken: ct));

    public static Task SetPasswordAsync(NpgsqlConnection conn, Guid id, string hash, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set encrypted_password = @hash, updated_at = @now where id = @id",
            new { id, hash, now }, cancellationToken: ct));

    public static Task ClearRecoveryAsync(NpgsqlConnection conn, Guid id, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set recovery_token = '', updated_at = @now where id = @id", new { id, now }, cancellationToken: ct));

    /// Secure email change, first of two links: remember which one was used.
    public static Task AcceptFirstEmailChangeLinkAsync(NpgsqlConnection conn, Guid id, bool current, DateTime now,
        CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(current
            ? """
              update auth.users set email_change_confirm_status = 1, email_change_token_current = '', updated_at = @now where id = @id;
              delete from auth.one_time_tokens where user_id = @id and token_type = 'email_change_token_current';
              """
            : """
              update auth.users set email_change_confirm_status = 1, email_change_token_new = '', updated_at = @now where id = @id;
              delete from auth.one_time_tokens where user_id = @id and token_type = 'email_change_token_new';
              """, new { id, now }, cancellationToken: ct));

    /// GoTrue `ConfirmEmailChange` (+ anonymous upgrade): the pending address becomes the email, confirmed;
    /// the email identity follows it, or is created for a user without one (who stops being anonymous).
    public static Task ApplyEmailChangeAsync(NpgsqlConnection conn, Guid id, string newEmail, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set email = @newEmail, email_change = '', email_change_token_new = '',
                email_change_token_current = '', email_change_confirm_status = 0,
                email_confirmed_at = coalesce(email_confirmed_at, @now), is_anonymous = false, updated_at = @now,
                raw_user_meta_data = case when raw_user_meta_data ? 'email'
                    then raw_user_meta_data || jsonb_build_object('email', @newEmail) else raw_user_meta_data end
            where id = @id;
            update auth.identities set identity_data = identity_data || jsonb_build_object('email', @newEmail), updated_at = @now
            where user_id = @id and provider = 'email' and identity_data ? 'email';
            insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            select gen_random_uuid(), @id::text, @id,
                jsonb_build_object('sub', @id::text, 'email', @newEmail, 'email_verified', true, 'phone_verified', false),
                'email', @now, @now, @now
            where not exists (select 1 from auth.identities where user_id = @id and provider = 'email');
            update auth.users u set raw_app_meta_data = coalesce(u.raw_app_meta_data, '{}'::jsonb) || jsonb_build_object(
                'provider', p.providers->0, 'providers', p.providers)
            from (select jsonb_agg(provider order by first) as providers
                  from (select provider, min(created_at) as first from auth.identities where user_id = @id group by provider) x) p
            where u.id = @id;
            """, new { id, newEmail, now }, cancellationToken: ct));

    /// After any successful verification no one-time token of the user stays usable.
    public static Task ClearOneTimeTokensAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            delete from auth.one_time_tokens where user_id = @id;
            delete from authserver.otp_failures where user_id = @id;
            delete from authserver.otp_client_failures where user_id = @id;
            """, new { id }, cancellationToken: ct));
}
