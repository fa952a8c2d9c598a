using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Admin;

/// `/admin/users/{id}/passkeys[/{passkey_id}]` (GoTrue passkey_admin.go `AdminPasskeyList`, `AdminPasskeyDelete`):
/// not gated by GOTRUE_PASSKEY_ENABLED there, so served here although passkey sign-in is not built (issue 15);
/// the rows are `auth.webauthn_credentials`, which a database adopted from Supabase may already hold.
internal static class AdminPasskeyEndpoints
{
    public static void MapAdminPasskeys(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/users/{userId}/passkeys", ListAsync);
        app.MapDelete("/admin/users/{userId}/passkeys/{passkeyId}", DeleteAsync);
    }

    sealed class PasskeyRow
    {
        public Guid Id { get; init; }
        public string FriendlyName { get; init; } = "";
        public DateTime CreatedAt { get; init; }
        public DateTime? LastUsedAt { get; init; }

        /// GoTrue `PasskeyListItem`: `friendly_name` and `last_used_at` are omitted when empty.
        public JsonObject ToJson()
        {
            var json = new JsonObject { ["id"] = Id.ToString() };
            if (FriendlyName.Length > 0) json["friendly_name"] = FriendlyName;
            json["created_at"] = DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc);
            if (LastUsedAt is { } used) json["last_used_at"] = DateTime.SpecifyKind(used, DateTimeKind.Utc);
            return json;
        }
    }

    static async Task<IResult> ListAsync(string userId, AdminUser admin, NpgsqlDataSource db, CancellationToken ct)
    {
        var id = AdminEndpoints.ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        _ = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw AdminEndpoints.UserNotFound();
        var rows = await conn.QueryAsync<PasskeyRow>(new CommandDefinition(
            """
            select id, friendly_name, created_at, last_used_at
            from auth.webauthn_credentials
            where user_id = @id
            order by created_at, id
            """, new { id }, cancellationToken: ct));
        // A bare array, `[]` for a user without passkeys (GoTrue makes the slice, never nil).
        return Results.Json(new JsonArray(rows.Select(r => (JsonNode)r.ToJson()).ToArray()), Json.Options);
    }

    static async Task<IResult> DeleteAsync(string userId, string passkeyId, HttpContext http, AdminUser admin,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        var id = AdminEndpoints.ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        var (user, _, _) = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw AdminEndpoints.UserNotFound();
        // GoTrue answers a malformed id exactly as an unknown one.
        if (!Guid.TryParse(passkeyId, out var pid)) throw PasskeyNotFound();

        await using var tx = await conn.BeginTransactionAsync(ct);
        var deleted = await conn.ExecuteAsync(new CommandDefinition(
            "delete from auth.webauthn_credentials where id = @pid and user_id = @id", new { pid, id }, cancellationToken: ct));
        if (deleted == 0) throw PasskeyNotFound();
        // GoTrue models.PasskeyDeletedAction
        await AuditLog.WriteAsync(conn, admin.Actor, "passkey_deleted", ClientInfo.Ip(http), clock.GetUtcNow().UtcDateTime, ct,
            new JsonObject { ["user_id"] = user.Id.ToString(), ["passkey_id"] = pid.ToString() });
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    static ApiError PasskeyNotFound() => ApiError.NotFound(ErrorCode.ValidationFailed, "Passkey not found");
}
