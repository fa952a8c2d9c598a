using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Mail;
using Npgsql;

namespace AuthServer.Features.Reauthenticate;

/// `GET /reauthenticate`: mails a code that `PUT /user` accepts as `nonce` (api.md §3; GoTrue reauthenticate.go).
internal static class ReauthenticateEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app) => app.MapGet("/reauthenticate", ReauthenticateAsync);

    static async Task<IResult> ReauthenticateAsync(HttpContext http, AuthUser auth, NpgsqlDataSource db, Mailer mailer,
        TimeProvider clock, CancellationToken ct)
    {
        var user = auth.User;
        if (string.IsNullOrEmpty(user.Email) && string.IsNullOrEmpty(user.Phone))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Reauthentication requires the user to have an email or a phone number");
        if (string.IsNullOrEmpty(user.Email))
            return await Features.Phone.PhoneFlows.ReauthenticateAsync(http, user, ct);
        if (user.EmailConfirmedAt is null)
            throw ApiError.Unprocessable(ErrorCode.EmailNotConfirmed, "Please verify your email first.");
        var now = clock.GetUtcNow().UtcDateTime;

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var locked = (await MailQueries.LockUserAsync(conn, user.Id, ct))!;
        await AuditLog.WriteAsync(conn, locked, AuditAction.UserReauthenticateRequested, ClientInfo.Ip(http), now, ct);
        await mailer.SendReauthenticationAsync(conn, locked, now, ct);
        await tx.CommitAsync(ct);
        mailer.Outbox.Notify();
        return Results.Json(new JsonObject());
    }
}
