using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using AuthServer.Sms;
using Npgsql;

namespace AuthServer.Features.Mfa;

/// TOTP multi-factor authentication: `POST /factors`, `POST /factors/{id}/challenge`,
/// `POST /factors/{id}/verify`, `DELETE /factors/{id}` (api.md §3 "MFA", GoTrue internal/api/mfa.go).
/// GoTrue has no `challenge_and_verify` route: supabase-js's challengeAndVerify makes the two calls.
/// Phone factors are in PhoneFactors, WebAuthn factors in WebAuthnFactors.
internal static class MfaEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapPost("/factors", EnrollAsync);
        app.MapPost("/factors/{factorId}/challenge", ChallengeAsync);
        app.MapPost("/factors/{factorId}/verify", VerifyAsync);
        app.MapDelete("/factors/{factorId}", UnenrollAsync);
    }

    internal sealed record EnrollRequest(string? FriendlyName, string? FactorType, string? Issuer, string? Phone);

    internal sealed record VerifyRequest(Guid? ChallengeId, string? Code,
        [property: System.Text.Json.Serialization.JsonPropertyName("webauthn")] WebAuthnFactors.WebAuthnParams? WebAuthn);

    static async Task<IResult> EnrollAsync(HttpContext http, AuthUser auth, NpgsqlDataSource db, MfaOptions mfa,
        ApiOptions api, ColumnEncryption encryption, TimeProvider clock, CancellationToken ct)
    {
        RequireNotAnonymous(auth);
        if (auth.SessionId is not { } sessionId)
            throw ApiError.Internal("A valid session and a registered user are required to enroll a factor");
        var body = await BodyReader.ReadAsync<EnrollRequest>(http.Request, ct);
        switch (body.FactorType)
        {
            case "phone":
                if (!mfa.PhoneEnrollEnabled)
                    throw ApiError.Unprocessable(ErrorCode.MfaPhoneEnrollNotEnabled, "MFA enroll is disabled for Phone");
                return await PhoneFactors.EnrollAsync(http, auth, body, sessionId, db, mfa, clock, ct);
            case "webauthn":
                if (!mfa.WebAuthnEnrollEnabled)
                    throw ApiError.Unprocessable(ErrorCode.MfaWebAuthnEnrollNotEnabled, "MFA enroll is disabled for WebAuthn");
                return await WebAuthnFactors.EnrollAsync(http, auth, body, sessionId, db, mfa, clock, ct);
            case "totp":
                if (!mfa.TotpEnrollEnabled)
                    throw ApiError.Unprocessable(ErrorCode.MfaTotpEnrollNotEnabled, "MFA enroll is disabled for TOTP");
                break;
            default:
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "factor_type needs to be totp, phone, or webauthn");
        }

        var issuer = body.Issuer is { Length: > 0 } given ? given
            : System.Uri.TryCreate(api.SiteUrl, UriKind.Absolute, out var site) ? site.Authority
            : throw ApiError.Internal("site url is improperly formatted");
        var friendlyName = body.FriendlyName ?? "";
        var now = clock.GetUtcNow().UtcDateTime;

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await MfaQueries.DeleteExpiredFactorsAsync(conn, now - mfa.FactorExpiry, ct);
        var factors = await MfaQueries.FactorsOfAsync(conn, auth.User.Id, ct);
        await ValidateNewFactorAsync(conn, factors, friendlyName, mfa, sessionId, ct);

        // pquerna/otp refuses an empty account name, and GoTrue passes the email: a phone-only user
        // gets GoTrue's 500 here too.
        if (string.IsNullOrEmpty(auth.User.Email))
            throw ApiError.Internal("Error generating QR Code");
        var secret = Totp.NewSecret();
        var uri = Totp.Uri(issuer, auth.User.Email, secret);
        var factorId = Guid.NewGuid();
        try
        {
            // GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT: stored as GoTrue's encrypted string bound to the factor id
            // (models.Factor.SetSecret), readable by GoTrue with the same keys.
            await MfaQueries.InsertTotpFactorAsync(conn, factorId, auth.User.Id, friendlyName,
                encryption.Protect(secret, factorId), now, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw NameConflict(friendlyName); // a concurrent enrolment took the name
        }
        await AuditLog.WriteAsync(conn, auth.User, AuditAction.FactorInProgress, ClientInfo.Ip(http), now, ct,
            new JsonObject { ["factor_id"] = factorId.ToString() });
        await tx.CommitAsync(ct);

        return Results.Json(new JsonObject
        {
            ["id"] = factorId.ToString(),
            ["type"] = "totp",
            ["friendly_name"] = friendlyName,
            ["totp"] = new JsonObject
            {
                ["qr_code"] = Totp.QrSvg(uri),
                ["secret"] = secret,
                ["uri"] = uri,
            },
        }, Json.Options);
    }

    /// GoTrue `validateFactors`: unique friendly name (an empty name counts as a name), the enrolled and
    /// verified limits, and aal2 once a verified factor exists.
    internal static async Task ValidateNewFactorAsync(NpgsqlConnection conn, List<FactorRow> factors, string friendlyName,
        MfaOptions mfa, Guid sessionId, CancellationToken ct)
    {
        if (factors.Any(f => (f.FriendlyName ?? "") == friendlyName))
            throw NameConflict(friendlyName);
        var verified = factors.Count(f => f.IsVerified);
        if (factors.Count >= mfa.MaxEnrolledFactors || verified >= mfa.MaxVerifiedFactors)
            throw ApiError.Unprocessable(ErrorCode.TooManyEnrolledMfaFactors,
                "Maximum number of verified factors reached, unenroll to continue");
        if (verified > 0 && await MfaQueries.SessionAalAsync(conn, sessionId, ct) != "aal2")
            throw ApiError.Forbidden(ErrorCode.InsufficientAal, "AAL2 required to enroll a new factor");
    }

    internal static ApiError NameConflict(string friendlyName) => ApiError.Unprocessable(ErrorCode.MfaFactorNameConflict,
        $"A factor with the friendly name {GoQuote(friendlyName)} for this user already exists");

    static async Task<IResult> ChallengeAsync(HttpContext http, AuthUser auth, string factorId, NpgsqlDataSource db,
        MfaOptions mfa, SmsSender sms, ColumnEncryption encryption, RelyingParty rp, TimeProvider clock, CancellationToken ct)
    {
        RequireNotAnonymous(auth);
        await using var conn = await db.OpenConnectionAsync(ct);
        var factor = await LoadFactorAsync(conn, auth, factorId, ct);
        RequireVerifyEnabled(factor, mfa, verifying: false);
        if (factor.FactorType == "phone")
        {
            await conn.CloseAsync(); // no connection held while the SMS goes out
            return await PhoneFactors.ChallengeAsync(http, auth, factor, db, mfa, sms, encryption, clock, ct);
        }
        if (factor.FactorType == "webauthn")
            return await WebAuthnFactors.ChallengeAsync(http, auth, factor, conn, mfa, rp, clock, ct);

        var now = clock.GetUtcNow().UtcDateTime;
        var challengeId = Guid.NewGuid();
        await using var tx = await conn.BeginTransactionAsync(ct);
        await MfaQueries.InsertChallengeAsync(conn, challengeId, factor.Id, ClientInfo.Ip(http), now, ct);
        await AuditLog.WriteAsync(conn, auth.User, AuditAction.ChallengeCreated, ClientInfo.Ip(http), now, ct,
            new JsonObject { ["factor_id"] = factor.Id.ToString(), ["factor_status"] = factor.Status });
        await tx.CommitAsync(ct);

        return Results.Json(new JsonObject
        {
            ["id"] = challengeId.ToString(),
            ["type"] = factor.FactorType,
            ["expires_at"] = new DateTimeOffset(now + mfa.ChallengeExpiry).ToUnixTimeSeconds(),
        }, Json.Options);
    }

    static async Task<IResult> VerifyAsync(HttpContext http, AuthUser auth, string factorId, NpgsqlDataSource db,
        MfaOptions mfa, SessionIssuer issuer, ColumnEncryption encryption, SmsSender sms, RelyingParty rp, TimeProvider clock,
        CancellationToken ct)
    {
        RequireNotAnonymous(auth);
        await using var conn = await db.OpenConnectionAsync(ct);
        var factor = await LoadFactorAsync(conn, auth, factorId, ct);
        var body = await BodyReader.ReadAsync<VerifyRequest>(http.Request, ct);
        if (string.IsNullOrEmpty(body.Code) && factor.FactorType != "webauthn")
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Code needs to be non-empty");
        RequireVerifyEnabled(factor, mfa, verifying: true);
        if (auth.SessionId is not { } sessionId)
            throw ApiError.Internal("Cannot read SessionId claim as UUID");
        if (factor.FactorType == "webauthn")
            return await WebAuthnFactors.VerifyAsync(http, auth, factor, sessionId, body, conn, mfa, rp, issuer, clock, ct);

        var now = clock.GetUtcNow();
        var ip = ClientInfo.Ip(http);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var challenge = await LockUsableChallengeAsync(conn, tx, factor.Id, body.ChallengeId, ip, now.UtcDateTime, mfa, ct);
        if (factor.FactorType == "phone")
            return await PhoneFactors.VerifyAsync(http, auth, factor, challenge, body.Code!, sessionId, conn, tx, mfa, sms,
                issuer, encryption, now, ct);

        var (state, windowOpen) = await LockVerifyAttemptsAsync(conn, factor.Id, mfa, now, ct);

        var stored = await MfaQueries.SecretAsync(conn, factor.Id, ct) ?? "";
        var secret = RevealSecret(encryption, stored, factor.Id);
        // GoTrue rewrites a plaintext secret, or one under an older key, with the current key on every
        // verification attempt, right or wrong.
        if (encryption.ShouldReEncrypt(stored))
            await MfaQueries.UpdateSecretAsync(conn, factor.Id, encryption.Protect(secret, factor.Id), ct);
        // A time step already used on this factor is refused like a wrong code (RFC 6238 §5.2).
        var step = Totp.Verify(secret, body.Code!, now);
        await Hooks.MfaVerificationHook.RunAsync(http, auth.User.Id, factor.Id, factor.FactorType, !(step is null || step <= state.LastUsedStep), ct);
        if (step is null || step <= state.LastUsedStep)
        {
            await MfaQueries.RecordFailureAsync(conn, factor.Id, newWindow: !windowOpen, now.UtcDateTime, ct);
            await tx.CommitAsync(ct);
            throw ApiError.Unprocessable(ErrorCode.MfaVerificationFailed, "Invalid TOTP code entered");
        }

        await AuditLog.WriteAsync(conn, auth.User, AuditAction.VerificationAttempted, ip, now.UtcDateTime, ct, new JsonObject
        {
            ["factor_id"] = factor.Id.ToString(),
            ["challenge_id"] = challenge.Id.ToString(),
            ["factor_type"] = factor.FactorType,
        });
        await MfaQueries.MarkVerifiedAsync(conn, factor.Id, challenge.Id, step.Value, now.UtcDateTime, ct);
        if (!factor.IsVerified) await http.RequestServices.GetRequiredService<Mail.Notifications>().MfaFactorEnrolledAsync(conn, auth.User.Id, factor.FactorType, ct);
        var session = await issuer.ReissueAsync(conn, auth.User.Id, sessionId, "totp", factor.Id, now.UtcDateTime, ct);
        await MfaQueries.AfterVerificationAsync(conn, auth.User.Id, factor.FactorType, ct);
        await tx.CommitAsync(ct);
        return Results.Json(session, Json.Options);
    }

    static async Task<IResult> UnenrollAsync(HttpContext http, AuthUser auth, string factorId, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        RequireNotAnonymous(auth);
        await using var conn = await db.OpenConnectionAsync(ct);
        var loaded = await LoadFactorAsync(conn, auth, factorId, ct);
        if (auth.SessionId is not { } sessionId)
            throw ApiError.Internal("A valid session and factor are required to unenroll a factor");

        await using var tx = await conn.BeginTransactionAsync(ct);
        var factor = await MfaQueries.LockFactorAsync(conn, loaded.Id, ct)
            ?? throw ApiError.NotFound(ErrorCode.MfaFactorNotFound, "Factor not found");
        if (factor.IsVerified && await MfaQueries.SessionAalAsync(conn, sessionId, ct) != "aal2")
            throw ApiError.Unprocessable(ErrorCode.InsufficientAal, "AAL2 required to unenroll verified factor");
        await MfaQueries.DeleteFactorAsync(conn, factor, ct);
        await http.RequestServices.GetRequiredService<Mail.Notifications>().MfaFactorUnenrolledAsync(conn, auth.User.Id, factor.FactorType, ct);
        var now = clock.GetUtcNow().UtcDateTime;
        await AuditLog.WriteAsync(conn, auth.User, AuditAction.FactorUnenrolled, ClientInfo.Ip(http), now, ct, new JsonObject
        {
            ["factor_id"] = factor.Id.ToString(),
            ["factor_status"] = factor.Status,
            ["session_id"] = sessionId.ToString(),
        });
        await tx.CommitAsync(ct);
        return Results.Json(new JsonObject { ["id"] = factor.Id.ToString() }, Json.Options);
    }

    /// The TOTP secret in plaintext: stored as is, or as GoTrue's encrypted string (GOTRUE_SECURITY_DB_ENCRYPTION_*,
    /// HKDF info = the factor id). A secret under a key id we were not given, or that does not decrypt, is a
    /// deployment error, not the caller's: GoTrue's 500 and message, with the reason in the server log.
    static string RevealSecret(ColumnEncryption encryption, string stored, Guid factorId)
    {
        try
        {
            return encryption.Reveal(stored, factorId) ?? "";
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw ApiError.Internal("Database error verifying MFA TOTP secret", new System.Security.Cryptography.CryptographicException(
                $"auth.mfa_factors.secret of factor {factorId} could not be decrypted: {e.Message}", e));
        }
    }

    /// GoTrue `requireNotAnonymous`: decided by the token's `is_anonymous` claim.
    static void RequireNotAnonymous(AuthUser auth)
    {
        if (auth.Claims.IsAnonymous)
            throw ApiError.Forbidden(ErrorCode.NoAuthorization, "Anonymous user not allowed to perform these actions");
    }

    /// GoTrue `loadFactor`: a malformed id is a 404 `validation_failed`, another user's factor is not found.
    static async Task<FactorRow> LoadFactorAsync(NpgsqlConnection conn, AuthUser auth, string factorId, CancellationToken ct)
    {
        if (!Guid.TryParse(factorId, out var id))
            throw ApiError.NotFound(ErrorCode.ValidationFailed, "factor_id must be an UUID");
        return await MfaQueries.FindOwnedFactorAsync(conn, auth.User.Id, id, ct)
            ?? throw ApiError.NotFound(ErrorCode.MfaFactorNotFound, "Factor not found");
    }

    /// GoTrue answers a disabled WebAuthn verification with the *enroll* error code; kept as it is.
    static void RequireVerifyEnabled(FactorRow factor, MfaOptions mfa, bool verifying)
    {
        switch (factor.FactorType)
        {
            case "totp" when !mfa.TotpVerifyEnabled:
                throw ApiError.Unprocessable(ErrorCode.MfaTotpVerifyNotEnabled, "MFA verification is disabled for TOTP");
            case "phone" when !mfa.PhoneVerifyEnabled:
                throw ApiError.Unprocessable(ErrorCode.MfaPhoneVerifyNotEnabled, "MFA verification is disabled for Phone");
            case "webauthn" when !mfa.WebAuthnVerifyEnabled:
                throw ApiError.Unprocessable(verifying ? ErrorCode.MfaWebAuthnEnrollNotEnabled : ErrorCode.MfaWebAuthnVerifyNotEnabled,
                    "MFA verification is disabled for WebAuthn");
        }
    }

    /// Go's `%q` for the strings people type: double quotes, backslash escapes.
    static string GoQuote(string value) => System.Text.Json.JsonSerializer.Serialize(value,
        new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// The factor's verify state, locked, and whether its failure window (one minute from the first failure) is
    /// open; 429 while that window's failures reach `GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY` (TOTP and phone alike).
    /// The challenge a verification answers, locked: of two parallel verifications of one challenge the second finds
    /// it used. GoTrue answers a consumed challenge with the IP-mismatch error too; an expired one is deleted.
    internal static async Task<MfaQueries.ChallengeRow> LockUsableChallengeAsync(NpgsqlConnection conn,
        NpgsqlTransaction tx, Guid factorId, Guid? challengeId, string ip, DateTime now, MfaOptions mfa, CancellationToken ct)
    {
        var challenge = await MfaQueries.LockChallengeAsync(conn, factorId, challengeId ?? Guid.Empty, ct)
            ?? throw ApiError.Unprocessable(ErrorCode.MfaFactorNotFound, "MFA factor with the provided challenge ID not found");
        if (challenge.VerifiedAt is not null || challenge.IpAddress != (ip.Length == 0 ? "0.0.0.0" : ip))
            throw ApiError.Unprocessable(ErrorCode.MfaIpAddressMismatch, "Challenge and verify IP addresses mismatch.");
        if (now > DateTime.SpecifyKind(challenge.CreatedAt, DateTimeKind.Utc) + mfa.ChallengeExpiry)
        {
            await MfaQueries.DeleteChallengeAsync(conn, challenge.Id, ct);
            await tx.CommitAsync(ct);
            throw ApiError.Unprocessable(ErrorCode.MfaChallengeExpired,
                $"MFA challenge {challenge.Id} has expired, verify against another challenge or create a new challenge.");
        }
        return challenge;
    }

    internal static async Task<(MfaQueries.TotpStateRow State, bool WindowOpen)> LockVerifyAttemptsAsync(
        NpgsqlConnection conn, Guid factorId, MfaOptions mfa, DateTimeOffset now, CancellationToken ct)
    {
        var state = await MfaQueries.LockTotpStateAsync(conn, factorId, ct);
        var reopensAt = state.FailuresStartedAt is { } started ? DateTime.SpecifyKind(started, DateTimeKind.Utc).AddMinutes(1) : (DateTime?)null;
        var windowOpen = now.UtcDateTime < reopensAt;
        if (windowOpen && state.FailedAttempts >= mfa.VerifyAttemptsPerMinute)
            throw ApiError.TooManyRequests(ErrorCode.OverRequestRateLimit, "Request rate limit reached", reopensAt!.Value - now.UtcDateTime);
        return (state, windowOpen);
    }
}
