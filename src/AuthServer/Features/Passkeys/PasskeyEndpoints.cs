using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Mfa;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using Fido2NetLib;
using Npgsql;

namespace AuthServer.Features.Passkeys;

/// Passkeys (GoTrue internal/api/passkey_*.go): a signed-in user registers discoverable WebAuthn credentials
/// (`/passkeys/registration/*`), anyone signs in with one without a user name (`/passkeys/authentication/*`),
/// and the owner lists, renames and deletes them. Ceremonies are rows of `auth.webauthn_challenges`,
/// consumed by one delete so a challenge serves one verification.
internal static class PasskeyEndpoints
{
    internal sealed record VerifyRequest(string? ChallengeId, JsonNode? Credential);

    internal sealed record UpdateRequest(string? FriendlyName);

    const string Registration = "registration";
    const string Authentication = "authentication";

    public static async Task<IResult> RegistrationOptionsAsync(AuthUser auth, NpgsqlDataSource db,
        RelyingParty rp, TimeProvider clock, CancellationToken ct)
    {
        RequireNotAnonymous(auth);
        if (auth.User.IsSsoUser)
            throw ApiError.Unprocessable(ErrorCode.ValidationFailed, "SSO users cannot register passkeys");
        await using var conn = await db.OpenConnectionAsync(ct);
        await RequireManagementAalAsync(conn, auth, ct);
        var existing = await PasskeyQueries.OfUserAsync(conn, auth.User.Id, ct);
        if (existing.Count >= rp.Options.MaxPasskeysPerUser)
            throw ApiError.Unprocessable(ErrorCode.TooManyPasskeys, "Maximum number of passkeys reached");

        var now = clock.GetUtcNow().UtcDateTime;
        var expiresAt = now + rp.Options.ChallengeExpiry;
        var challenge = RelyingParty.NewChallenge();
        var handle = UserHandle(auth.User.Id);
        var options = rp.CreationOptions(challenge, handle, Name(auth.User), DisplayName(auth.User),
            existing.Select(p => p.CredentialId), discoverable: true);
        return await ChallengeAsync(conn, auth.User.Id, Registration, rp.Session(challenge, handle, expiresAt), options,
            now, expiresAt, ct);
    }

    /// Stores the ceremony's server side and answers GoTrue's `{challenge_id, options, expires_at}`.
    static async Task<IResult> ChallengeAsync(NpgsqlConnection conn, Guid? userId, string type, CeremonySession session,
        JsonNode options, DateTime now, DateTime expiresAt, CancellationToken ct)
    {
        var challengeId = Guid.NewGuid();
        await PasskeyQueries.InsertChallengeAsync(conn, challengeId, userId, type, session.ToJson().ToJsonString(), now, expiresAt, ct);
        return Results.Json(new JsonObject
        {
            ["challenge_id"] = challengeId.ToString(),
            ["options"] = options,
            ["expires_at"] = new DateTimeOffset(expiresAt).ToUnixTimeSeconds(),
        }, Json.Options);
    }

    public static async Task<IResult> RegistrationVerifyAsync(HttpContext http, AuthUser auth, NpgsqlDataSource db,
        RelyingParty rp, TimeProvider clock, CancellationToken ct)
    {
        RequireNotAnonymous(auth);
        if (auth.User.IsSsoUser)
            throw ApiError.Unprocessable(ErrorCode.ValidationFailed, "SSO users cannot register passkeys");
        await using var conn = await db.OpenConnectionAsync(ct);
        await RequireManagementAalAsync(conn, auth, ct);
        var body = await BodyReader.ReadAsync<VerifyRequest>(http.Request, ct);
        var challengeId = ParseVerifyRequest(body);
        var now = clock.GetUtcNow().UtcDateTime;
        var session = await ConsumeAsync(conn, challengeId, Registration, auth.User.Id, now, ct);

        var handle = UserHandle(auth.User.Id);
        var credential = await rp.VerifyRegistrationAsync(body.Credential, session, handle, Name(auth.User), discoverable: true, ct);

        var passkeyId = Guid.NewGuid();
        var friendlyName = "Passkey"; // GoTrue utilities.PasskeyFriendlyName falls back to this for unknown AAGUIDs
        var transports = new JsonArray((credential.Transports ?? []).Select(t => (JsonNode)RelyingParty.TransportName(t)).ToArray());
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (await PasskeyQueries.CountAsync(conn, auth.User.Id, ct) >= rp.Options.MaxPasskeysPerUser)
            throw ApiError.Unprocessable(ErrorCode.TooManyPasskeys, "Maximum number of passkeys reached");
        try
        {
            await PasskeyQueries.InsertAsync(conn, passkeyId, auth.User.Id, credential, friendlyName, transports.ToJsonString(), now, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw ApiError.Unprocessable(ErrorCode.WebAuthnCredentialExists, "This credential is already registered");
        }
        await AuditLog.WriteAsync(conn, auth.User, "passkey_created", ClientInfo.Ip(http), now, ct,
            new JsonObject { ["passkey_id"] = passkeyId.ToString() });
        await tx.CommitAsync(ct);
        return Results.Json(new JsonObject
        {
            ["id"] = passkeyId.ToString(),
            ["friendly_name"] = friendlyName,
            ["created_at"] = now,
        }, Json.Options);
    }

    /// Discoverable sign-in: no user name, an empty `allowCredentials`, a challenge bound to nobody.
    public static async Task<IResult> AuthenticationOptionsAsync(NpgsqlDataSource db, RelyingParty rp, TimeProvider clock,
        CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var expiresAt = now + rp.Options.ChallengeExpiry;
        var challenge = RelyingParty.NewChallenge();
        var options = rp.RequestOptions(challenge, []);
        await using var conn = await db.OpenConnectionAsync(ct);
        return await ChallengeAsync(conn, null, Authentication, rp.Session(challenge, null, expiresAt), options, now, expiresAt, ct);
    }

    public static async Task<IResult> AuthenticationVerifyAsync(HttpContext http, NpgsqlDataSource db, RelyingParty rp,
        SessionIssuer issuer, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<VerifyRequest>(http.Request, ct);
        var challengeId = ParseVerifyRequest(body);
        var now = clock.GetUtcNow().UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        var session = await ConsumeAsync(conn, challengeId, Authentication, null, now, ct);
        var response = RelyingParty.Parse<AuthenticatorAssertionRawResponse>(body.Credential);

        // The user handle is the user's id as text (GoTrue models.User.WebAuthnID); the credential must be
        // one of that user's passkeys.
        var verificationFailed = ApiError.BadRequest(ErrorCode.WebAuthnVerificationFailed, "Credential verification failed");
        if (response.Response?.UserHandle is not { Length: > 0 } handle
            || !Guid.TryParse(Encoding.UTF8.GetString(handle), out var userId))
            throw verificationFailed;
        var found = await UserQueries.FindWithIdentitiesAsync(conn, userId, ct) ?? throw verificationFailed;
        if (found.User.DeletedAt is not null) throw verificationFailed; // soft-deleted: as if unknown
        var passkey = await PasskeyQueries.FindByCredentialIdAsync(conn, response.RawId ?? [], ct);
        if (passkey is null || passkey.UserId != userId) throw verificationFailed;
        var result = await rp.VerifyAssertionAsync(response, session, passkey.PublicKey, (uint)passkey.SignCount,
            UserHandle(userId), ct);

        var user = found.User;
        if (!string.IsNullOrEmpty(user.Email) && user.EmailConfirmedAt is null)
            throw ApiError.Forbidden(ErrorCode.EmailNotConfirmed, "Email not confirmed");
        if (!string.IsNullOrEmpty(user.Phone) && user.PhoneConfirmedAt is null)
            throw ApiError.Forbidden(ErrorCode.PhoneNotConfirmed, "Phone not confirmed");
        if (user.IsBanned(clock.GetUtcNow()))
            throw ApiError.Forbidden(ErrorCode.UserBanned, "User is banned");

        await using var tx = await conn.BeginTransactionAsync(ct);
        await PasskeyQueries.RecordUseAsync(conn, passkey.Id, result.SignCount, now, ct);
        var token = await issuer.StartAsync(conn, user.Id, "passkey", http, now, ct, auditAs: user,
            loginTraits: new JsonObject { ["passkey_id"] = passkey.Id.ToString() });
        await tx.CommitAsync(ct);
        return Results.Json(token, Json.Options);
    }

    public static async Task<IResult> ListAsync(AuthUser auth, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await PasskeyQueries.OfUserAsync(conn, auth.User.Id, ct);
        return Results.Json(new JsonArray(rows.Select(r => (JsonNode)r.ToJson()).ToArray()), Json.Options);
    }

    public static async Task<IResult> UpdateAsync(HttpContext http, AuthUser auth, string passkeyId, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        if (!Guid.TryParse(passkeyId, out var id)) throw PasskeyNotFound();
        var body = await BodyReader.ReadAsync<UpdateRequest>(http.Request, ct);
        if (string.IsNullOrEmpty(body.FriendlyName))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "friendly_name is required");
        // Go's utf8.RuneCountInString counts code points, not UTF-16 units.
        if (body.FriendlyName.EnumerateRunes().Count() > 120)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "friendly_name must be 120 characters or less");

        await using var conn = await db.OpenConnectionAsync(ct);
        var passkey = await PasskeyQueries.FindOwnedAsync(conn, auth.User.Id, id, ct) ?? throw PasskeyNotFound();
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await conn.BeginTransactionAsync(ct);
        await PasskeyQueries.RenameAsync(conn, id, body.FriendlyName, now, ct);
        await AuditLog.WriteAsync(conn, auth.User, "passkey_updated", ClientInfo.Ip(http), now, ct,
            new JsonObject { ["passkey_id"] = id.ToString() });
        await tx.CommitAsync(ct);
        var renamed = await PasskeyQueries.FindOwnedAsync(conn, auth.User.Id, id, ct) ?? passkey;
        return Results.Json(renamed.ToJson(), Json.Options);
    }

    public static async Task<IResult> DeleteAsync(HttpContext http, AuthUser auth, string passkeyId, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await RequireManagementAalAsync(conn, auth, ct);
        if (!Guid.TryParse(passkeyId, out var id)) throw PasskeyNotFound();
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (await PasskeyQueries.DeleteAsync(conn, id, auth.User.Id, ct) == 0) throw PasskeyNotFound();
        await AuditLog.WriteAsync(conn, auth.User, "passkey_deleted", ClientInfo.Ip(http), now, ct,
            new JsonObject { ["passkey_id"] = id.ToString() });
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    /// The challenge is consumed before the credential is checked (GoTrue does the same): a failed
    /// verification needs a new challenge.
    static async Task<CeremonySession> ConsumeAsync(NpgsqlConnection conn, Guid challengeId, string type, Guid? userId,
        DateTime now, CancellationToken ct)
    {
        var row = await PasskeyQueries.ConsumeChallengeAsync(conn, challengeId, type, userId, ct)
            ?? throw ApiError.BadRequest(ErrorCode.WebAuthnChallengeNotFound, "Challenge not found or already used");
        if (now > DateTime.SpecifyKind(row.ExpiresAt, DateTimeKind.Utc))
            throw ApiError.BadRequest(ErrorCode.WebAuthnChallengeExpired, "Challenge has expired");
        return CeremonySession.Parse(row.SessionData);
    }

    static Guid ParseVerifyRequest(VerifyRequest body)
    {
        if (string.IsNullOrEmpty(body.ChallengeId))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "challenge_id is required");
        if (body.Credential is null)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "credential is required");
        return Guid.TryParse(body.ChallengeId, out var id)
            ? id : throw ApiError.BadRequest(ErrorCode.ValidationFailed, "challenge_id must be a valid UUID");
    }

    /// GoTrue `requirePasskeyManagementAAL`: a user with a verified MFA factor manages passkeys from an aal2 session.
    static async Task RequireManagementAalAsync(NpgsqlConnection conn, AuthUser auth, CancellationToken ct)
    {
        if (auth.Factors.Any(f => f.IsVerified) && await MfaQueries.SessionAalAsync(conn, auth.SessionId, ct) != "aal2")
            throw ApiError.Forbidden(ErrorCode.InsufficientAal, "AAL2 session is required to manage passkeys when MFA is enabled");
    }

    static void RequireNotAnonymous(AuthUser auth)
    {
        if (auth.Claims.IsAnonymous)
            throw ApiError.Forbidden(ErrorCode.NoAuthorization, "Anonymous user not allowed to perform these actions");
    }

    /// GoTrue `models.User.WebAuthnID`: the id in its text form.
    public static byte[] UserHandle(Guid userId) => Encoding.UTF8.GetBytes(userId.ToString());

    static string Name(UserRow user) => !string.IsNullOrEmpty(user.Email) ? user.Email : user.Phone ?? "";

    static string DisplayName(UserRow user) =>
        user.UserMetadata["name"] is JsonValue v && v.TryGetValue<string>(out var name) && name.Length > 0 ? name : Name(user);

    static ApiError PasskeyNotFound() => ApiError.NotFound(ErrorCode.ValidationFailed, "Passkey not found");
}
