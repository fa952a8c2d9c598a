using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Hooks;
using AuthServer.Http;
using AuthServer.Security;
using Dapper;
using Npgsql;

namespace AuthServer.Sessions;

internal sealed record AmrEntry(string Method, DateTime Timestamp);

/// Creates sessions and mints token responses (jwt.md §1–§4) for every grant that signs a user in.
internal sealed partial class SessionIssuer(AccessTokens tokens, JwtOptions jwt, RefreshOptions refresh, ColumnEncryption encryption,
    HookRunner hooks)
{
    /// Starts a session inside the caller's transaction: session row, first refresh token, AMR claim,
    /// `last_sign_in_at` and the `login` audit row, then the reloaded user. A caller that already holds the
    /// user's row passes it as <paramref name="auditAs"/>: the audit row (which names the user) then goes
    /// in the same round trip instead of a second one.
    public async Task<JsonObject> StartAsync(NpgsqlConnection conn, Guid userId, string amrMethod, HttpContext http,
        DateTime now, CancellationToken ct, JsonObject? weakPassword = null, string provider = "email", UserRow? auditAs = null,
        JsonObject? loginTraits = null, Guid? oauthClientId = null, string? scopes = null, DateTime? notAfter = null)
    {
        // The `login` audit row's traits: the provider, or what the caller describes (Web3: chain, address…).
        var traits = loginTraits ?? new JsonObject { ["provider"] = provider };
        var sessionId = Guid.NewGuid();
        // jwt.md §5.1: v2 sessions keep an HMAC key and a counter instead of refresh_tokens rows.
        var v2 = refresh.IssuesV2;
        var hmacKey = v2 ? RefreshTokenV2.NewKey() : null;
        var refreshToken = hmacKey is null ? Secrets.NewRefreshToken() : RefreshTokenV2.Encode(sessionId, 0, hmacKey);
        var storedKey = hmacKey is null ? null : encryption.Protect(Base64Url.Encode(hmacKey), sessionId);
        var ip = ClientInfo.Ip(http);
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            with s as (
                insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip,
                    refresh_token_hmac_key, refresh_token_counter, oauth_client_id, scopes, not_after)
                values (@sessionId, @userId, @now, @now, 'aal1', @userAgent, nullif(@ip, '')::inet,
                    @storedKey, case when @v2 then 0 end, @oauthClientId, @scopes, @notAfter)
            ), rt as (
                insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
                select '00000000-0000-0000-0000-000000000000', @refreshToken, @userIdText, false, @now, @now, '', @sessionId
                where not @v2
            ), amr as (
                insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
                values (gen_random_uuid(), @sessionId, @now, @now, @amrMethod)
            ), u as (
                update auth.users set last_sign_in_at = @now, updated_at = @now
                where id = @userId
                returning *
            )
            select {UserQueries.Columns} from u;
            select {UserQueries.IdentityColumns} from auth.identities i where i.user_id = @userId order by i.created_at, i.id;
            select {FactorRow.Columns} from auth.mfa_factors f where f.user_id = @userId order by f.created_at, f.id;
            {(auditAs is null ? "" : AuditLog.InsertSql + ";")}
            """,
            new
            {
                sessionId,
                userId,
                userIdText = userId.ToString(),
                now,
                refreshToken,
                amrMethod,
                notAfter,
                v2,
                storedKey,
                userAgent = ClientInfo.UserAgent(http),
                ip,
                oauthClientId,
                scopes,
                payload = auditAs is null ? null : AuditLog.Payload(auditAs, AuditAction.Login, traits),
            }, cancellationToken: ct));
        var user = await grid.ReadSingleAsync<UserRow>();
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        var factors = (await grid.ReadAsync<FactorRow>()).AsList();
        if (auditAs is null) await AuditLog.WriteAsync(conn, user, AuditAction.Login, ip, now, ct, traits);

        var response = await ResponseAsync(conn, user, identities, sessionId, [new AmrEntry(amrMethod, now)], refreshToken, now,
            amrMethod, ct, factors, oauthClientId, scopes);
        if (weakPassword is not null) response["weak_password"] = weakPassword;
        return response;
    }

    /// The AccessTokenResponse (api.md §1.4) with a fresh access token for the session. Every minted
    /// token passes the custom access token hook when it is on, inside the caller's transaction
    /// (<paramref name="conn"/>), as GoTrue runs it; `expires_at` stays the server's `exp`.
    /// <paramref name="authenticationMethod"/> is GoTrue's name for how the token came about
    /// (`password`, `token_refresh`, `anonymous`…).
    public async Task<JsonObject> ResponseAsync(NpgsqlConnection conn, UserRow user, List<IdentityRow> identities,
        Guid sessionId, IReadOnlyList<AmrEntry> amr, string refreshToken, DateTime now, string authenticationMethod,
        CancellationToken ct, IReadOnlyCollection<FactorRow>? factors = null, Guid? oauthClientId = null, string? scopes = null)
    {
        var iat = new DateTimeOffset(now, TimeSpan.Zero).ToUnixTimeSeconds();
        var exp = iat + jwt.ExpirySeconds;
        // GOTRUE_SESSIONS_ALLOW_LOW_AAL (GoTrue GenerateAccessToken): an aal1 token of a user who has a
        // verified factor expires no later than the session's low-AAL window.
        if (refresh.AllowLowAal is { } lowAal && !amr.Any(a => a.Method is "totp" or "mfa/phone" or "mfa/webauthn")
            && (factors?.Any(f => f.IsVerified) ?? await Features.Token.RefreshQueries.HasVerifiedFactorAsync(conn, user.Id, ct)))
        {
            var created = await conn.ExecuteScalarAsync<DateTime>(new CommandDefinition(
                "select created_at from auth.sessions where id = @sessionId", new { sessionId }, cancellationToken: ct));
            exp = Math.Min(exp, new DateTimeOffset(DateTime.SpecifyKind(created, DateTimeKind.Utc) + lowAal).ToUnixTimeSeconds());
        }
        var claims = Claims(user, sessionId, amr, iat, exp);
        // GoTrue AccessTokenClaims: sessions of the OAuth 2.1 server name their client and granted scopes.
        if (oauthClientId is { } client && client != Guid.Empty) claims["client_id"] = client.ToString();
        if (!string.IsNullOrEmpty(scopes)) claims["scope"] = scopes;
        if (hooks.Options.CustomAccessToken.Enabled)
            claims = await hooks.CustomizeAccessTokenAsync(conn, user.Id, claims, authenticationMethod, ct);
        var accessToken = tokens.Sign(claims);
        return new JsonObject
        {
            ["access_token"] = accessToken,
            ["token_type"] = "bearer",
            ["expires_in"] = (long)jwt.ExpirySeconds, // GoTrue: the configured lifetime even when exp is cut short (ALLOW_LOW_AAL)
            ["expires_at"] = exp,
            ["refresh_token"] = refreshToken,
            ["user"] = UserJson.From(user, identities, factors),
        };
    }

    JsonObject Claims(UserRow user, Guid sessionId, IReadOnlyList<AmrEntry> amr, long iat, long exp)
    {
        var claims = new JsonObject();
        if (jwt.Issuer.Length > 0) claims["iss"] = jwt.Issuer;
        claims["sub"] = user.Id.ToString();
        claims["aud"] = user.Aud ?? "";
        claims["exp"] = exp;
        claims["iat"] = iat;
        claims["email"] = user.Email ?? "";
        claims["phone"] = user.Phone ?? "";
        claims["app_metadata"] = user.RawAppMetaData is null ? null : user.AppMetadata;
        claims["user_metadata"] = user.UserMetadata;
        claims["role"] = user.Role ?? "";
        claims["aal"] = amr.Any(a => a.Method is "totp" or "mfa/phone" or "mfa/webauthn") ? "aal2" : "aal1";
        if (amr.Count > 0)
            claims["amr"] = new JsonArray(amr.Select(a => (JsonNode)new JsonObject
            {
                ["method"] = a.Method,
                ["timestamp"] = new DateTimeOffset(DateTime.SpecifyKind(a.Timestamp, DateTimeKind.Utc)).ToUnixTimeSeconds(),
            }).ToArray());
        claims["session_id"] = sessionId.ToString();
        claims["is_anonymous"] = user.IsAnonymous;
        return claims;
    }
}
