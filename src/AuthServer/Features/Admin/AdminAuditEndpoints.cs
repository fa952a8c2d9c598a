using System.Text.Json.Nodes;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Admin;

/// `GET /admin/audit?page&per_page&query=<author|action|type>:<text>` (GoTrue: audit.go,
/// models.FindAuditLogEntries): newest first, paged like the user list. Ours on top, for the admin console
/// (docs/console.md): the scope `user:<uuid>`, the rows a user wrote or an admin wrote about them (the
/// actor id or `traits.user_id` equal to it, exactly).
internal static class AdminAuditEndpoints
{
    public static void MapAdminAudit(this IEndpointRouteBuilder app) => app.MapGet("/admin/audit", ListAsync);

    sealed class AuditRow
    {
        public Guid Id { get; init; }
        public string? Payload { get; init; }
        public DateTime? CreatedAt { get; init; }
        public string IpAddress { get; init; } = "";
    }

    static string Like(params string[] fields) =>
        " and (" + string.Join(" or ", fields.Select(f => $"payload ->> '{f}' ilike @pattern")) + ")";

    static ApiError InvalidScope(string query) => ApiError.BadRequest(ErrorCode.ValidationFailed, "Invalid query scope: " + query);

    static async Task<IResult> ListAsync(HttpContext http, AdminUser admin, NpgsqlDataSource db, CancellationToken ct)
    {
        var page = Pagination.Parse(http.Request);
        var query = http.Request.Query["query"].ToString();
        var value = "";
        var filter = "";
        if (query.Length > 0)
        {
            var parts = query.Split(':', 2);
            // Fixed SQL per scope, never request text; the value travels as a parameter.
            filter = parts[0] switch
            {
                "author" => Like("actor_username", "actor_name"),
                "action" => Like("action"),
                "type" => Like("log_type"),
                "user" => " and (payload ->> 'actor_id' = @value or payload -> 'traits' ->> 'user_id' = @value)",
                _ => null,
            } ?? throw InvalidScope(query);
            if (parts.Length < 2) throw InvalidScope(query);
            value = parts[1];
            if (value.Length == 0) filter = "";
        }

        await using var conn = await db.OpenConnectionAsync(ct);
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            select count(*) from auth.audit_log_entries
            where instance_id = '00000000-0000-0000-0000-000000000000'{filter};
            select id, payload::text as payload, created_at, ip_address from auth.audit_log_entries
            where instance_id = '00000000-0000-0000-0000-000000000000'{filter}
            order by created_at desc, id
            limit @limit offset @offset;
            """, new { pattern = "%" + value + "%", value, limit = page.Limit, offset = page.Offset }, cancellationToken: ct));
        var total = await grid.ReadSingleAsync<long>();
        var rows = await grid.ReadAsync<AuditRow>();
        Pagination.AddHeaders(http, page, total);
        return Results.Json(new JsonArray(rows.Select(r => (JsonNode)new JsonObject
        {
            ["id"] = r.Id.ToString(),
            ["payload"] = r.Payload is null ? null : JsonNode.Parse(r.Payload),
            ["created_at"] = r.CreatedAt is { } t ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : null,
            ["ip_address"] = r.IpAddress,
        }).ToArray()), Json.Options);
    }
}
