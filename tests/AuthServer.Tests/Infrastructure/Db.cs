using Dapper;
using Npgsql;

namespace AuthServer.Tests.Infrastructure;

/// <summary>Plain SQL against a fixture's own database, for arranging state and asserting rows.</summary>
public sealed class Db(string connectionString)
{
    public const string NilUuid = "00000000-0000-0000-0000-000000000000";

    static Db() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    public string ConnectionString { get; } = connectionString;

    public async Task<T> ScalarAsync<T>(string sql, object? args = null)
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        return (await conn.ExecuteScalarAsync<T>(sql, args))!;
    }

    public async Task<T> SingleAsync<T>(string sql, object? args = null)
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        return await conn.QuerySingleAsync<T>(sql, args);
    }

    public async Task<List<T>> QueryAsync<T>(string sql, object? args = null)
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        return (await conn.QueryAsync<T>(sql, args)).ToList();
    }

    public async Task<int> ExecuteAsync(string sql, object? args = null)
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        return await conn.ExecuteAsync(sql, args);
    }

    /// <summary>
    /// A confirmed email user written the way GoTrue writes one (schema.md §0, api.md §5.6), for states
    /// the API under test cannot produce itself.
    /// </summary>
    public async Task<Guid> InsertEmailUserAsync(string email, string password, bool confirmed = true)
    {
        var id = Guid.NewGuid();
        var meta = $$"""{"sub":"{{id}}","email":"{{email}}","email_verified":{{(confirmed ? "true" : "false")}},"phone_verified":false}""";
        await ExecuteAsync(
            """
            insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                confirmation_token, recovery_token, email_change_token_new, email_change,
                raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous)
            values (@nil::uuid, @id, 'authenticated', 'authenticated', @email, @hash, case when @confirmed then now() end,
                '', '', '', '', '{"provider":"email","providers":["email"]}'::jsonb, @meta::jsonb, now(), now(), false);
            insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            values (@id::text, @id, @meta::jsonb, 'email', now(), now(), now());
            """,
            new { nil = NilUuid, id, email, hash = BCrypt.Net.BCrypt.HashPassword(password, 4), confirmed, meta });
        return id;
    }
}
