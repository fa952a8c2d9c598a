using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Profile;

/// SQL for `public.users`. Its columns are not known at compile time (apps add their own in their own
/// migrations), so the writable columns are read from the catalogue on each request and the values are
/// converted by PostgreSQL itself with `jsonb_populate_record(null::public.users, …)`: a JSON key maps
/// to the column of the same name with that column's type. The only SQL built from strings is the
/// column list, and every name in it comes from `information_schema`, quoted.
internal static class ProfileQueries
{
    /// Columns never written from a request body.
    public static readonly string[] ReadOnlyColumns = ["id", "created_at", "updated_at"];

    public static async Task<List<string>> WritableColumnsAsync(NpgsqlConnection conn, CancellationToken ct) =>
        (await conn.QueryAsync<string>(new CommandDefinition(
            """
            select column_name from information_schema.columns
            where table_schema = 'public' and table_name = 'users'
              and column_name <> all (@readOnly)
              and is_generated = 'NEVER' and coalesce(identity_generation, '') <> 'ALWAYS'
            order by ordinal_position
            """, new { readOnly = ReadOnlyColumns }, cancellationToken: ct))).AsList();

    /// Review M-3: the rest of the transaction runs as `authenticated` with the caller's claims, as PostgREST
    /// sets them (`set_config('request.jwt.claims', …, true)` and the role, both transaction-local), so
    /// the database's column GRANTs and RLS policies decide what a user may write. The role is fixed, not
    /// the token's `role` claim: a hook-shaped claim must never pick the database role.
    public static Task ActAsUserAsync(NpgsqlConnection conn, string claims, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "select set_config('request.jwt.claims', @claims, true), set_config('role', 'authenticated', true)",
            new { claims }, cancellationToken: ct));

    public static async Task<JsonObject?> FindAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        Parse(await conn.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "select to_jsonb(u)::text from public.users u where u.id = @id", new { id }, cancellationToken: ct)));

    /// The new row, or null when the user already has one (nothing is changed then).
    public static async Task<JsonObject?> InsertAsync(NpgsqlConnection conn, Guid id, JsonObject fields,
        DateTime now, CancellationToken ct)
    {
        var names = fields.Select(f => Quote(f.Key)).ToList();
        var columns = string.Concat(names.Select(n => ", " + n));
        var values = string.Concat(names.Select(n => ", r." + n));
        return Parse(await conn.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            $"""
            insert into public.users as u (id, created_at, updated_at{columns})
            select @id, @now, @now{values}
            from jsonb_populate_record(null::public.users, @data::jsonb) r
            on conflict (id) do nothing
            returning to_jsonb(u)::text
            """, new { id, now, data = fields.ToJsonString() }, cancellationToken: ct)));
    }

    /// The updated row, or null when the user has none.
    public static async Task<JsonObject?> UpdateAsync(NpgsqlConnection conn, Guid id, JsonObject fields,
        DateTime now, CancellationToken ct)
    {
        if (fields.Count == 0) return await FindAsync(conn, id, ct);
        var assignments = string.Join(", ", fields.Select(f => $"{Quote(f.Key)} = r.{Quote(f.Key)}"));
        return Parse(await conn.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            $"""
            update public.users as u set {assignments}, updated_at = @now
            from jsonb_populate_record(null::public.users, @data::jsonb) r
            where u.id = @id
            returning to_jsonb(u)::text
            """, new { id, now, data = fields.ToJsonString() }, cancellationToken: ct)));
    }

    /// Start-up: store GOTRUE_PROFILE_AUTO_CREATE where the auth.users trigger reads it (migration 0500).
    public static async Task ApplySettingAsync(NpgsqlDataSource db, bool autoCreate, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition(
            """
            insert into authserver.profile_settings (singleton, auto_create, updated_at) values (true, @autoCreate, now())
            on conflict (singleton) do update set auto_create = excluded.auto_create, updated_at = excluded.updated_at
            where authserver.profile_settings.auto_create is distinct from excluded.auto_create
            """, new { autoCreate }, cancellationToken: ct));
    }

    static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    static JsonObject? Parse(string? json) => json is null ? null : JsonNode.Parse(json)!.AsObject();
}
