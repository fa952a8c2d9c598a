using AuthServer.Features.Captcha;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using Npgsql;

namespace AuthServer.Features.Recover;

/// `POST /recover`: the password-reset mail (api.md §3; GoTrue recover.go). Unknown addresses get the same
/// `{}` as known ones, and the same 429 when asked again within the mail interval, so the endpoint does not
/// reveal who has an account.
internal static class RecoverEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app) => app.MapPost("/recover", RecoverAsync).RequireCaptcha();

    internal sealed record RecoverRequest(string? Email, string? CodeChallenge, string? CodeChallengeMethod);

    static async Task<IResult> RecoverAsync(HttpContext http, NpgsqlDataSource db, AuthOptions auth, JwtOptions jwt,
        Mailer mailer, MailerOptions options, TimeProvider clock, CancellationToken ct)
    {
        if (!auth.EmailEnabled) throw ApiError.BadRequest(ErrorCode.EmailProviderDisabled, "Email logins are disabled");
        var body = await BodyReader.ReadAsync<RecoverRequest>(http.Request, ct);
        if (string.IsNullOrEmpty(body.Email))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Password recovery requires an email");
        var email = Identifiers.ValidateEmail(body.Email);
        var pkce = PkceParams.From(body.CodeChallenge, body.CodeChallengeMethod);
        var now = clock.GetUtcNow().UtcDateTime;

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var found = await UserQueries.FindByEmailAsync(conn, email, SignupEndpoints.RequestAudience(http, jwt), ct);
        if (found is null)
        {
            await AddressThrottle.EnsureAsync(conn, mailer, options, "recovery", email, now, ct);
            await tx.CommitAsync(ct);
            return Results.Json(new JsonObject());
        }
        var user = (await MailQueries.LockUserAsync(conn, found.Id, ct))!;
        if (pkce is not null) await FlowStates.CreateAsync(conn, user.Id, pkce, "recovery", "recovery", now, ct);
        await AuditLog.WriteAsync(conn, user, AuditAction.UserRecoveryRequested, ClientInfo.Ip(http), now, ct);
        await mailer.SendRecoveryAsync(conn, user, magicLink: false, pkce is not null, mailer.Links(http), now, ct);
        await tx.CommitAsync(ct);
        mailer.Outbox.Notify();
        return Results.Json(new JsonObject());
    }
}
