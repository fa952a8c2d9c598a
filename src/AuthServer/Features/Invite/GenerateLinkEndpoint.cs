using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Signup;
using AuthServer.Features.User;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Features.Invite;

/// `POST /admin/generate_link`: the link and OTP a mail would carry, returned instead of sent (api.md §3;
/// GoTrue mail.go `adminGenerateLink`).
internal static class GenerateLinkEndpoint
{
    internal sealed record GenerateLinkRequest(string? Type, string? Email, string? NewEmail, string? Password,
        JsonObject? Data, string? RedirectTo);

    public static async Task<IResult> GenerateLinkAsync(HttpContext http, AdminUser admin, NpgsqlDataSource db,
        JwtOptions jwt, MailerOptions options, ApiOptions api, Mailer mailer, Passwords passwords, TimeProvider clock,
        CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<GenerateLinkRequest>(http.Request, ct);
        var email = InviteEndpoints.ValidateEmail(body.Email);
        var type = body.Type ?? "";
        var referrer = Redirects.ValidOrReferrer(http, api, body.RedirectTo);
        var aud = SignupEndpoints.RequestAudience(http, jwt);
        var now = clock.GetUtcNow().UtcDateTime;
        var ip = ClientInfo.Ip(http);
        var otp = TokenHashes.NewOtp(options.OtpLength);
        var hashed = TokenHashes.Of(email, otp);

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var user = await UserQueries.FindByEmailAsync(conn, email, aud, ct);
        var password = body.Password;
        if (user is null)
        {
            if (type == "magiclink")
            {
                type = "signup";
                password = Secrets.NewToken();
            }
            else if (type is "recovery" or "email_change_current" or "email_change_new")
                throw ApiError.NotFound(ErrorCode.UserNotFound, "User with this email not found");
        }

        string linkToken;
        switch (type)
        {
            case "magiclink" or "recovery":
                user = (await MailQueries.LockUserAsync(conn, user!.Id, ct))!;
                await AuditLog.WriteAsync(conn, user, AuditAction.UserRecoveryRequested, ip, now, ct);
                await MailQueries.SetRecoveryTokenAsync(conn, user.Id, hashed, email, now, ct);
                linkToken = hashed;
                break;
            case "invite":
                user = await InviteEndpoints.FindOrCreateInviteeAsync(conn, email, aud, jwt, body.Data, now, ct);
                await AuditLog.WriteAsync(conn, InviteEndpoints.Actor(admin), AuditAction.UserInvited, ip, now, ct,
                    new JsonObject { ["user_id"] = user.Id.ToString(), ["user_email"] = email });
                await MailQueries.SetConfirmationTokenAsync(conn, user.Id, hashed, email, invited: true, now, ct);
                linkToken = hashed;
                break;
            case "signup":
                if (user is not null)
                {
                    if (user.EmailConfirmedAt is not null)
                        throw ApiError.Unprocessable(ErrorCode.EmailExists, InviteEndpoints.DuplicateEmail);
                    // GoTrue `UpdateUserMetaData(params.Data)`: the data is merged in, a null value removes its key.
                    if (body.Data is not null)
                        await UserUpdateQueries.SetUserMetadataAsync(conn, user.Id,
                            UserJson.MergeMetadata(user.UserMetadata, body.Data), now, ct);
                }
                else
                {
                    if (string.IsNullOrEmpty(password))
                        throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Signup requires a valid password");
                    await passwords.EnsureAcceptableAsync(password, ct);
                    var id = Guid.NewGuid();
                    await Hooks.UserCreation.BeforeAsync(http, id, aud, email, null, "email", body.Data, ct);
                    await SignupQueries.CreateUserAsync(conn, id, aud, jwt.DefaultGroupName, email, null,
                        await passwords.HashAsync(password, ct), "email", body.Data ?? [], now, ct, asSignup: false);
                    user = (await UserQueries.FindWithIdentitiesAsync(conn, id, ct))!.Value.User;
                    await AuditLog.WriteAsync(conn, user, AuditAction.UserSignedUp, ip, now, ct,
                        new JsonObject { ["provider"] = "email" });
                }
                await MailQueries.SetConfirmationTokenAsync(conn, user.Id, hashed, email, invited: false, now, ct);
                linkToken = hashed;
                break;
            case "email_change_current" or "email_change_new":
                {
                    if (!options.SecureEmailChangeEnabled && type == "email_change_current")
                        throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Enable secure email change to generate link for current email");
                    var newEmail = InviteEndpoints.ValidateEmail(body.NewEmail);
                    var taken = await UserQueries.FindByEmailAsync(conn, newEmail, user!.Aud ?? aud, ct);
                    if (taken is not null && taken.Id != user.Id)
                        throw ApiError.Unprocessable(ErrorCode.EmailExists, InviteEndpoints.DuplicateEmail);
                    user = (await MailQueries.LockUserAsync(conn, user.Id, ct))!;
                    if (type == "email_change_current")
                    {
                        await MailQueries.SetEmailChangeAsync(conn, user.Id, newEmail, "", email, hashed, now, ct);
                        linkToken = hashed;
                    }
                    else
                    {
                        linkToken = TokenHashes.Of(newEmail, otp);
                        await MailQueries.SetEmailChangeAsync(conn, user.Id, newEmail, linkToken, email, null, now, ct);
                    }
                    break;
                }
            default:
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Invalid email action link type requested: {type}");
        }

        var links = mailer.Links(http, referrer);
        var verifyType = type is "email_change_current" or "email_change_new" ? "email_change" : type;
        var actionLink = mailer.ActionLink(links, verifyType, linkToken);
        var result = (await UserQueries.FindWithIdentitiesAsync(conn, user.Id, ct))!.Value;
        await tx.CommitAsync(ct);

        var response = UserJson.From(result.User, result.Identities);
        response["action_link"] = actionLink;
        response["email_otp"] = otp;
        response["hashed_token"] = hashed;
        response["verification_type"] = type;
        response["redirect_to"] = referrer;
        return Results.Json(response, Json.Options);
    }
}
