using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Features.Passkeys;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.Features.Admin;

/// `/admin/users/{id}/passkeys[/{passkey_id}]` (GoTrue passkey_admin.go `AdminPasskeyList`, `AdminPasskeyDelete`):
/// not gated by GOTRUE_PASSKEY_ENABLED there; the rows are `auth.webauthn_credentials` (Features/Passkeys).
internal static class AdminPasskeyEndpoints
{
    public static void MapAdminPasskeys(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/users/{userId}/passkeys", ListAsync);
        app.MapDelete("/admin/users/{userId}/passkeys/{passkeyId}", DeleteAsync);
    }

    static async Task<IResult> ListAsync(string userId, AdminUser admin, NpgsqlDataSource db, CancellationToken ct)
    {
        var id = AdminEndpoints.ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        _ = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw AdminEndpoints.UserNotFound();
        var rows = await PasskeyQueries.OfUserAsync(conn, id, ct);
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
        var deleted = await PasskeyQueries.DeleteAsync(conn, pid, id, ct);
        if (deleted == 0) throw PasskeyNotFound();
        // GoTrue models.PasskeyDeletedAction
        await AuditLog.WriteAsync(conn, admin.Actor, "passkey_deleted", ClientInfo.Ip(http), clock.GetUtcNow().UtcDateTime, ct,
            new JsonObject { ["user_id"] = user.Id.ToString(), ["passkey_id"] = pid.ToString() });
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    static ApiError PasskeyNotFound() => ApiError.NotFound(ErrorCode.ValidationFailed, "Passkey not found");
}
