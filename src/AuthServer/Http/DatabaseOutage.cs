using Npgsql;

namespace AuthServer.Http;

/// After a transient database failure (server restarted, connection killed, pool exhausted, timeout),
/// drops the pool's idle connections: they may all be dead sockets to the old server, and Npgsql would
/// otherwise hand each one out once more and fail another request with it. So the first requests after
/// the database returns succeed. The error itself is rendered by ApiErrorHandler (503).
internal static class DatabaseOutage
{
    public static IApplicationBuilder UseDatabaseOutageRecovery(this IApplicationBuilder app) =>
        app.Use(async (http, next) =>
        {
            try
            {
                await next(http);
            }
            catch (Exception e) when (IsTransient(e))
            {
                http.RequestServices.GetRequiredService<NpgsqlDataSource>().Clear();
                throw;
            }
        });

    // The same test ApiErrorHandler uses for its 503 (PostgresException.IsTransient covers 57P01 admin
    // shutdown, 57P03 cannot connect now, 53300 too many connections).
    static bool IsTransient(Exception e) => e is NpgsqlException { IsTransient: true } or TimeoutException;
}
