using System.Text.Json.Nodes;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Health;

/// `GET /ready` (ours): readiness, i.e. the database answers. GoTrue's `/health` never touches the database
/// and stays that way (a liveness probe must not restart replicas because the database is down); load
/// balancers and Kubernetes readiness probes use this instead. 503 in GoTrue's error shape when not ready.
internal static class ReadyEndpoints
{
    static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    internal static void MapRoutes(IEndpointRouteBuilder app) => app.MapGet("/ready", ReadyAsync);

    static async Task<IResult> ReadyAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Budget);
        try
        {
            await using var conn = await db.OpenConnectionAsync(timeout.Token);
            await conn.ExecuteScalarAsync<int>(new CommandDefinition("select 1", cancellationToken: timeout.Token));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException
                                  || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new ApiError(503, ErrorCode.UnexpectedFailure, "Database unavailable", e);
        }
        return Results.Json(new JsonObject { ["status"] = "ok", ["database"] = "ok" });
    }
}
