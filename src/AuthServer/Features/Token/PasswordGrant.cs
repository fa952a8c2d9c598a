using AuthServer.Config;
using AuthServer.Data;
using AuthServer.RateLimits;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;
using System.Text.Json.Nodes;

namespace AuthServer.Features.Token;

/// `grant_type=password` (api.md §3): every failure that could reveal whether the account exists gives
/// the same "Invalid login credentials", and an unknown account still costs one bcrypt verification.
internal static class PasswordGrant
{
    internal sealed record PasswordRequest(string? Email, string? Phone, string? Password);

    public static async Task<IResult> HandleAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var auth = services.GetRequiredService<AuthOptions>();
        var jwt = services.GetRequiredService<JwtOptions>();
        var passwords = services.GetRequiredService<Passwords>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var body = await BodyReader.ReadAsync<PasswordRequest>(http.Request, ct);

        var hasEmail = !string.IsNullOrEmpty(body.Email);
        var hasPhone = !string.IsNullOrEmpty(body.Phone);
        if (hasEmail && hasPhone)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only an email address or phone number should be provided on login.");
        if (!hasEmail && !hasPhone)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "missing email or phone");
        if (hasEmail && !auth.EmailEnabled)
            throw ApiError.Unprocessable(ErrorCode.EmailProviderDisabled, "Email logins are disabled");
        if (hasPhone && !auth.PhoneEnabled)
            throw ApiError.Unprocessable(ErrorCode.PhoneProviderDisabled, "Phone logins are disabled");

        var aud = SignupEndpoints.RequestAudience(http, jwt);
        var password = body.Password ?? "";
        var account = hasEmail ? body.Email!.Trim().ToLowerInvariant() : Identifiers.NormalizePhone(body.Phone!);
        var limiter = services.GetRequiredService<RateLimiter>();
        var attempt = await limiter.BeginPasswordAttemptAsync(http, account, ct);
        var db = services.GetRequiredService<NpgsqlDataSource>();
        await using var conn = await db.OpenConnectionAsync(ct);
        var user = hasEmail
            ? await UserQueries.FindByEmailAsync(conn, account, aud, ct)
            : await UserQueries.FindByPhoneAsync(conn, account, aud, ct);

        if (user is not null && user.IsBanned(now))
            throw ApiError.BadRequest(ErrorCode.UserBanned, "User is banned");
        // Release the connection during the ~80 ms hash check: the pool is for database work.
        await conn.CloseAsync();
        // GOTRUE_SECURITY_DB_ENCRYPTION_*: the hash may be stored as an encrypted string bound to the user id.
        var hash = user is null ? null : services.GetRequiredService<ColumnEncryption>().Reveal(user.EncryptedPassword, user.Id);
        var valid = await passwords.VerifyAsync(password, hash, ct);
        if (user is not null)
            await Hooks.PasswordVerificationHook.RunAsync(services.GetRequiredService<Hooks.HookRunner>(), user.Id, valid, ct);
        if (!valid || user is null)
        {
            await limiter.PasswordFailedAsync(attempt, ct);
            throw ApiError.BadRequest(ErrorCode.InvalidCredentials, "Invalid login credentials");
        }
        await limiter.PasswordSucceededAsync(attempt, ct);
        if (hasEmail && user.EmailConfirmedAt is null)
            throw ApiError.BadRequest(ErrorCode.EmailNotConfirmed, "Email not confirmed");
        if (hasPhone && user.PhoneConfirmedAt is null)
            throw ApiError.BadRequest(ErrorCode.PhoneNotConfirmed, "Phone not confirmed");

        // GoTrue reports a weak (or pwned) password on sign-in without refusing it; an unavailable
        // Pwned Passwords API, even fail-closed, only logs a warning here.
        JsonObject? weak = null;
        try { weak = (await passwords.CheckAsync(password, ct))?.ToJson(includeMessage: true); }
        catch (ApiError e) when (e.Status == 500)
        {
            services.GetRequiredService<ILogger<Passwords>>().LogWarning("Password strength check on sign-in failed: {Error}", e.InnerException?.Message);
        }
        await conn.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var session = await services.GetRequiredService<SessionIssuer>().StartAsync(conn, user.Id, "password", http,
            now.UtcDateTime, ct, weak, provider: hasEmail ? "email" : "phone");
        await tx.CommitAsync(ct);
        return Results.Json(session, Json.Options);
    }
}
