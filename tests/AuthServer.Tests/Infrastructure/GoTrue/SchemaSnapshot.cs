using Npgsql;

namespace AuthServer.Tests.Infrastructure.GoTrue;

/// <summary>
/// Everything about the <c>auth</c> schema's definition that GoTrue (or an application's FKs and RLS
/// policies) could notice, one line per fact: tables, columns (type, nullability, default, generation),
/// constraints, indexes, triggers, enum labels, functions, row security. Data rows are not included,
/// except the metadata columns whose round trip is checked separately.
/// </summary>
public sealed class SchemaSnapshot
{
    public required List<string> Facts { get; init; }

    public static async Task<SchemaSnapshot> TakeAsync(string connectionString)
    {
        const string Sql = """
            select 'column ' || table_name || '.' || column_name || ' #' || ordinal_position || ' ' || data_type || '/'
                   || udt_name || ' len=' || coalesce(character_maximum_length::text, '-') || ' null=' || is_nullable
                   || ' default=' || coalesce(column_default, '-') || ' generated=' || is_generated || ' '
                   || coalesce(generation_expression, '')
            from information_schema.columns where table_schema = 'auth'
            union all
            select 'table ' || table_name || ' ' || table_type from information_schema.tables where table_schema = 'auth'
            union all
            select 'constraint ' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
            from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'auth'
            union all
            select 'index ' || indexdef from pg_indexes where schemaname = 'auth'
            union all
            select 'trigger ' || event_object_table || ' ' || trigger_name || ' ' || event_manipulation || ' '
                   || action_timing || ' ' || action_statement
            from information_schema.triggers where event_object_schema = 'auth'
            union all
            select 'enum ' || t.typname || ' ' || string_agg(e.enumlabel, ',' order by e.enumsortorder)
            from pg_enum e join pg_type t on t.oid = e.enumtypid join pg_namespace n on n.oid = t.typnamespace
            where n.nspname = 'auth' group by t.typname
            union all
            select 'function ' || p.proname || ' ' || md5(pg_get_functiondef(p.oid))
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'auth'
            union all
            select 'rls ' || c.relname || ' ' || c.relrowsecurity
            from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'auth' and c.relkind = 'r'
            union all
            select 'schema_migrations ' || count(*) || ' ' || min(version) || ' ' || max(version) from auth.schema_migrations
            order by 1
            """;
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(Sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var facts = new List<string>();
        while (await reader.ReadAsync()) facts.Add(reader.GetString(0));
        return new SchemaSnapshot { Facts = facts };
    }
}
