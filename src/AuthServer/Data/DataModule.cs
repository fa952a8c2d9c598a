using AuthServer.Config;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Data;

/// Work for start-up once the schema is migrated: settings that live in the database (docs/beyond-gotrue.md "Profiles",
/// "Database connections"). Areas register one each; MigrateDatabaseAsync runs them in registration order.
internal sealed record DatabaseSetting(Func<IServiceProvider, CancellationToken, Task> ApplyAsync);

/// The database: `DATABASE_URL` and `GOTRUE_DB_*` (pool, timeouts, column encryption), one data source.
internal static class DataModule
{
    public static IServiceCollection AddData(this IServiceCollection services, EnvReader env)
    {
        var db = DbOptions.Load(env);
        var timeouts = DbTimeoutOptions.Load(env);
        Dapper.DefaultTypeMap.MatchNamesWithUnderscores = true;
        return services.AddSingleton(db).AddSingleton(timeouts).AddSingleton(DbEncryptionOptions.Load(env))
            .AddSingleton<ColumnEncryption>()
            .AddSingleton(_ =>
            {
                // Named, so metrics and spans label the pool "authserver" instead of with the connection string.
                var dataSource = new NpgsqlDataSourceBuilder(db.ConnectionString) { Name = "authserver" };
                db.ApplyTo(dataSource.ConnectionStringBuilder);
                timeouts.ApplyTo(dataSource.ConnectionStringBuilder);
                return dataSource.Build();
            });
    }

    /// Before Kestrel listens: pending migrations, then the areas' database settings. False when the schema is
    /// one we must not touch (or a migration changed): said once, without a stack trace, and the boot stops.
    public static async Task<bool> MigrateDatabaseAsync(this WebApplication app)
    {
        var stopping = app.Lifetime.ApplicationStopping;
        try
        {
            await Migrator.MigrateWithRetryAsync(app.Services.GetRequiredService<NpgsqlDataSource>(), app.Logger, stopping);
        }
        catch (MigrationException e)
        {
            app.Logger.LogCritical("Database schema check failed: {Reason}", e.Message);
            Console.Error.WriteLine($"authserver: database error: {e.Message}");
            return false;
        }
        foreach (var setting in app.Services.GetServices<DatabaseSetting>())
            await setting.ApplyAsync(app.Services, stopping);
        return true;
    }
}
