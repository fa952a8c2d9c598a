using System.Security.Cryptography;
using Dapper;
using Npgsql;

namespace AuthServer.Features.DbConnections;

/// A per-key limit of `limit` requests per `period`, kept in `authserver.rate_limits` (migration 0502)
/// so every server instance draws on the same budget. GCRA: each key stores a theoretical arrival time
/// (TAT); a request advances it by `period / limit` and is admitted while the TAT stays within one
/// period of now. That allows a burst of `limit` and then one request per interval, with no window
/// boundary at which twice the limit gets through. Check-and-advance is one atomic statement.
internal static class PostgresRateLimit
{
    /// Null when admitted; otherwise the whole seconds to wait (for `Retry-After`).
    public static async Task<int?> HitAsync(NpgsqlDataSource db, string bucket, int limit, TimeSpan period,
        DateTime now, CancellationToken ct)
    {
        var interval = period / limit;
        await using var conn = await db.OpenConnectionAsync(ct);
        var state = await conn.QuerySingleOrDefaultAsync<(DateTime Tat, bool Admitted)>(new CommandDefinition(
            """
            with hit as (
                insert into authserver.rate_limits as r (bucket, tat) values (@bucket, @now + @interval)
                on conflict (bucket) do update set tat = greatest(r.tat, @now) + @interval
                where greatest(r.tat, @now) + @interval <= @now + @period
                returning r.tat
            )
            select tat, true from hit
            union all
            select tat, false from authserver.rate_limits where bucket = @bucket and not exists (select 1 from hit)
            """, new { bucket, now, interval, period }, cancellationToken: ct));

        // Rows whose TAT has passed carry no state; sweep them now and then rather than on every hit.
        if (RandomNumberGenerator.GetInt32(64) == 0)
            await conn.ExecuteAsync(new CommandDefinition(
                "delete from authserver.rate_limits where tat < @now", new { now }, cancellationToken: ct));

        if (state.Admitted) return null;
        // No row visible to this statement's snapshot (a concurrent first hit won the insert): one interval.
        var wait = state == default ? interval : DateTime.SpecifyKind(state.Tat, DateTimeKind.Utc) + interval - period - now;
        return Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
    }

    /// The client address: the first entry of `GOTRUE_RATE_LIMIT_HEADER` when configured and present
    /// (as GoTrue keys its limits; only safe behind a proxy that sets it), else the socket address.
    /// Unlike `ClientInfo.Ip` this never trusts `X-Forwarded-For` unasked: a client could rotate it.
    public static string ClientKey(HttpContext http, string? header)
    {
        if (header is not null && http.Request.Headers[header].ToString() is { Length: > 0 } value)
            return value.Split(',')[0].Trim();
        var remote = http.Connection.RemoteIpAddress;
        if (remote is null) return "unknown";
        return (remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote).ToString();
    }
}
