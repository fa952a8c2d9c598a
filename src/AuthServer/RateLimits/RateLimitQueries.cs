using Dapper;
using Npgsql;

namespace AuthServer.RateLimits;

internal static class RateLimitQueries
{
    internal sealed class TakeResult
    {
        public bool Allowed { get; init; }
        public double Tokens { get; init; }
    }

    /// Refill the bucket for the time since its last use, then take one token if there is one: one
    /// statement, so concurrent requests on any replica serialise on the row (no read-then-write race).
    /// A bucket that is empty stays at its refilled level (a refused request costs nothing).
    /// Committed with `synchronous_commit = off` (this transaction only): every request of a client IP
    /// updates the same row, and with a synchronous commit the row stays locked until the WAL flush, which
    /// capped all limited routes together at one flush per request (bench/RESULTS.md). Losing the last
    /// fraction of a second of counts in a crash is harmless for a limiter (GoTrue's lives in memory).
    public static Task<TakeResult> TakeAsync(NpgsqlConnection conn, string key, double capacity, double refillPerSecond,
        DateTime now, CancellationToken ct) =>
        conn.QuerySingleAsync<TakeResult>(new CommandDefinition(
            """
            insert into authserver.rate_limit_buckets as r (key, tokens, allowed, updated_at, expires_at)
            select @key, greatest(@capacity - 1, 0), @capacity >= 1, @now, @now + make_interval(secs => @full)
            from (select set_config('synchronous_commit', 'off', true)) as async_commit
            on conflict (key) do update set
                allowed = least(@capacity, r.tokens
                    + greatest(0, extract(epoch from (@now - r.updated_at))::float8) * @rate) >= 1,
                tokens = least(@capacity, r.tokens
                    + greatest(0, extract(epoch from (@now - r.updated_at))::float8) * @rate)
                    - case when least(@capacity, r.tokens
                        + greatest(0, extract(epoch from (@now - r.updated_at))::float8) * @rate) >= 1 then 1 else 0 end,
                updated_at = greatest(r.updated_at, @now),
                expires_at = greatest(r.updated_at, @now) + make_interval(secs => @full)
            returning allowed, tokens
            """,
            new { key, capacity, rate = refillPerSecond, now, full = capacity / refillPerSecond },
            cancellationToken: ct));

    /// Gives one token back (a successful sign-in does not count against its account).
    public static Task RefundAsync(NpgsqlConnection conn, string key, double capacity, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update authserver.rate_limit_buckets set tokens = least(@capacity, tokens + 1) where key = @key",
            new { key, capacity }, cancellationToken: ct));

    /// The bucket's level now, without taking from it; null when it has no row (full).
    public static Task<double?> PeekAsync(NpgsqlConnection conn, string key, double capacity, double refillPerSecond,
        DateTime now, CancellationToken ct) =>
        conn.ExecuteScalarAsync<double?>(new CommandDefinition(
            """
            select least(@capacity, tokens + greatest(0, extract(epoch from (@now - updated_at))::float8) * @rate)
            from authserver.rate_limit_buckets where key = @key
            """,
            new { key, capacity, rate = refillPerSecond, now }, cancellationToken: ct));

    /// A marker row that lives until <paramref name="until"/> (the janitor deletes it after): "this client signed
    /// in to this account", for the per-account failure ceiling.
    public static Task MarkAsync(NpgsqlConnection conn, string key, DateTime now, DateTime until, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into authserver.rate_limit_buckets (key, tokens, allowed, updated_at, expires_at)
            values (@key, 0, true, @now, @until)
            on conflict (key) do update set updated_at = @now, expires_at = @until
            """,
            new { key, now, until }, cancellationToken: ct));

    public static Task<bool> IsMarkedAsync(NpgsqlConnection conn, string key, DateTime now, CancellationToken ct) =>
        conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select 1 from authserver.rate_limit_buckets where key = @key and expires_at > @now)",
            new { key, now }, cancellationToken: ct));

    /// Rows whose bucket is full again; deleting them changes no decision.
    public static Task<int> DeleteExpiredAsync(NpgsqlConnection conn, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "delete from authserver.rate_limit_buckets where expires_at < @now", new { now }, cancellationToken: ct));
}
