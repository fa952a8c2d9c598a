using AuthServer.Data;
using AuthServer.Tests.Infrastructure;
using AuthServer.Tests.Infrastructure.GoTrue;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuthServer.Tests.Features;

/// <summary>
/// The migrator's start-up decisions on databases it did not create: adopt GoTrue's `auth` schema once
/// (also when instances start together), refuse anything else with a message saying what it found.
/// </summary>
public sealed class AdoptMigratorTests
{
    static int MigrationCount => typeof(Program).Assembly.GetManifestResourceNames().Count(n => n.StartsWith("migrations/", StringComparison.Ordinal));

    [Fact]
    public async Task Migrate_GoTrueDatabaseTwice_SecondStartAppliesNothing()
    {
        var db = new Db(await GoTrueDatabase.CloneAsync(nameof(Migrate_GoTrueDatabaseTwice_SecondStartAppliesNothing)));
        var first = new List<string>();
        var second = new List<string>();

        await Migrator.MigrateAsync(db.ConnectionString, new ListLogger(first), CancellationToken.None);
        await Migrator.MigrateAsync(db.ConnectionString, new ListLogger(second), CancellationToken.None);

        Assert.Contains(first, m => m.StartsWith("Adopting the GoTrue-managed auth schema", StringComparison.Ordinal));
        Assert.Contains("Database schema up to date (0 migrations applied now)", second);
        Assert.DoesNotContain(second, m => m.StartsWith("Adopting", StringComparison.Ordinal));
        Assert.Equal(MigrationCount, await db.ScalarAsync<long>("select count(*) from authserver.migrations"));
        Assert.Equal(1, await db.ScalarAsync<long>("select count(*) from authserver.adopted_schema"));
    }

    [Fact]
    public async Task Migrate_TwoInstancesStartingAtOnce_AdoptOnceAndBothServe()
    {
        var connectionString = await GoTrueDatabase.CloneAsync(nameof(Migrate_TwoInstancesStartingAtOnce_AdoptOnceAndBothServe));
        var db = new Db(connectionString);

        await Task.WhenAll(
            Task.Run(() => Migrator.MigrateAsync(connectionString, NullLogger.Instance, CancellationToken.None)),
            Task.Run(() => Migrator.MigrateAsync(connectionString, NullLogger.Instance, CancellationToken.None)));
        var a = new ExistingDatabaseFixture(connectionString);
        var b = new ExistingDatabaseFixture(connectionString);
        try
        {
            await Task.WhenAll(a.InitializeAsync(), b.InitializeAsync());

            Assert.Equal(MigrationCount, await db.ScalarAsync<long>("select count(*) from authserver.migrations"));
            Assert.Equal(1, await db.ScalarAsync<long>("select count(*) from authserver.adopted_schema"));
            await a.SignInAsync("alice@example.com", GoTrueFixture.Password);
            await b.SignInAsync("bob@example.com", GoTrueFixture.Password);
        }
        finally
        {
            await a.DisposeAsync();
            await b.DisposeAsync();
        }
    }

    [Fact]
    public async Task Migrate_ForeignAuthSchema_RefusesSayingWhatItFoundAndChangesNothing()
    {
        var db = new Db(await GoTrueDatabase.CreateEmptyAsync(nameof(Migrate_ForeignAuthSchema_RefusesSayingWhatItFoundAndChangesNothing)));
        await db.ExecuteAsync("create schema auth; create table auth.users (id serial primary key, username text not null);");

        var error = await Assert.ThrowsAsync<MigrationException>(
            () => Migrator.MigrateAsync(db.ConnectionString, NullLogger.Instance, CancellationToken.None));

        Assert.StartsWith("The database already has an `auth` schema that neither GoTrue nor AuthServer created: " +
            "there is no auth.schema_migrations table", error.Message);
        Assert.Contains("table auth.users", error.Message);
        Assert.Contains("sequence auth.users_id_seq", error.Message);
        Assert.False(await db.ScalarAsync<bool>("select exists (select 1 from pg_namespace where nspname = 'authserver')"));
        Assert.Equal(["id", "username"], await db.QueryAsync<string>(
            "select column_name::text from information_schema.columns where table_schema = 'auth' order by ordinal_position"));
    }

    [Fact]
    public async Task Migrate_GoTrueSchemaOlderThanNeeded_RefusesNamingWhatIsMissing()
    {
        var db = new Db(await GoTrueDatabase.CloneAsync(nameof(Migrate_GoTrueSchemaOlderThanNeeded_RefusesNamingWhatIsMissing)));
        await db.ExecuteAsync(
            """
            drop table auth.one_time_tokens;
            alter table auth.users drop column is_anonymous;
            alter table auth.sessions alter column refresh_token_counter type text;
            delete from auth.schema_migrations where version > '20240214000000';
            """);

        var error = await Assert.ThrowsAsync<MigrationException>(
            () => Migrator.MigrateAsync(db.ConnectionString, NullLogger.Instance, CancellationToken.None));

        Assert.StartsWith("The `auth` schema is managed by GoTrue (auth.schema_migrations: 52 versions, 00 … 20240115144230)",
            error.Message);
        Assert.Contains("missing table auth.one_time_tokens", error.Message);
        Assert.Contains("missing column auth.users.is_anonymous", error.Message);
        Assert.Contains("column auth.sessions.refresh_token_counter is text, expected int8", error.Message);
        Assert.DoesNotContain("authserver_probe", error.Message);
        Assert.False(await db.ScalarAsync<bool>("select exists (select 1 from pg_namespace where nspname = 'authserver_probe')"));
    }

    [Fact]
    public async Task Migrate_EmptyAuthSchema_CreatesIt()
    {
        var db = new Db(await GoTrueDatabase.CreateEmptyAsync(nameof(Migrate_EmptyAuthSchema_CreatesIt)));
        await db.ExecuteAsync("create schema auth");

        await Migrator.MigrateAsync(db.ConnectionString, NullLogger.Instance, CancellationToken.None);

        Assert.True(await db.ScalarAsync<bool>("select to_regclass('auth.users') is not null"));
        Assert.False(await db.ScalarAsync<bool>("select to_regclass('authserver.adopted_schema') is not null"));
    }
}

/// <summary>A server over a database prepared by the test itself.</summary>
sealed class ExistingDatabaseFixture(string connectionString) : AuthServerFixture
{
    protected override Task<string> CreateDatabaseAsync() => Task.FromResult(connectionString);
}
