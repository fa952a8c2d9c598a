using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Admin;

/// Ours, not in GoTrue (docs/console.md): a user's sessions and signing them all out, for the admin
/// console. GoTrue offers neither to an admin (supabase-js `admin.signOut` needs the user's own JWT), so an
/// operator would have to delete `auth.sessions` rows by hand.
///   GET  /admin/users/{id}/sessions → `[{id, created_at, updated_at, refreshed_at, user_agent, ip, aal, not_after, factor_id}]`
///   POST /admin/users/{id}/logout   → 204; every session goes, their refresh tokens cascade (as `/logout?scope=global`)
internal static class AdminSessionEndpoints
{
    public static void MapAdminSessions(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/users/{userId}/sessions", ListAsync);
        app.MapPost("/admin/users/{userId}/logout", LogoutAsync);
    }

    sealed class SessionRow
    {
        public Guid Id { get; init; }
        public DateTime? CreatedAt { get; init; }
        public DateTime? UpdatedAt { get; init; }
        public DateTime? RefreshedAt { get; init; }
        public string? UserAgent { get; init; }
        public string? Ip { get; init; }
        public string? Aal { get; init; }
        public DateTime? NotAfter { get; init; }
        public Guid? FactorId { get; init; }

        public JsonObject ToJson() => new()
        {
            ["id"] = Id.ToString(),
            ["created_at"] = Utc(CreatedAt),
            ["updated_at"] = Utc(UpdatedAt),
            ["refreshed_at"] = Utc(RefreshedAt),
            ["user_agent"] = UserAgent,
            ["ip"] = Ip,
            ["aal"] = Aal,
            ["not_after"] = Utc(NotAfter),
            ["factor_id"] = FactorId?.ToString(),
        };

        static JsonNode? Utc(DateTime? t) => t is { } v ? JsonValue.Create(DateTime.SpecifyKind(v, DateTimeKind.Utc)) : null;
    }

    static async Task<IResult> ListAsync(string userId, AdminUser admin, NpgsqlDataSource db, CancellationToken ct)
    {
        var id = AdminEndpoints.ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        _ = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw AdminEndpoints.UserNotFound();
        var rows = await conn.QueryAsync<SessionRow>(new CommandDefinition(
            """
            select id, created_at, updated_at, refreshed_at, user_agent, host(ip) as ip, aal::text as aal, not_after, factor_id
            from auth.sessions
            where user_id = @id
            order by created_at desc, id
            """, new { id }, cancellationToken: ct));
        return Results.Json(new JsonArray(rows.Select(r => (JsonNode)r.ToJson()).ToArray()), Json.Options);
    }

    static async Task<IResult> LogoutAsync(string userId, HttpContext http, AdminUser admin, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        var id = AdminEndpoints.ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        var (user, _, _) = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw AdminEndpoints.UserNotFound();
        await using var tx = await conn.BeginTransactionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("delete from auth.sessions where user_id = @id", new { id },
            cancellationToken: ct));
        await AuditLog.WriteAsync(conn, admin.Actor, AuditAction.Logout, ClientInfo.Ip(http), clock.GetUtcNow().UtcDateTime, ct,
            new JsonObject { ["user_id"] = user.Id.ToString(), ["user_email"] = user.Email ?? "", ["user_phone"] = user.Phone ?? "" });
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }
}
