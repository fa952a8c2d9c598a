using AuthServer.Data;
using AuthServer.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AuthServer.Tests.Data;

/// Start-up migrations: advisory lock, checksums, idempotence (STYLE.md §4).
public sealed class MigratorTests
{
    [Fact]
    public async Task Migrate_EmptyDatabase_CreatesAuthSchemaAndRecordsEachFile()
    {
        var cs = await (await PostgresCluster.GetAsync()).CreateEmptyDatabaseAsync("migrate_empty");

        await Migrator.MigrateAsync(cs, NullLogger.Instance, default);

        await using var conn = new NpgsqlConnection(cs);
        var recorded = (await conn.QueryAsync<(string Name, string Sha256)>("select name, sha256 from authserver.migrations order by name")).ToList();
        Assert.Contains(recorded, r => r.Name == "0001_create_auth_schema.sql");
        Assert.All(recorded, r => Assert.Matches("^[0-9a-f]{64}$", r.Sha256));
        Assert.Equal(1, await conn.ExecuteScalarAsync<int>("select count(*) from information_schema.tables where table_schema = 'auth' and table_name = 'users'"));
        Assert.Equal(1, await conn.ExecuteScalarAsync<int>("select count(*) from information_schema.tables where table_schema = 'public' and table_name = 'users'"));
    }

    [Fact]
    public async Task Migrate_RunTwice_SecondRunIsANoOp()
    {
        var cs = await (await PostgresCluster.GetAsync()).CreateEmptyDatabaseAsync("migrate_twice");
        await Migrator.MigrateAsync(cs, NullLogger.Instance, default);
        await using var conn = new NpgsqlConnection(cs);
        var before = await conn.QueryAsync<DateTime>("select applied_at from authserver.migrations order by name");

        await Migrator.MigrateAsync(cs, NullLogger.Instance, default);

        Assert.Equal(before, await conn.QueryAsync<DateTime>("select applied_at from authserver.migrations order by name"));
    }

    [Fact]
    public async Task Migrate_TwoInstancesAtOnce_ApplyEachFileOnce()
    {
        var cs = await (await PostgresCluster.GetAsync()).CreateEmptyDatabaseAsync("migrate_race");

        await Task.WhenAll(
            Task.Run(() => Migrator.MigrateAsync(cs, NullLogger.Instance, default)),
            Task.Run(() => Migrator.MigrateAsync(cs, NullLogger.Instance, default)),
            Task.Run(() => Migrator.MigrateAsync(cs, NullLogger.Instance, default)));

        await using var conn = new NpgsqlConnection(cs);
        var names = (await conn.QueryAsync<string>("select name from authserver.migrations")).ToList();
        Assert.Equal(names.Distinct().Count(), names.Count);
        Assert.Contains("0001_create_auth_schema.sql", names);
    }

    [Fact]
    public async Task Migrate_AppliedFileChanged_StopsWithMessageNamingTheFile()
    {
        var cs = await (await PostgresCluster.GetAsync()).CreateEmptyDatabaseAsync("migrate_changed");
        await Migrator.MigrateAsync(cs, NullLogger.Instance, default);
        await using (var conn = new NpgsqlConnection(cs))
            await conn.ExecuteAsync("update authserver.migrations set sha256 = repeat('0', 64) where name = '0001_create_auth_schema.sql'");

        var e = await Assert.ThrowsAsync<MigrationException>(() => Migrator.MigrateAsync(cs, NullLogger.Instance, default));

        Assert.Contains("0001_create_auth_schema.sql", e.Message);
        Assert.Contains("changed after it was applied", e.Message);
    }
}
