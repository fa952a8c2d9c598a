using Npgsql;

namespace AuthServer.RateLimits;

/// Deletes rate-limit rows whose bucket has refilled, once a minute on every replica (the delete is
/// idempotent, so replicas need not coordinate). A database outage just skips a round.
internal sealed class RateLimitJanitor(NpgsqlDataSource db, TimeProvider clock, ILogger<RateLimitJanitor> log) : BackgroundService
{
    static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await using var conn = await db.OpenConnectionAsync(stoppingToken);
                var deleted = await RateLimitQueries.DeleteExpiredAsync(conn, clock.GetUtcNow().UtcDateTime, stoppingToken);
                log.LogDebug("Deleted {Count} refilled rate-limit buckets", deleted);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                log.LogDebug(e, "Rate-limit clean-up skipped: database unavailable");
            }
        }
    }
}
