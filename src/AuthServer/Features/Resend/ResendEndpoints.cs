using AuthServer.Features.Captcha;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using Npgsql;

namespace AuthServer.Features.Resend;

/// `POST /resend`: a new signup confirmation or email-change mail (api.md §3; GoTrue resend.go). Nothing
/// pending (unknown user, already confirmed, no change requested) answers `{}` and sends nothing, with the
/// same per-address interval as a real send, so the answers do not tell these cases apart.
internal static class ResendEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app) => app.MapPost("/resend", ResendAsync).RequireCaptcha();

    internal sealed record ResendRequest(string? Type, string? Email, string? Phone, string? CodeChallenge,
        string? CodeChallengeMethod);

    static async Task<IResult> ResendAsync(HttpContext http, NpgsqlDataSource db, AuthOptions auth, JwtOptions jwt,
        Mailer mailer, MailerOptions options, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<ResendRequest>(http.Request, ct);
        var type = body.Type ?? "";
        var email = body.Email ?? "";
        var phone = body.Phone ?? "";
        if (type is not ("signup" or "email_change" or "sms" or "phone_change"))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Missing one of these types: signup, email_change, sms, phone_change");
        if (email.Length == 0 && type is "signup" or "email_change")
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Type provided requires an email address");
        if (phone.Length == 0 && type is "sms" or "phone_change")
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Type provided requires a phone number");
        if (email.Length > 0 && phone.Length > 0)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only one of email or phone number should be provided.");
        if (phone.Length > 0)
        {
            if (!auth.PhoneEnabled) throw ApiError.BadRequest(ErrorCode.PhoneProviderDisabled, "Phone logins are disabled");
            return await Phone.PhoneFlows.ResendAsync(http, type, phone, ct);
        }
        if (!auth.EmailEnabled) throw ApiError.BadRequest(ErrorCode.EmailProviderDisabled, "Email logins are disabled");
        email = Identifiers.ValidateEmail(email);
        var pkce = PkceParams.From(body.CodeChallenge, body.CodeChallengeMethod);
        var now = clock.GetUtcNow().UtcDateTime;

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        async Task<IResult> NothingToSendAsync()
        {
            await AddressThrottle.EnsureAsync(conn, mailer, options, type, email, now, ct);
            await tx.CommitAsync(ct);
            return Results.Json(new JsonObject());
        }
        var found = await UserQueries.FindByEmailAsync(conn, email, SignupEndpoints.RequestAudience(http, jwt), ct);
        if (found is null) return await NothingToSendAsync();
        var user = (await MailQueries.LockUserAsync(conn, found.Id, ct))!;
        if (type == "signup")
        {
            if (user.EmailConfirmedAt is not null) return await NothingToSendAsync();
            await AuditLog.WriteAsync(conn, user, AuditAction.UserConfirmationRequested, ClientInfo.Ip(http), now, ct);
            if (pkce is not null) await FlowStates.CreateAsync(conn, user.Id, pkce, "email", "email/signup", now, ct);
            await mailer.SendConfirmationAsync(conn, user, pkce is not null, mailer.Links(http), now, ct);
        }
        else
        {
            if (string.IsNullOrEmpty(user.EmailChange)) return await NothingToSendAsync();
            if (pkce is not null) await FlowStates.CreateAsync(conn, user.Id, pkce, "email_change", "email_change", now, ct);
            await mailer.SendEmailChangeAsync(conn, user, user.EmailChange, pkce is not null, mailer.Links(http), now, ct);
        }
        await tx.CommitAsync(ct);
        mailer.Outbox.Notify();
        return Results.Json(new JsonObject());
    }
}
