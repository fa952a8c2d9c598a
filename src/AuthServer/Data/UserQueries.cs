using Dapper;
using Npgsql;

namespace AuthServer.Data;

/// User lookups shared by sign-up, the token grants and /user. GoTrue filters every lookup on the
/// nil instance_id (schema.md §0); rows with another instance_id are invisible to it, and to us.
internal static class UserQueries
{
    public const string Columns = """
        u.id, u.aud, u.role, u.email, u.encrypted_password, u.email_confirmed_at, u.invited_at, u.phone,
        u.phone_confirmed_at, u.confirmation_sent_at, u.confirmed_at, u.recovery_sent_at, u.email_change,
        u.email_change_sent_at, u.phone_change, u.phone_change_sent_at, u.reauthentication_sent_at,
        u.last_sign_in_at, u.raw_app_meta_data::text as raw_app_meta_data,
        u.raw_user_meta_data::text as raw_user_meta_data, u.created_at, u.updated_at, u.banned_until,
        u.deleted_at, u.is_anonymous, u.is_sso_user
        """;

    public const string IdentityColumns = """
        i.id, i.provider_id, i.user_id, i.identity_data::text as identity_data, i.provider,
        i.last_sign_in_at, i.created_at, i.updated_at, i.email
        """;

    public static Task<UserRow?> FindByEmailAsync(NpgsqlConnection conn, string email, string aud, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"""
            select {Columns} from auth.users u
            where u.instance_id = '00000000-0000-0000-0000-000000000000'
              and lower(u.email) = @email and u.aud = @aud and u.is_sso_user = false
            limit 1
            """, new { email, aud }, cancellationToken: ct));

    public static Task<UserRow?> FindByPhoneAsync(NpgsqlConnection conn, string phone, string aud, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"""
            select {Columns} from auth.users u
            where u.instance_id = '00000000-0000-0000-0000-000000000000'
              and u.phone = @phone and u.aud = @aud and u.is_sso_user = false
            limit 1
            """, new { phone, aud }, cancellationToken: ct));

    /// The user with its identities (oldest first), in one round trip.
    public static async Task<(UserRow User, List<IdentityRow> Identities)?> FindWithIdentitiesAsync(
        NpgsqlConnection conn, Guid id, CancellationToken ct)
    {
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            select {Columns} from auth.users u
            where u.id = @id and u.instance_id = '00000000-0000-0000-0000-000000000000';
            select {IdentityColumns} from auth.identities i where i.user_id = @id order by i.created_at, i.id;
            """, new { id }, cancellationToken: ct));
        var user = await grid.ReadSingleOrDefaultAsync<UserRow>();
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        return user is null ? null : (user, identities);
    }
}
