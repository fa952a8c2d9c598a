using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Identity;

internal static class IdentityQueries
{
    /// Locked, so two sign-ins with the same new identity serialise on the unique (provider_id, provider).
    public static Task<IdentityRow?> FindAsync(NpgsqlConnection conn, string providerId, string provider, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<IdentityRow>(new CommandDefinition(
            $"""
            select {UserQueries.IdentityColumns} from auth.identities i
            where i.provider_id = @providerId and i.provider = @provider
            for update
            """, new { providerId, provider }, cancellationToken: ct));

    /// Identities carrying one of the emails (GoTrue `DetermineAccountLinking`, "similar identities").
    public static async Task<List<IdentityRow>> FindByEmailAsync(NpgsqlConnection conn, string email, CancellationToken ct) =>
        (await conn.QueryAsync<IdentityRow>(new CommandDefinition(
            $"select {UserQueries.IdentityColumns} from auth.identities i where i.email = @email",
            new { email }, cancellationToken: ct))).AsList();

    /// Identities holding any of the (lower-case) emails (GoTrue `DetermineAccountLinking` "similar identities").
    public static async Task<List<IdentityRow>> FindByEmailsAsync(NpgsqlConnection conn, string[] emails, CancellationToken ct) =>
        (await conn.QueryAsync<IdentityRow>(new CommandDefinition(
            $"select {UserQueries.IdentityColumns} from auth.identities i where i.email = any(@emails)",
            new { emails }, cancellationToken: ct))).AsList();

    /// Non-SSO users with any of the (lower-case) emails, any audience (GoTrue's "similar users").
    public static async Task<List<Guid>> FindUserIdsByEmailsAsync(NpgsqlConnection conn, string[] emails, CancellationToken ct) =>
        (await conn.QueryAsync<Guid>(new CommandDefinition(
            """
            select id from auth.users
            where instance_id = '00000000-0000-0000-0000-000000000000' and lower(email) = any(@emails) and is_sso_user = false
            """, new { emails }, cancellationToken: ct))).AsList();

    /// A concurrent request that inserted the same (provider_id, provider) first wins; this one gets 422.
    public static async Task<Guid> InsertAsync(NpgsqlConnection conn, Guid userId, string provider, string providerId,
        JsonObject identityData, DateTime now, CancellationToken ct)
    {
        try
        {
            return await conn.ExecuteScalarAsync<Guid>(new CommandDefinition(
                """
                insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
                values (gen_random_uuid(), @providerId, @userId, @identityData::jsonb, @provider, @now, @now, @now)
                returning id
                """, new { userId, provider, providerId, identityData = identityData.ToJsonString(), now },
                cancellationToken: ct));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw ApiError.Unprocessable(ErrorCode.IdentityAlreadyExists, "Identity is already linked to another user");
        }
    }

    /// GoTrue `LinkAccount`: a new identity on an existing user (locked first), its claims merged into
    /// user_metadata, `app_metadata.providers` brought up to date.
    public static async Task<Guid> LinkAsync(NpgsqlConnection conn, Guid userId, string provider, string providerId,
        JsonObject identityData, DateTime now, CancellationToken ct)
    {
        await LockUserAsync(conn, userId, ct);
        var identityId = await InsertAsync(conn, userId, provider, providerId, identityData, now, ct);
        await MergeUserMetadataAsync(conn, userId, identityData, now, ct);
        await UpdateProvidersAsync(conn, userId, now, ct);
        return identityId;
    }

    /// AccountExists: fresh claims, sign-in time, claims merged into user_metadata (GoTrue `UpdateUserMetaData`).
    public static async Task RefreshAsync(NpgsqlConnection conn, Guid identityId, Guid userId, JsonObject identityData,
        DateTime now, CancellationToken ct)
    {
        await conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.identities set identity_data = @identityData::jsonb, last_sign_in_at = @now, updated_at = @now
            where id = @identityId
            """, new { identityId, identityData = identityData.ToJsonString(), now }, cancellationToken: ct));
        await MergeUserMetadataAsync(conn, userId, identityData, now, ct);
    }

    /// Keys replace, a null value removes the key (GoTrue `User.UpdateUserMetaData`).
    public static Task MergeUserMetadataAsync(NpgsqlConnection conn, Guid userId, JsonObject updates, DateTime now,
        CancellationToken ct)
    {
        var nulls = updates.Where(kv => kv.Value is null).Select(kv => kv.Key).ToArray();
        var values = new JsonObject(updates.Where(kv => kv.Value is not null)
            .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value!.DeepClone())));
        return conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users
            set raw_user_meta_data = (coalesce(raw_user_meta_data, '{}'::jsonb) || @values::jsonb) - @nulls::text[],
                updated_at = @now
            where id = @userId
            """, new { userId, values = values.ToJsonString(), nulls, now }, cancellationToken: ct));
    }

    /// `app_metadata.providers` = distinct identity providers by first use, `provider` = the first
    /// (GoTrue `User.UpdateAppMetaDataProviders`); other app_metadata keys are kept.
    public static Task UpdateProvidersAsync(NpgsqlConnection conn, Guid userId, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users u
            set raw_app_meta_data = coalesce(u.raw_app_meta_data, '{}'::jsonb)
                    || jsonb_build_object('providers', p.list)
                    || case when jsonb_array_length(p.list) > 0 then jsonb_build_object('provider', p.list -> 0) else '{}'::jsonb end,
                updated_at = @now
            from (
                select coalesce(jsonb_agg(provider order by first_use, provider), '[]'::jsonb) as list
                from (select provider, min(created_at) as first_use from auth.identities where user_id = @userId group by provider) x
            ) p
            where u.id = @userId
            """, new { userId, now }, cancellationToken: ct));

    /// A user created by an external identity: no password, `app_metadata = {provider, providers}`,
    /// `user_metadata` = the identity's claims (GoTrue `signupNewUser` from `SignupParams`).
    public static Task CreateUserAsync(NpgsqlConnection conn, Guid id, string aud, string role, string? email,
        string provider, JsonObject identityData, DateTime now, CancellationToken ct, bool ssoUser = false)
    {
        var appMeta = new JsonObject { ["provider"] = provider, ["providers"] = new JsonArray(provider) };
        return conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.users (
                instance_id, id, aud, role, email, encrypted_password, confirmation_token, recovery_token,
                email_change_token_new, email_change, email_change_token_current, phone_change, phone_change_token,
                reauthentication_token, raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at,
                is_anonymous, is_sso_user)
            values (
                '00000000-0000-0000-0000-000000000000', @id, @aud, @role, @email, '', '', '', '', '', '', '', '', '',
                @appMeta::jsonb, @userMeta::jsonb, false, @now, @now, false, @ssoUser)
            """, new
            {
                id,
                aud,
                role,
                email,
                now,
                ssoUser,
                appMeta = appMeta.ToJsonString(),
                userMeta = identityData.ToJsonString(),
            }, cancellationToken: ct));
    }

    /// Pre-account-takeover defence for an unconfirmed user gaining an external identity: the password
    /// and every other identity go, user_metadata becomes the new identity's (GoTrue `RemoveUnconfirmedIdentities`).
    public static Task RemoveUnconfirmedIdentitiesAsync(NpgsqlConnection conn, Guid userId, Guid keepIdentityId,
        JsonObject identityData, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set encrypted_password = '', raw_user_meta_data = @identityData::jsonb, updated_at = @now
            where id = @userId;
            delete from auth.identities where user_id = @userId and id <> @keepIdentityId;
            """, new { userId, keepIdentityId, identityData = identityData.ToJsonString(), now }, cancellationToken: ct));

    /// GoTrue `User.Confirm`.
    public static Task ConfirmEmailAsync(NpgsqlConnection conn, Guid userId, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set email_confirmed_at = coalesce(email_confirmed_at, @now), confirmation_token = '',
                updated_at = @now,
                raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || '{"email_verified": true}'::jsonb
            where id = @userId
            """, new { userId, now }, cancellationToken: ct));

    /// GoTrue `User.UpdateUserEmailFromIdentities`: keep the current email while an identity still has it,
    /// else a verified identity's email, else any; a unique violation means another user has it.
    public static Task SetEmailFromIdentitiesAsync(NpgsqlConnection conn, Guid userId, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users u set email = (
                select i.email from auth.identities i
                where i.user_id = u.id and coalesce(i.email, '') <> ''
                order by i.email = lower(coalesce(u.email, '')) desc,
                    coalesce(i.identity_data ->> 'email_verified', '') = 'true' desc, i.created_at
                limit 1), updated_at = @now
            where u.id = @userId
            """, new { userId, now }, cancellationToken: ct));

    public static Task SetNotAnonymousAsync(NpgsqlConnection conn, Guid userId, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set is_anonymous = false, updated_at = @now where id = @userId and is_anonymous",
            new { userId, now }, cancellationToken: ct));

    public static Task<int> DeleteAsync(NpgsqlConnection conn, Guid identityId, Guid userId, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "delete from auth.identities where id = @identityId and user_id = @userId",
            new { identityId, userId }, cancellationToken: ct));

    public static Task ClearPhoneAsync(NpgsqlConnection conn, Guid userId, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.users set phone = null, phone_confirmed_at = null, updated_at = @now where id = @userId",
            new { userId, now }, cancellationToken: ct));

    public static Task<Guid?> FindInvitedUserAsync(NpgsqlConnection conn, string inviteToken, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(
            """
            select id from auth.users
            where confirmation_token = @inviteToken and invited_at is not null and email_confirmed_at is null
            """, new { inviteToken }, cancellationToken: ct));

    public static Task<UserRow?> LockUserAsync(NpgsqlConnection conn, Guid userId, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"select {UserQueries.Columns} from auth.users u where u.id = @userId for update",
            new { userId }, cancellationToken: ct));
}
