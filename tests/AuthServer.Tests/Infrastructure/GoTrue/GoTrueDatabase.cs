using System.Reflection;
using Npgsql;

namespace AuthServer.Tests.Infrastructure.GoTrue;

/// <summary>
/// Databases shaped like one GoTrue created and used (gotrue_database.sql): a template built once per
/// test run — migrations/0001's DDL, GoTrue's auth.schema_migrations, seeded rows — never touched by
/// AuthServer's migrator, and a fresh clone per caller.
/// </summary>
public static class GoTrueDatabase
{
    const string Template = "gotrue_template";
    static readonly SemaphoreSlim Gate = new(1, 1);
    static bool templateReady;
    static int clones;

    /// <summary>A new database copied from the GoTrue template; returns its connection string.</summary>
    public static async Task<string> CloneAsync(string hint)
    {
        var cluster = await PostgresCluster.GetAsync();
        var name = $"g{Interlocked.Increment(ref clones)}_{new string(hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(40).ToArray())}";
        await Gate.WaitAsync();
        try
        {
            if (!templateReady)
            {
                await CreateTemplateAsync(cluster);
                templateReady = true;
            }
            await ExecuteAsync(Admin(cluster, "postgres"), $"""create database "{name}" template {Template}""");
        }
        finally
        {
            Gate.Release();
        }
        return cluster.ConnectionString(name);
    }

    /// <summary>An empty database (no auth schema), for arranging other starting points.</summary>
    public static async Task<string> CreateEmptyAsync(string hint)
    {
        var cluster = await PostgresCluster.GetAsync();
        var name = $"e{Interlocked.Increment(ref clones)}_{new string(hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(40).ToArray())}";
        await ExecuteAsync(Admin(cluster, "postgres"), $"""create database "{name}" """);
        return cluster.ConnectionString(name);
    }

    /// <summary>The text of migrations/0001 as the server embeds it.</summary>
    public static string InitialMigration() => Resource(typeof(Program).Assembly, "migrations/0001_create_auth_schema.sql");

    static async Task CreateTemplateAsync(PostgresCluster cluster)
    {
        await ExecuteAsync(Admin(cluster, "postgres"), $"create database {Template}");
        await ExecuteAsync(Admin(cluster, Template), InitialMigration());
        await ExecuteAsync(Admin(cluster, Template),
            Resource(typeof(GoTrueDatabase).Assembly, "AuthServer.Tests.Infrastructure.GoTrue.gotrue_database.sql"));
        await ExecuteAsync(Admin(cluster, "postgres"), $"alter database {Template} with is_template true allow_connections false");
    }

    static string Admin(PostgresCluster cluster, string database) =>
        new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database)) { Pooling = false }.ConnectionString;

    static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    static string Resource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"resource {name} not found in {assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("\r\n", "\n");
    }
}
