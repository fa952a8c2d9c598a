using AuthServer.Config;
using AuthServer.Data;
using Npgsql;

namespace AuthServer.Features.DbConnections;

/// Ours: database connections (docs/beyond-gotrue.md "Database connections"), `GOTRUE_DB_CONNECTION_*`,
/// `POST /dbconnections/signup` and the `/connections` admin routes.
internal static class DbConnectionsModule
{
    public static IServiceCollection AddDbConnections(this IServiceCollection services, EnvReader env)
    {
        var options = DbConnectionOptions.Load(env);
        var passwords = services.Registered<PasswordOptions>();
        // The default connection from configuration, seeded once the schema is migrated.
        return services.AddSingleton(options).AddSingleton(new DatabaseSetting((sp, ct) =>
            DbConnectionQueries.SeedDefaultAsync(sp.GetRequiredService<NpgsqlDataSource>(), options.DefaultName,
                options.ClientIds, passwords.MinLength, passwords.RequiredCharacters, options.VerifyEmailAutoSend,
                options.WelcomeEmailEnabled, sp.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime, ct)));
    }

    public static void MapDbConnections(this IEndpointRouteBuilder app)
    {
        DbConnectionSignupEndpoints.MapRoutes(app);
        ConnectionAdminEndpoints.MapRoutes(app);
    }
}
