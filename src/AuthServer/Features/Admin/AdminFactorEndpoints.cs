using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.Features.Admin;

/// `/admin/users/{id}/factors[/{factor_id}]` (GoTrue: admin.go `adminUserGetFactors`,
/// `adminUserUpdateFactor`, `adminUserDeleteFactor`; the factor must belong to the user).
internal static class AdminFactorEndpoints
{
    public static void MapAdminFactors(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/users/{userId}/factors", ListFactorsAsync);
        app.MapPut("/admin/users/{userId}/factors/{factorId}", UpdateFactorAsync);
        app.MapDelete("/admin/users/{userId}/factors/{factorId}", DeleteFactorAsync);
    }

    internal sealed record UpdateFactorRequest(string? FriendlyName, string? Phone);

    static async Task<IResult> ListFactorsAsync(string userId, AdminUser admin, NpgsqlDataSource db, CancellationToken ct)
    {
        var id = AdminEndpoints.ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        var (_, _, factors) = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw AdminEndpoints.UserNotFound();
        return Results.Json(new JsonArray(factors.Select(f => (JsonNode)f.ToJson()).ToArray()), Json.Options);
    }

    static async Task<IResult> UpdateFactorAsync(string userId, string factorId, HttpContext http, AdminUser admin,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var (user, factor) = await LoadAsync(conn, userId, factorId, ct);
        var body = await BodyReader.ReadAsync<UpdateFactorRequest>(http.Request, ct);
        var now = clock.GetUtcNow().UtcDateTime;

        await using var tx = await conn.BeginTransactionAsync(ct);
        if (!string.IsNullOrEmpty(body.FriendlyName))
            await AdminQueries.ExecuteAsync(conn, "update auth.mfa_factors set friendly_name = @name, updated_at = @now where id = @id",
                new { id = factor.Id, name = body.FriendlyName, now }, ct);
        if (!string.IsNullOrEmpty(body.Phone) && factor.FactorType == "phone")
        {
            try
            {
                await AdminQueries.ExecuteAsync(conn, "update auth.mfa_factors set phone = @phone, updated_at = @now where id = @id",
                    new { id = factor.Id, phone = Identifiers.ValidatePhone(body.Phone), now }, ct);
            }
            catch (PostgresException e) when (e.ConstraintName == "unique_phone_factor_per_user")
            {
                // GoTrue answers this with a 500 (the database error); ours says what is wrong.
                throw ApiError.Unprocessable(ErrorCode.PhoneExists, "Another phone factor of this user already has this phone number");
            }
        }
        await AuditLog.WriteAsync(conn, admin.Actor, AuditAction.FactorUpdated, "", now, ct, new JsonObject
        {
            ["user_id"] = user.Id.ToString(),
            ["factor_id"] = factor.Id.ToString(),
            ["factor_type"] = factor.FactorType,
        });
        var updated = (await AdminQueries.FindFactorAsync(conn, user.Id, factor.Id, ct))!;
        await tx.CommitAsync(ct);
        return Results.Json(updated.ToJson(), Json.Options);
    }

    static async Task<IResult> DeleteFactorAsync(string userId, string factorId, HttpContext http, AdminUser admin,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var (user, factor) = await LoadAsync(conn, userId, factorId, ct);
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await conn.BeginTransactionAsync(ct);
        // GoTrue records this one with the factor's owner as the actor and the caller's address.
        await AuditLog.WriteAsync(conn, user, AuditAction.FactorDeleted, ClientInfo.Ip(http), now, ct, new JsonObject
        {
            ["user_id"] = user.Id.ToString(),
            ["factor_id"] = factor.Id.ToString(),
        });
        // GoTrue adminUserDeleteFactor: sessions that reached aal2 with it fall back to aal1 (DowngradeSessionsToAAL1).
        await AuthServer.Features.Mfa.MfaQueries.DeleteFactorAsync(conn, factor, ct);
        await tx.CommitAsync(ct);
        return Results.Json(factor.ToJson(), Json.Options);
    }

    /// GoTrue `loadUser` then `loadFactor`: 404 for a bad or unknown user id, then for the factor id.
    static async Task<(UserRow User, FactorRow Factor)> LoadAsync(NpgsqlConnection conn, string userId, string factorId,
        CancellationToken ct)
    {
        var id = AdminEndpoints.ParseUserId(userId);
        var (user, _, _) = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw AdminEndpoints.UserNotFound();
        if (!Guid.TryParse(factorId, out var fid))
            throw ApiError.NotFound(ErrorCode.ValidationFailed, "factor_id must be an UUID");
        var factor = await AdminQueries.FindFactorAsync(conn, id, fid, ct)
            ?? throw ApiError.NotFound(ErrorCode.MfaFactorNotFound, "Factor not found");
        return (user, factor);
    }
}
