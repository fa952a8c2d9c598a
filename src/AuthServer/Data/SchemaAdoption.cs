using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace AuthServer.Data;

/// Decides what to do with migration 0001 (the `auth` schema) when it has not been recorded yet:
/// - no `auth` schema, or an empty one → run 0001;
/// - an `auth` schema GoTrue manages (`auth.schema_migrations` with GoTrue's versions) → adopt it: check
///   that every table, column, type and enum label 0001 would create exists with the same type, then
///   record 0001 without running it, so nothing of GoTrue's is created, dropped, renamed or retyped;
/// - anything else → stop the boot, saying what was found.
/// Runs inside the migrator's transaction, under its advisory lock.
internal static partial class SchemaAdoption
{
    const string ProbeSchema = "authserver_probe";

    /// True when 0001 should be recorded as adopted instead of run; throws when the schema is foreign.
    public static async Task<bool> ShouldAdoptAsync(NpgsqlConnection conn, string initialMigration, ILogger log,
        CancellationToken ct)
    {
        var objects = (await conn.QueryAsync<string>(new CommandDefinition(
            """
            select kind || ' auth.' || name from (
                select case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
                            when 'm' then 'view' when 'S' then 'sequence' else 'relation' end as kind, c.relname as name
                from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = 'auth' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
                union all
                select 'type', t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
                where n.nspname = 'auth' and t.typtype in ('e', 'd', 'c')
                  and not exists (select 1 from pg_class c where c.reltype = t.oid and c.relkind <> 'c')
                union all
                select 'function', p.proname || '()' from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'auth'
            ) o order by 1
            """, cancellationToken: ct))).AsList();
        if (objects.Count == 0)
            return false;

        var versions = await GoTrueVersionsAsync(conn, ct);
        if (versions is null || versions.Count == 0)
            throw new MigrationException(
                "The database already has an `auth` schema that neither GoTrue nor AuthServer created: " +
                (versions is null ? "there is no auth.schema_migrations table" : "auth.schema_migrations is empty") +
                $" and no AuthServer migration is recorded, but it holds {objects.Count} object(s): " +
                Summarise(objects) + ". AuthServer will not modify it. Point DATABASE_URL at an empty database, " +
                "move that schema out of the way (alter schema auth rename to …), or restore a complete GoTrue " +
                "dump of the `auth` schema including auth.schema_migrations.");

        var differences = await CompareWithInitialMigrationAsync(conn, initialMigration, ct);
        if (differences.Count > 0)
            throw new MigrationException(
                $"The `auth` schema is managed by GoTrue (auth.schema_migrations: {Describe(versions)}) but lacks " +
                $"what AuthServer needs ({differences.Count} difference(s)): {Summarise(differences)}. " +
                "Upgrade it first by running a current supabase/auth release against this database once " +
                "(`auth migrate`), then start AuthServer again. Nothing was changed.");

        var counts = await conn.QuerySingleAsync<RowCounts>(new CommandDefinition(
            """
            select (select count(*) from auth.users) as users,
                   (select count(*) from auth.users where deleted_at is not null) as deleted_users,
                   (select count(*) from auth.identities) as identities,
                   (select count(*) from auth.sessions) as sessions,
                   (select count(*) from auth.refresh_tokens where revoked = false) as active_refresh_tokens,
                   (select count(*) from auth.sessions where refresh_token_counter is not null) as v2_sessions,
                   (select count(*) from auth.mfa_factors) as mfa_factors
            """, cancellationToken: ct));
        log.LogInformation(
            "Adopting the GoTrue-managed auth schema ({GoTrueVersions}): {Users} users ({DeletedUsers} soft-deleted), " +
            "{Identities} identities, {Sessions} sessions ({V2Sessions} with v2 refresh tokens), " +
            "{ActiveRefreshTokens} active v1 refresh tokens, {MfaFactors} MFA factors. Migration 0001 is recorded " +
            "as adopted and not run; GoTrue's tables are left as they are.",
            Describe(versions), counts.Users, counts.DeletedUsers, counts.Identities, counts.Sessions,
            counts.V2Sessions, counts.ActiveRefreshTokens, counts.MfaFactors);

        await conn.ExecuteAsync(new CommandDefinition(
            """
            create table if not exists authserver.adopted_schema (
                adopted_at timestamptz not null default now(),
                gotrue_versions int not null,
                gotrue_first_version text not null,
                gotrue_last_version text not null,
                users bigint not null,
                identities bigint not null,
                sessions bigint not null
            );
            insert into authserver.adopted_schema
                (gotrue_versions, gotrue_first_version, gotrue_last_version, users, identities, sessions)
            values (@count, @first, @last, @Users, @Identities, @Sessions);
            """,
            new { count = versions.Count, first = versions[0], last = versions[^1], counts.Users, counts.Identities, counts.Sessions },
            cancellationToken: ct));
        return true;
    }

    /// GoTrue's recorded versions, oldest first (`00`, then 14-digit timestamps); null without the table.
    static async Task<List<string>?> GoTrueVersionsAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var exists = await conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            select exists (select 1 from information_schema.columns
                           where table_schema = 'auth' and table_name = 'schema_migrations' and column_name = 'version')
            """, cancellationToken: ct));
        if (!exists) return null;
        var versions = await conn.QueryAsync<string>(new CommandDefinition(
            "select version::text from auth.schema_migrations", cancellationToken: ct));
        // pop's versions are digit strings; anything else is not GoTrue's bookkeeping.
        return versions.Where(v => GoTrueVersion().IsMatch(v)).Order(StringComparer.Ordinal).ToList();
    }

    /// Runs 0001 into a scratch schema inside a savepoint, compares, and rolls the scratch schema back:
    /// the expected shape is 0001 itself, so the check can't drift from it.
    static async Task<List<string>> CompareWithInitialMigrationAsync(NpgsqlConnection conn, string initialMigration,
        CancellationToken ct)
    {
        var probeSql = AuthQualifier().Replace(
            initialMigration.Replace("create schema if not exists auth;", $"create schema {ProbeSchema};"),
            ProbeSchema + ".");
        await conn.ExecuteAsync(new CommandDefinition("savepoint authserver_probe", cancellationToken: ct));
        try
        {
            await using (var cmd = new NpgsqlCommand(probeSql, conn))
                await cmd.ExecuteNonQueryAsync(ct);
            var missing = (await conn.QueryAsync<string>(new CommandDefinition(
                $$"""
                -- Tables and columns: every expected one must exist with the same type (extra ones are fine).
                select case when a.table_name is null and not exists (
                                select 1 from information_schema.tables t
                                where t.table_schema = 'auth' and t.table_name = e.table_name)
                            then 'missing table auth.' || e.table_name
                            when a.column_name is null then 'missing column auth.' || e.table_name || '.' || e.column_name
                            else 'column auth.' || e.table_name || '.' || e.column_name || ' is ' || a.udt_name
                                 || ', expected ' || e.udt_name end
                from information_schema.columns e
                left join information_schema.columns a
                  on a.table_schema = 'auth' and a.table_name = e.table_name and a.column_name = e.column_name
                where e.table_schema = '{{ProbeSchema}}'
                  and (a.column_name is null or a.udt_name <> e.udt_name or a.data_type <> e.data_type
                       or coalesce(a.character_maximum_length, -1) <> coalesce(e.character_maximum_length, -1))
                union
                -- Enum labels GoTrue added over time (e.g. factor_type 'phone').
                select 'type auth.' || t.typname || ' lacks label ''' || e.enumlabel || ''''
                from pg_enum e join pg_type t on t.oid = e.enumtypid join pg_namespace n on n.oid = t.typnamespace
                where n.nspname = '{{ProbeSchema}}' and not exists (
                    select 1 from pg_enum ae join pg_type at on at.oid = ae.enumtypid
                    join pg_namespace an on an.oid = at.typnamespace
                    where an.nspname = 'auth' and at.typname = t.typname and ae.enumlabel = e.enumlabel)
                union
                -- The RLS helper functions application policies call.
                select 'missing function auth.' || p.proname || '()'
                from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = '{{ProbeSchema}}' and not exists (
                    select 1 from pg_proc ap join pg_namespace an on an.oid = ap.pronamespace
                    where an.nspname = 'auth' and ap.proname = p.proname and ap.pronargs = p.pronargs)
                order by 1
                """, cancellationToken: ct))).AsList();
            return missing; // `union` already folds a missing table's columns into one line
        }
        finally
        {
            await conn.ExecuteAsync(new CommandDefinition("rollback to savepoint authserver_probe", cancellationToken: ct));
        }
    }

    static string Describe(List<string> versions) =>
        versions.Count == 1 ? $"1 version, {versions[0]}" : $"{versions.Count} versions, {versions[0]} … {versions[^1]}";

    static string Summarise(List<string> items)
    {
        const int Max = 15;
        var text = new StringBuilder(string.Join("; ", items.Take(Max)));
        if (items.Count > Max) text.Append($"; and {items.Count - Max} more");
        return text.ToString();
    }

    sealed class RowCounts
    {
        public long Users { get; init; }
        public long DeletedUsers { get; init; }
        public long Identities { get; init; }
        public long Sessions { get; init; }
        public long ActiveRefreshTokens { get; init; }
        public long V2Sessions { get; init; }
        public long MfaFactors { get; init; }
    }

    [GeneratedRegex(@"^[0-9]+$")]
    private static partial Regex GoTrueVersion();

    // `auth.` as a schema qualifier (not inside words such as `oauth.` or `reauth`).
    [GeneratedRegex(@"(?<![A-Za-z0-9_])auth\.")]
    private static partial Regex AuthQualifier();
}
