using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Passkeys;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using Dapper;
using Fido2NetLib;
using Npgsql;

namespace AuthServer.Features.Mfa;

/// WebAuthn factors (GoTrue internal/api/mfa.go `enrollWebAuthnFactor`, `challengeWebAuthnFactor`,
/// `verifyWebAuthnFactor`): an unverified factor is challenged with creation options and verified by
/// registering a credential; a verified one with request options and an assertion. The relying party is
/// the server's (GOTRUE_WEBAUTHN_*), as in GoTrue: the `rpId`/`rpOrigins` supabase-js sends are ignored.
/// The credential lives in `mfa_factors.web_authn_credential` as go-webauthn's `Credential` JSON.
internal static class WebAuthnFactors
{
    internal sealed record WebAuthnParams(string? Type, JsonNode? CredentialResponse);

    sealed class StoredCredential
    {
        public Guid Id { get; init; }
        public string? WebAuthnCredential { get; init; }
    }

    public static async Task<IResult> EnrollAsync(HttpContext http, AuthUser auth, MfaEndpoints.EnrollRequest body,
        Guid sessionId, NpgsqlDataSource db, MfaOptions mfa, TimeProvider clock, CancellationToken ct)
    {
        var friendlyName = body.FriendlyName ?? "";
        var now = clock.GetUtcNow().UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await MfaQueries.DeleteExpiredFactorsAsync(conn, now - mfa.FactorExpiry, ct);
        var factors = await MfaQueries.FactorsOfAsync(conn, auth.User.Id, ct);
        await MfaEndpoints.ValidateNewFactorAsync(conn, factors, friendlyName, mfa, sessionId, ct);
        var factorId = Guid.NewGuid();
        try
        {
            await conn.ExecuteAsync(new CommandDefinition(
                """
                insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at)
                values (@factorId, @userId, @friendlyName, 'webauthn', 'unverified', @now, @now)
                """, new { factorId, userId = auth.User.Id, friendlyName, now }, cancellationToken: ct));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw MfaEndpoints.NameConflict(friendlyName);
        }
        await AuditLog.WriteAsync(conn, auth.User, AuditAction.FactorInProgress, ClientInfo.Ip(http), now, ct,
            new JsonObject { ["factor_id"] = factorId.ToString(), ["factor_type"] = "webauthn" });
        await tx.CommitAsync(ct);
        return Results.Json(new JsonObject
        {
            ["id"] = factorId.ToString(),
            ["type"] = "webauthn",
            ["friendly_name"] = friendlyName,
        }, Json.Options);
    }

    public static async Task<IResult> ChallengeAsync(HttpContext http, AuthUser auth, FactorRow factor, NpgsqlConnection conn,
        MfaOptions mfa, RelyingParty rp, TimeProvider clock, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var credentials = await CredentialsOfAsync(conn, auth.User.Id, ct);
        var challenge = RelyingParty.NewChallenge();
        var handle = PasskeyEndpoints.UserHandle(auth.User.Id);
        var name = auth.User.Email ?? "";
        JsonObject options;
        string type;
        CeremonySession session;
        if (factor.IsVerified)
        {
            var allow = credentials.Select(c => c.CredentialId).ToList();
            options = rp.RequestOptions(challenge, allow);
            session = rp.Session(challenge, handle, now + mfa.ChallengeExpiry, allow);
            type = "request";
        }
        else
        {
            options = rp.CreationOptions(challenge, handle, name, name, credentials.Select(c => c.CredentialId),
                discoverable: false, excludeTransports: ["usb", "nfc"]);
            session = rp.Session(challenge, handle, now + mfa.ChallengeExpiry);
            type = "create";
        }

        var challengeId = Guid.NewGuid();
        await using var tx = await conn.BeginTransactionAsync(ct);
        await MfaQueries.InsertChallengeAsync(conn, challengeId, factor.Id, ClientInfo.Ip(http), now, ct);
        await conn.ExecuteAsync(new CommandDefinition(
            "update auth.mfa_challenges set web_authn_session_data = @data::jsonb where id = @challengeId",
            new { challengeId, data = session.ToJson().ToJsonString() }, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return Results.Json(new JsonObject
        {
            ["id"] = challengeId.ToString(),
            ["type"] = "webauthn",
            ["expires_at"] = new DateTimeOffset(now + mfa.ChallengeExpiry).ToUnixTimeSeconds(),
            ["webauthn"] = new JsonObject
            {
                ["type"] = type,
                ["credential_options"] = new JsonObject { ["publicKey"] = options },
            },
        }, Json.Options);
    }

    public static async Task<IResult> VerifyAsync(HttpContext http, AuthUser auth, FactorRow factor, Guid sessionId,
        MfaEndpoints.VerifyRequest body, NpgsqlConnection conn, MfaOptions mfa, RelyingParty rp, SessionIssuer issuer, TimeProvider clock,
        CancellationToken ct)
    {
        if (body.WebAuthn is null)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "WebAuthn config required");
        if (body.WebAuthn.Type is not ("create" or "request"))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "WebAuthn type must be create or request");
        if (body.WebAuthn.CredentialResponse is null)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "credential_response required");

        var now = clock.GetUtcNow().UtcDateTime;
        var ip = ClientInfo.Ip(http);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var challenge = await MfaEndpoints.LockUsableChallengeAsync(conn, tx, factor.Id, body.ChallengeId, ip, now, mfa, ct);
        var sessionJson = await conn.ExecuteScalarAsync<string?>(new CommandDefinition(
            "select web_authn_session_data::text from auth.mfa_challenges where id = @id", new { id = challenge.Id }, cancellationToken: ct));
        if (sessionJson is null)
            throw ApiError.BadRequest(ErrorCode.WebAuthnVerificationFailed, "Credential verification failed");
        var session = CeremonySession.Parse(sessionJson);
        var handle = PasskeyEndpoints.UserHandle(auth.User.Id);

        if (body.WebAuthn.Type == "create")
        {
            if (factor.IsVerified)
                throw ApiError.BadRequest(ErrorCode.WebAuthnVerificationFailed, "Credential verification failed");
            var credential = await rp.VerifyRegistrationAsync(body.WebAuthn.CredentialResponse, session, handle,
                auth.User.Email ?? "", discoverable: false, ct);
            await conn.ExecuteAsync(new CommandDefinition(
                """
                update auth.mfa_factors
                set status = 'verified', web_authn_credential = @credential::jsonb, web_authn_aaguid = @aaguid, updated_at = @now
                where id = @factorId
                """,
                new
                {
                    factorId = factor.Id,
                    credential = RelyingParty.CredentialJson(credential).ToJsonString(),
                    aaguid = credential.AaGuid,
                    now,
                }, cancellationToken: ct));
        }
        else
        {
            var response = RelyingParty.Parse<AuthenticatorAssertionRawResponse>(body.WebAuthn.CredentialResponse);
            var stored = (await CredentialsOfAsync(conn, auth.User.Id, ct))
                .FirstOrDefault(c => response.RawId is { } raw && c.CredentialId.AsSpan().SequenceEqual(raw))
                ?? throw ApiError.BadRequest(ErrorCode.WebAuthnVerificationFailed, "Credential verification failed");
            var result = await rp.VerifyAssertionAsync(response, session, stored.PublicKey, stored.SignCount, handle, ct);
            stored.Json["authenticator"]!["signCount"] = result.SignCount;
            await conn.ExecuteAsync(new CommandDefinition(
                "update auth.mfa_factors set web_authn_credential = @credential::jsonb, updated_at = @now where id = @id",
                new { id = stored.FactorId, credential = stored.Json.ToJsonString(), now }, cancellationToken: ct));
        }

        // GoTrue destroys a WebAuthn challenge once used instead of marking it verified.
        await MfaQueries.DeleteChallengeAsync(conn, challenge.Id, ct);
        await AuditLog.WriteAsync(conn, auth.User, AuditAction.VerificationAttempted, ip, now, ct, new JsonObject
        {
            ["factor_id"] = factor.Id.ToString(),
            ["challenge_id"] = challenge.Id.ToString(),
            ["factor_type"] = "webauthn",
        });
        if (!factor.IsVerified)
            await http.RequestServices.GetRequiredService<Mail.Notifications>().MfaFactorEnrolledAsync(conn, auth.User.Id, "webauthn", ct);
        var token = await issuer.ReissueAsync(conn, auth.User.Id, sessionId, "mfa/webauthn", factor.Id, now, ct);
        await MfaQueries.AfterVerificationAsync(conn, auth.User.Id, "webauthn", ct);
        await tx.CommitAsync(ct);
        return Results.Json(token, Json.Options);
    }

    sealed record Credential(Guid FactorId, byte[] CredentialId, byte[] PublicKey, uint SignCount, JsonObject Json);

    /// The credentials of the user's verified WebAuthn factors (go-webauthn `User.WebAuthnCredentials` in GoTrue).
    static async Task<List<Credential>> CredentialsOfAsync(NpgsqlConnection conn, Guid userId, CancellationToken ct)
    {
        var rows = await conn.QueryAsync<StoredCredential>(new CommandDefinition(
            """
            select id, web_authn_credential::text as web_authn_credential from auth.mfa_factors
            where user_id = @userId and factor_type = 'webauthn' and status = 'verified' and web_authn_credential is not null
            order by created_at, id
            """, new { userId }, cancellationToken: ct));
        var credentials = new List<Credential>();
        foreach (var row in rows)
        {
            // A credential we cannot read cannot be used; the factor stays for the user to unenroll.
            try
            {
                if (JsonNode.Parse(row.WebAuthnCredential!) is not JsonObject json
                    || json["id"] is not JsonValue id || json["publicKey"] is not JsonValue key)
                    continue;
                var count = json["authenticator"] is JsonObject a && a["signCount"] is JsonValue c ? (uint)c : 0;
                credentials.Add(new Credential(row.Id, Convert.FromBase64String((string)id!),
                    Convert.FromBase64String((string)key!), count, json));
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException)
            {
            }
        }
        return credentials;
    }
}
