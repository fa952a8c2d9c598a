using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.External;
using AuthServer.Http;
using AuthServer.Mail;
using Npgsql;

namespace AuthServer.Features.Identity;

/// Manual identity linking (api.md §3, GoTrue `internal/api/identity.go`): both routes need a user JWT
/// and `GOTRUE_SECURITY_MANUAL_LINKING_ENABLED` (checked after authentication, as GoTrue's middleware order).
internal static class IdentityEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/user/identities/authorize", AuthorizeAsync);
        app.MapDelete("/user/identities/{identityId}", DeleteAsync);
    }

    static async Task<IResult> AuthorizeAsync(HttpContext http, AuthUser auth, ExternalOptions external, CancellationToken ct)
    {
        RequireEnabled(external);
        var url = await ExternalEndpoints.StartAsync(http, auth.User, ct);
        return http.Request.Query["skip_http_redirect"] == "true"
            ? Results.Json(new JsonObject { ["url"] = url })
            : Results.Redirect(url);
    }

    static async Task<IResult> DeleteAsync(HttpContext http, string identityId, AuthUser auth, ExternalOptions external,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        RequireEnabled(external);
        if (!Guid.TryParse(identityId, out var id))
            throw ApiError.NotFound(ErrorCode.ValidationFailed, "identity_id must be an UUID");
        var requested = http.Request.Headers["X-JWT-AUD"].ToString() is { Length: > 0 } aud ? aud : auth.Claims.Aud;
        if (string.IsNullOrEmpty(auth.Claims.Aud) || requested != auth.Claims.Aud)
            throw ApiError.Forbidden(ErrorCode.UnexpectedAudience, "Token audience doesn't match request audience");
        if (auth.Identities.Count <= 1)
            throw ApiError.Unprocessable(ErrorCode.SingleIdentityNotDeletable, "User must have at least 1 identity after unlinking");
        var identity = auth.Identities.FirstOrDefault(i => i.Id == id)
            ?? throw ApiError.Unprocessable(ErrorCode.IdentityNotFound, "Identity doesn't exist");

        var now = clock.GetUtcNow().UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await AuditLog.WriteAsync(conn, auth.User, ExternalAccounts.IdentityUnlinked, ClientInfo.Ip(http), now, ct,
            new JsonObject
            {
                ["identity_id"] = identity.Id.ToString(),
                ["provider"] = identity.Provider,
                ["provider_id"] = identity.ProviderId,
            });
        if (await IdentityQueries.DeleteAsync(conn, identity.Id, auth.User.Id, ct) == 0)
            throw ApiError.Unprocessable(ErrorCode.IdentityNotFound, "Identity doesn't exist");
        if (identity.Provider == "phone")
            await IdentityQueries.ClearPhoneAsync(conn, auth.User.Id, now, ct);
        else
        {
            try
            {
                await IdentityQueries.SetEmailFromIdentitiesAsync(conn, auth.User.Id, now, ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                throw ApiError.Unprocessable(ErrorCode.EmailConflictIdentityNotDeletable, "Unable to unlink identity due to email conflict");
            }
        }
        await IdentityQueries.UpdateProvidersAsync(conn, auth.User.Id, now, ct);
        var notifications = http.RequestServices.GetRequiredService<Notifications>();
        await notifications.IdentityUnlinkedAsync(conn, auth.User.Id, identity.Provider, auth.User.Email, ct);
        await tx.CommitAsync(ct);
        http.RequestServices.GetRequiredService<Mailer>().Outbox.Notify();
        return Results.Json(new JsonObject());
    }

    static void RequireEnabled(ExternalOptions external)
    {
        if (!external.ManualLinkingEnabled)
            throw ApiError.NotFound(ErrorCode.ManualLinkingDisabled, "Manual linking is disabled");
    }
}
