using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Captcha;
using AuthServer.Features.Signup;
using AuthServer.RateLimits;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Features.DbConnections;

/// `POST /dbconnections/signup`, the Auth0 / Faable Auth database-connection sign-up: public (no token),
/// creates an ordinary user (auth.users + `email` identity + bcrypt hash, profile row via the trigger)
/// in one transaction and starts no session. Errors are always `{code, message}` (this is not a GoTrue
/// route, so the GoTrue legacy shape does not apply). See docs/beyond-gotrue.md "Database connections".
internal static class DbConnectionSignupEndpoints
{
    public const string InvalidClient = "invalid_client";
    public const string InvalidConnection = "invalid_connection";
    public const string InvalidPassword = "invalid_password";
    public const string EmailTaken = "email_taken";

    internal static void MapRoutes(IEndpointRouteBuilder app) =>
        app.MapPost("/dbconnections/signup", SignupAsync).AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (ApiError e)
            {
                context.HttpContext.Response.Headers["x-sb-error-code"] = e.Code;
                ApiErrorHandler.SetRetryAfter(context.HttpContext.Response, e);
                var body = new JsonObject { ["code"] = e.Code, ["message"] = e.Message };
                if (e.Extra is not null)
                    foreach (var (key, value) in e.Extra)
                        body[key] = value?.DeepClone();
                return Results.Json(body, statusCode: e.Status);
            }
        });

    internal sealed record DbSignupRequest(string? ClientId, string? Email, string? Password, string? Name, string? GivenName,
        string? FamilyName, JsonObject? UserMetadata, string? Connection);

    static async Task<IResult> SignupAsync(HttpContext http, NpgsqlDataSource db, DbConnectionOptions options,
        AuthOptions auth, JwtOptions jwt, Passwords passwords, Mailer mailer, TimeProvider clock, RateLimiter limiter,
        CaptchaVerifier captcha, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        // Counted first, so malformed requests spend the budget too. Same PostgreSQL buckets as every other limit,
        // keyed as our own limits are (the request-limit key, else the socket address): a burst of N, refilled at
        // N per minute.
        if (options.RateLimitPerMinute > 0)
        {
            var bucket = new Bucket("dbconnections_signup", options.RateLimitPerMinute, options.RateLimitPerMinute / 60.0);
            var decision = await limiter.TryTakeAsync(bucket, limiter.ClientKey(http), ct);
            if (!decision.Allowed) throw RateLimiter.RequestRateLimit(decision.RetryAfter);
        }

        // The same captcha as /signup (review L-1: the client id is public, so this was a captcha bypass);
        // after the rate limit, as GoTrue orders them. Errors keep this route's {code, message} shape.
        await captcha.EnsureAsync(http, ct);

        var body = await BodyReader.ReadAsync<DbSignupRequest>(http.Request, ct);
        if (auth.DisableSignup)
            throw ApiError.Forbidden(ErrorCode.SignupDisabled, "Signups not allowed for this instance");
        if (!auth.EmailEnabled)
            throw ApiError.BadRequest(ErrorCode.EmailProviderDisabled, "Email signups are disabled");
        if (string.IsNullOrWhiteSpace(body.ClientId))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "client_id is required");

        ConnectionRow connection;
        await using (var conn = await db.OpenConnectionAsync(ct))
            connection = Choose(await DbConnectionQueries.ForClientAsync(conn, body.ClientId, ct), body.Connection);
        if (connection.DisableSignup)
            throw ApiError.Forbidden(ErrorCode.SignupDisabled, "Public signup is disabled for this connection");

        if (string.IsNullOrWhiteSpace(body.Email))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "email is required");
        var email = Identifiers.ValidateEmail(body.Email);
        if (string.IsNullOrEmpty(body.Password))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "password is required");
        EnsurePolicy(connection, body.Password);

        var metadata = (JsonObject?)body.UserMetadata?.DeepClone() ?? [];
        if (body.Name is not null) metadata["name"] = body.Name;
        if (body.GivenName is not null) metadata["given_name"] = body.GivenName;
        if (body.FamilyName is not null) metadata["family_name"] = body.FamilyName;

        var hash = await passwords.HashAsync(body.Password, ct); // before the transaction: ~80 ms of CPU
        var aud = SignupEndpoints.RequestAudience(http, jwt);
        var userId = Guid.NewGuid();
        await Hooks.UserCreation.BeforeAsync(http, userId, aud, email, null, "email", metadata, ct);

        await using var txConn = await db.OpenConnectionAsync(ct);
        await using var tx = await txConn.BeginTransactionAsync(ct);
        if (await DbConnectionQueries.EmailTakenAsync(txConn, email, ct))
            return Taken(options, auth);
        try
        {
            // The profile row (public.users) is created by the auth.users trigger in this transaction.
            await SignupQueries.CreateUserAsync(txConn, userId, aud, jwt.DefaultGroupName, email, null, hash, "email",
                metadata, now, ct);
        }
        catch (PostgresException e) when (e is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "users_email_partial_key" })
        {
            // A concurrent sign-up of the same address committed between our check and our insert.
            return Taken(options, auth);
        }

        if (auth.MailerAutoconfirm)
        {
            await SignupQueries.ConfirmAsync(txConn, userId, "email", now, ct);
        }
        var user = (await UserQueries.FindWithIdentitiesAsync(txConn, userId, ct))!.Value.User;
        var ip = ClientInfo.Ip(http);
        await AuditLog.WriteAsync(txConn, user, AuditAction.UserSignedUp, ip, now, ct,
            new JsonObject { ["provider"] = "email", ["connection"] = connection.Name });
        // Mail is queued in this transaction (the outbox), so it exists exactly when the user does.
        var queued = false;
        if (!auth.MailerAutoconfirm && connection.VerifyEmailAutoSend)
        {
            // The confirmation mail /signup sends, audited as GoTrue signup.go audits it.
            var locked = (await MailQueries.LockUserAsync(txConn, userId, ct))!;
            await AuditLog.WriteAsync(txConn, locked, AuditAction.UserConfirmationRequested, ip, now, ct,
                new JsonObject { ["provider"] = "email" });
            await mailer.SendConfirmationAsync(txConn, locked, pkce: false, mailer.Links(http), now, ct);
            queued = true;
        }
        if (connection.WelcomeEmailEnabled)
        {
            await mailer.SendWelcomeAsync(txConn, user, mailer.Links(http), now, ct);
            queued = true;
        }
        await tx.CommitAsync(ct);
        if (queued) mailer.Outbox.Notify();

        return Created(userId, user.EmailConfirmedAt is not null);
    }

    /// The named connection if the client may use it; without a name, the client's only connection.
    static ConnectionRow Choose(List<ConnectionRow> allowed, string? name)
    {
        if (allowed.Count == 0)
            throw ApiError.BadRequest(InvalidClient, "Unknown client_id, or no connection is enabled for it");
        if (!string.IsNullOrEmpty(name))
            return allowed.FirstOrDefault(c => c.Name == name)
                ?? throw ApiError.BadRequest(InvalidConnection, $"Connection \"{name}\" does not exist or is not enabled for this client");
        if (allowed.Count > 1)
            throw ApiError.BadRequest(InvalidConnection, "This client may use several connections: connection is required");
        return allowed[0];
    }

    /// The connection's policy; on failure the message states the whole policy (what Faable shows to
    /// the user) and `reasons` says which parts failed, as GoTrue's `weak_password` does.
    static void EnsurePolicy(ConnectionRow connection, string password)
    {
        if (Encoding.UTF8.GetByteCount(password) > 72)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Password cannot be longer than 72 characters");
        var reasons = new JsonArray();
        if (password.Length < connection.PasswordMinLength) reasons.Add("length");
        var groups = connection.PasswordRequiredCharacters;
        if (groups.Any(group => !password.Any(group.Contains))) reasons.Add("characters");
        if (reasons.Count == 0) return;

        var policy = $"Password must be at least {connection.PasswordMinLength} characters long";
        if (groups.Length > 0)
            policy += " and contain at least one character of each: " + string.Join(", ", groups);
        throw new ApiError(400, InvalidPassword, policy + ".")
        {
            Extra = new JsonObject { ["weak_password"] = new JsonObject { ["reasons"] = reasons } },
        };
    }

    /// Auth0's 409, or with `GOTRUE_DBCONNECTIONS_ENUMERATION_SAFE` the answer a new sign-up gets, with a
    /// random user_id (as GoTrue's /signup answers a taken address with a made-up user). The password was
    /// hashed either way, so the two answers cost the same.
    static IResult Taken(DbConnectionOptions options, AuthOptions auth) => options.EnumerationSafe
        ? Created(Guid.NewGuid(), emailVerified: auth.MailerAutoconfirm)
        : throw ApiError.Conflict(EmailTaken, "A user with this email address already exists");

    static IResult Created(Guid userId, bool emailVerified) => Results.Json(new JsonObject
    {
        ["status"] = "created",
        ["user_id"] = userId.ToString(),
        ["email_verified"] = emailVerified,
    });
}
