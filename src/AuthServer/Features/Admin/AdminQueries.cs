using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Data;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Admin;

internal static class AdminQueries
{
    /// GoTrue `FindUsersInAudience`: `email LIKE %f%` (case-sensitive, as GoTrue) or full_name ILIKE, plus
    /// our optional filters (<see cref="UserListFilter"/>). The total and the page in one round trip.
    public static async Task<(long Total, List<UserRow> Users)> ListUsersAsync(NpgsqlConnection conn, string aud,
        UserListFilter filter, bool ascending, long limit, long offset, DateTime now, CancellationToken ct)
    {
        // Only fixed fragments are appended; the request's values travel as parameters.
        var where = new StringBuilder("""
            u.instance_id = '00000000-0000-0000-0000-000000000000' and u.aud = @aud
              and (@filter = '' or u.email like @pattern or u.raw_user_meta_data ->> 'full_name' ilike @pattern)
            """);
        if (filter.Phone.Length > 0) where.Append(" and u.phone like @phonePattern");
        if (filter.Unconfirmed) where.Append(" and u.email_confirmed_at is null and u.phone_confirmed_at is null and not u.is_anonymous");
        if (filter.Anonymous) where.Append(" and u.is_anonymous");
        if (filter.Banned) where.Append(" and u.banned_until > @now");
        if (filter.Sso) where.Append(" and u.is_sso_user");
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            select count(*) from auth.users u where {where};
            select {UserQueries.Columns} from auth.users u where {where}
            order by u.created_at {(ascending ? "asc" : "desc")}, u.id
            limit @limit offset @offset;
            """,
            new
            {
                aud,
                filter = filter.Text,
                pattern = "%" + filter.Text + "%",
                phonePattern = "%" + filter.Phone + "%",
                now,
                limit,
                offset,
            }, cancellationToken: ct));
        var total = await grid.ReadSingleAsync<long>();
        var users = (await grid.ReadAsync<UserRow>()).AsList();
        return (total, users);
    }

    /// The user with identities and factors, as GoTrue's eager `FindUserByID` loads it.
    public static async Task<(UserRow User, List<IdentityRow> Identities, List<FactorRow> Factors)?> FindUserAsync(
        NpgsqlConnection conn, Guid id, CancellationToken ct)
    {
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            select {UserQueries.Columns} from auth.users u
            where u.id = @id and u.instance_id = '00000000-0000-0000-0000-000000000000';
            select {UserQueries.IdentityColumns} from auth.identities i where i.user_id = @id order by i.created_at, i.id;
            select {FactorRow.Columns} from auth.mfa_factors f where f.user_id = @id order by f.created_at, f.id;
            """, new { id }, cancellationToken: ct));
        var user = await grid.ReadSingleOrDefaultAsync<UserRow>();
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        var factors = (await grid.ReadAsync<FactorRow>()).AsList();
        return user is null ? null : (user, identities, factors);
    }

    public static Task<FactorRow?> FindFactorAsync(NpgsqlConnection conn, Guid userId, Guid factorId, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<FactorRow>(new CommandDefinition(
            $"select {FactorRow.Columns} from auth.mfa_factors f where f.user_id = @userId and f.id = @factorId",
            new { userId, factorId }, cancellationToken: ct));

    /// GoTrue `IsDuplicatedEmail`: a non-SSO identity with that email whose user is in the audience,
    /// or a non-SSO user with that email, other than <paramref name="except"/>.
    public static Task<bool> EmailTakenAsync(NpgsqlConnection conn, string email, string aud, Guid? except, CancellationToken ct) =>
        conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            select exists (
                select 1 from auth.identities i join auth.users u on u.id = i.user_id
                where i.email = @email and i.provider not like 'sso:%' and u.aud = @aud and u.id <> @except
                  and u.instance_id = '00000000-0000-0000-0000-000000000000'
            ) or exists (
                select 1 from auth.users u
                where u.instance_id = '00000000-0000-0000-0000-000000000000' and lower(u.email) = @email
                  and u.aud = @aud and u.is_sso_user = false and u.id <> @except
            )
            """, new { email, aud, except = except ?? Guid.Empty }, cancellationToken: ct));

    public static Task<bool> PhoneTakenAsync(NpgsqlConnection conn, string phone, string aud, Guid? except, CancellationToken ct) =>
        conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            select exists (
                select 1 from auth.users u
                where u.instance_id = '00000000-0000-0000-0000-000000000000' and u.phone = @phone and u.aud = @aud
                  and u.is_sso_user = false and u.id <> @except)
            """, new { phone, aud, except = except ?? Guid.Empty }, cancellationToken: ct));

    public static Task<bool> UserExistsAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select 1 from auth.users where id = @id)", new { id }, cancellationToken: ct));

    /// The user as `adminUserCreate` writes it, with an email and/or phone identity whose
    /// identity_data is GoTrue's `provider.Claims{Subject, Email|Phone}` map.
    public static Task CreateUserAsync(NpgsqlConnection conn, Guid id, string aud, string role, string? email, string? phone,
        string passwordHash, JsonObject appMetadata, JsonObject userMetadata, bool emailConfirm, bool phoneConfirm,
        DateTime? bannedUntil, DateTime now, CancellationToken ct)
    {
        string? Identity(string? value, string key) => value is null ? null : new JsonObject
        {
            ["sub"] = id.ToString(),
            [key] = value,
            ["email_verified"] = false,
            ["phone_verified"] = false,
        }.ToJsonString();

        return conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.users (
                instance_id, id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at,
                confirmation_token, recovery_token, email_change_token_new, email_change, email_change_token_current,
                phone_change, phone_change_token, reauthentication_token, raw_app_meta_data, raw_user_meta_data,
                is_super_admin, created_at, updated_at, banned_until, is_anonymous)
            values (
                '00000000-0000-0000-0000-000000000000', @id, @aud, @role, @email, @phone, @passwordHash,
                case when @emailConfirm then @now end, case when @phoneConfirm then @now end,
                '', '', '', '', '', '', '', '', @appMeta::jsonb, @userMeta::jsonb, false, @now, @now, @bannedUntil, false);
            insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            select gen_random_uuid(), @idText, @id, data::jsonb, provider, @now, @now, @now
            from (values (@emailIdentity, 'email', 1), (@phoneIdentity, 'phone', 2)) as v(data, provider, ord)
            where data is not null
            order by ord;
            """,
            new
            {
                id,
                idText = id.ToString(),
                aud,
                role,
                email,
                phone,
                passwordHash,
                emailConfirm,
                phoneConfirm,
                now,
                bannedUntil,
                appMeta = appMetadata.ToJsonString(),
                userMeta = userMetadata.ToJsonString(),
                emailIdentity = Identity(email, "email"),
                phoneIdentity = Identity(phone, "phone"),
            }, cancellationToken: ct));
    }

    public static Task ExecuteAsync(NpgsqlConnection conn, string sql, object args, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(sql, args, cancellationToken: ct));

    /// GoTrue `User.Confirm`: confirm, mark the metadata verified, drop pending one-time tokens.
    public const string ConfirmEmailSql = """
        update auth.users set email_confirmed_at = @now, confirmation_token = '', updated_at = @now,
            raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || '{"email_verified": true}'::jsonb
        where id = @id;
        delete from auth.one_time_tokens where user_id = @id;
        """;

    /// GoTrue `User.ConfirmPhone` (the metadata is left alone).
    public const string ConfirmPhoneSql = """
        update auth.users set phone_confirmed_at = @now, confirmation_token = '', updated_at = @now where id = @id;
        delete from auth.one_time_tokens where user_id = @id;
        """;

    /// GoTrue `UpdatePassword(tx, nil)`: new hash, every pending token cleared, every session ended.
    public const string SetPasswordSql = """
        update auth.users set encrypted_password = @hash, confirmation_token = '', confirmation_sent_at = null,
            recovery_token = '', recovery_sent_at = null, email_change_token_current = '', email_change_token_new = '',
            email_change_sent_at = null, phone_change_token = '', phone_change_sent_at = null,
            reauthentication_token = '', reauthentication_sent_at = null, updated_at = @now
        where id = @id;
        delete from auth.one_time_tokens where user_id = @id;
        delete from auth.sessions where user_id = @id;
        delete from auth.refresh_tokens where user_id = @idText;
        """;
}
