using AuthServer.Data;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Logout;

/// `POST /logout?scope=global|local|others` (api.md): deletes sessions; their refresh tokens and AMR
/// claims cascade. Access tokens stay signed until `exp`, but every later user call finds no session.
internal static class LogoutEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app) => app.MapPost("/logout", LogoutAsync);

    static async Task<IResult> LogoutAsync(HttpContext http, AuthUser auth, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        var scope = http.Request.Query["scope"].ToString();
        var sql = scope switch
        {
            "" or "global" => "delete from auth.sessions where user_id = @userId",
            "local" => "delete from auth.sessions where id = @sessionId",
            "others" => "delete from auth.sessions where user_id = @userId and id <> @sessionId",
            _ => throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Unsupported logout scope \"{scope}\""),
        };

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition(sql,
            new { userId = auth.User.Id, sessionId = auth.SessionId ?? Guid.Empty }, cancellationToken: ct));
        await AuditLog.WriteAsync(conn, auth.User, AuditAction.Logout, ClientInfo.Ip(http), clock.GetUtcNow().UtcDateTime, ct);
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }
}
