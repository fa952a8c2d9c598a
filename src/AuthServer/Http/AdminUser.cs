using AuthServer.Config;
using AuthServer.Security;
using Dapper;
using Npgsql;

namespace AuthServer.Http;

/// The caller of an admin route: a verified JWT whose `role` is in `GOTRUE_JWT_ADMIN_ROLES` (api.md §2
/// "Admin auth detail"). `sub` is not required, since the service_role key has none. Declaring an
/// `AdminUser` parameter on a handler is what makes the route admin-only.
internal sealed class AdminUser
{
    public required AccessTokens.Claims Claims { get; init; }

    /// The admin's user id when the token has one (a user whose role is admin), for audit rows.
    public Guid? UserId => Guid.TryParse(Claims.Sub, out var id) ? id : null;

    /// The audit-log actor GoTrue records for admin calls: nil id, role as username (api/auth.go `requireAdmin`).
    public Data.UserRow Actor => new() { Id = Guid.Empty, Role = Claims.Role, Email = Claims.Role };

    public static async ValueTask<AdminUser?> BindAsync(HttpContext http)
    {
        var services = http.RequestServices;
        var token = BearerToken.From(http.Request)
            ?? throw ApiError.Unauthorized(ErrorCode.NoAuthorization, "This endpoint requires a valid Bearer token");
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        if (!services.GetRequiredService<AccessTokens>().TryVerify(token, now, out var claims, out var reason, requireExp: false))
            throw ApiError.Forbidden(ErrorCode.BadJwt, "invalid JWT: unable to parse or verify signature, " + reason);

        var jwt = services.GetRequiredService<JwtOptions>();
        if (claims!.Role is not { } role || !jwt.AdminRoles.Contains(role))
            throw ApiError.Forbidden(ErrorCode.NotAdmin, "User not allowed");

        if (claims.SessionId is { Length: > 0 } sid && Guid.TryParse(sid, out var sessionId) && sessionId != Guid.Empty)
        {
            await using var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(http.RequestAborted);
            var exists = await conn.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select exists (select 1 from auth.sessions where id = @sessionId)", new { sessionId },
                cancellationToken: http.RequestAborted));
            if (!exists)
                throw ApiError.Forbidden(ErrorCode.SessionNotFound, "Session from session_id claim in JWT does not exist");
        }
        return new AdminUser { Claims = claims };
    }
}
