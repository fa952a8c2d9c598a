using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using Npgsql;

namespace AuthServer.Features.Invite;

/// `POST /invite` (admin): creates the user if new and mails an invite link (api.md §3; GoTrue invite.go).
internal static class InviteEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapPost("/invite", InviteAsync);
        app.MapPost("/admin/generate_link", GenerateLinkEndpoint.GenerateLinkAsync);
    }

    internal sealed record InviteRequest(string? Email, JsonObject? Data);

    internal const string DuplicateEmail = "A user with this email address has already been registered";

    static async Task<IResult> InviteAsync(HttpContext http, AdminUser admin, NpgsqlDataSource db, JwtOptions jwt,
        Mailer mailer, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<InviteRequest>(http.Request, ct);
        var email = ValidateEmail(body.Email);
        var aud = SignupEndpoints.RequestAudience(http, jwt);
        var now = clock.GetUtcNow().UtcDateTime;
        var ip = ClientInfo.Ip(http);

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var user = await FindOrCreateInviteeAsync(conn, email, aud, jwt, body.Data, now, ct);
        user = (await MailQueries.LockUserAsync(conn, user.Id, ct))!;
        await AuditLog.WriteAsync(conn, Actor(admin), AuditAction.UserInvited, ip, now, ct,
            new JsonObject { ["user_id"] = user.Id.ToString(), ["user_email"] = email });
        await mailer.SendInviteAsync(conn, user, mailer.Links(http), now, ct);
        var result = (await UserQueries.FindWithIdentitiesAsync(conn, user.Id, ct))!.Value;
        await tx.CommitAsync(ct);
        mailer.Outbox.Notify();
        return Results.Json(UserJson.From(result.User, result.Identities), Json.Options);
    }

    /// GoTrue `validateEmail` messages.
    internal static string ValidateEmail(string? email)
    {
        if (string.IsNullOrEmpty(email)) throw ApiError.BadRequest(ErrorCode.ValidationFailed, "An email address is required");
        return Identifiers.ValidateEmail(email);
    }

    /// An existing unconfirmed user is re-invited; a confirmed one is a 422. New invitees have no password.
    internal static async Task<UserRow> FindOrCreateInviteeAsync(NpgsqlConnection conn, string email, string aud,
        JwtOptions jwt, JsonObject? data, DateTime now, CancellationToken ct)
    {
        var existing = await UserQueries.FindByEmailAsync(conn, email, aud, ct);
        if (existing is not null)
        {
            if (existing.EmailConfirmedAt is not null) throw ApiError.Unprocessable(ErrorCode.EmailExists, DuplicateEmail);
            return existing;
        }
        var id = Guid.NewGuid();
        await Hooks.UserCreation.BeforeAsync(id, aud, email, null, "email", data, ct);
        // GoTrue `signupNewUser` + `createNewIdentity`: user_metadata = data, the identity has the bare claims.
        await SignupQueries.CreateUserAsync(conn, id, aud, jwt.DefaultGroupName, email, null, "", "email", data ?? [], now, ct,
            asSignup: false);
        return (await UserQueries.FindWithIdentitiesAsync(conn, id, ct))!.Value.User;
    }

    /// GoTrue audits admin actions with the admin's user, or a stand-in named after the token's role.
    internal static UserRow Actor(AdminUser admin) => new()
    {
        Id = admin.UserId ?? Guid.Empty,
        Email = admin.Claims.Role ?? "",
    };
}
