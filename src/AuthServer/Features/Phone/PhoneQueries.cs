using AuthServer.Data;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Phone;

internal static class PhoneQueries
{
    /// GoTrue `FindUserByPhoneChangeAndAudience`.
    public static Task<UserRow?> FindByPhoneChangeAsync(NpgsqlConnection conn, string phone, string aud, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"""
            select {UserQueries.Columns} from auth.users u
            where u.instance_id = '00000000-0000-0000-0000-000000000000'
              and u.phone_change = @phone and u.aud = @aud and u.is_sso_user = false
            limit 1
            """, new { phone, aud }, cancellationToken: ct));

    public static Task<(string? ConfirmationToken, string? PhoneChangeToken)> TokensAsync(NpgsqlConnection conn, Guid id,
        CancellationToken ct) =>
        conn.QuerySingleAsync<(string?, string?)>(new CommandDefinition(
            "select confirmation_token, phone_change_token from auth.users where id = @id", new { id }, cancellationToken: ct));

    /// Voids a phone code that reached the attempt cap: its users column and its one_time_tokens row.
    public static Task VoidAsync(NpgsqlConnection conn, Guid id, string hash, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set
                confirmation_token = case when confirmation_token = @hash then '' else confirmation_token end,
                phone_change_token = case when phone_change_token = @hash then '' else phone_change_token end
            where id = @id;
            delete from auth.one_time_tokens where user_id = @id and token_hash = @hash;
            """, new { id, hash }, cancellationToken: ct));

    /// A sign-up whose confirmation SMS could not be sent is undone (it was created for this request).
    public static Task DeleteUnconfirmedUserAsync(NpgsqlConnection conn, Guid id) =>
        conn.ExecuteAsync(new CommandDefinition(
            "delete from auth.users where id = @id and phone_confirmed_at is null and email_confirmed_at is null",
            new { id }));

    /// M-5: a password nobody proved is removed before the owner confirms the account with a code.
    public static Task ClearPasswordAsync(NpgsqlConnection conn, Guid id, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set encrypted_password = '', updated_at = @now where id = @id",
            new { id, now }, cancellationToken: ct));

    /// GoTrue `ConfirmPhone`: confirmed and the token cleared. Unlike `Confirm` (email) it leaves user_metadata and
    /// the identity's `phone_verified` as they are.
    public static Task ConfirmPhoneAsync(NpgsqlConnection conn, Guid id, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set phone_confirmed_at = @now, confirmation_token = '', is_anonymous = false, updated_at = @now
            where id = @id;
            """, new { id, now }, cancellationToken: ct));

    /// GoTrue `smsVerify` for phone_change + `ConfirmPhoneChange`: the pending phone becomes the phone,
    /// confirmed; the phone identity follows it or is created (the user stops being anonymous), and
    /// `app_metadata.providers` is recomputed from the identities.
    public static Task ApplyPhoneChangeAsync(NpgsqlConnection conn, Guid id, string phone, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set phone = @phone, phone_change = '', phone_change_token = '', phone_confirmed_at = @now,
                is_anonymous = false, updated_at = @now
            where id = @id;
            update auth.identities set identity_data = identity_data || jsonb_build_object('phone', @phone), updated_at = @now
            where user_id = @id and provider = 'phone';
            insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            select gen_random_uuid(), @id::text, @id,
                jsonb_build_object('sub', @id::text, 'phone', @phone, 'email_verified', false, 'phone_verified', true),
                'phone', @now, @now, @now
            where not exists (select 1 from auth.identities where user_id = @id and provider = 'phone');
            update auth.users u set raw_app_meta_data = coalesce(u.raw_app_meta_data, '{}'::jsonb) || jsonb_build_object(
                'provider', coalesce(u.raw_app_meta_data->'provider', p.providers->0), 'providers', p.providers)
            from (select jsonb_agg(provider order by first) as providers
                  from (select provider, min(created_at) as first from auth.identities where user_id = @id group by provider) x) p
            where u.id = @id;
            """, new { id, phone, now }, cancellationToken: ct));
}
