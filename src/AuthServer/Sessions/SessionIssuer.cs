using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Security;
using Dapper;
using Npgsql;

namespace AuthServer.Sessions;

internal sealed record AmrEntry(string Method, DateTime Timestamp);

/// Creates sessions and mints token responses (jwt.md §1–§4) for every grant that signs a user in.
internal sealed class SessionIssuer(AccessTokens tokens, JwtOptions jwt)
{
    /// Starts a session inside the caller's transaction: session row, first refresh token, AMR claim,
    /// `last_sign_in_at` and the `login` audit row, then the reloaded user. A caller that already holds the
    /// user's row passes it as <paramref name="auditAs"/>: the audit row (which names the user) then goes
    /// in the same round trip instead of a second one.
    public async Task<JsonObject> StartAsync(NpgsqlConnection conn, Guid userId, string amrMethod, HttpContext http,
        DateTime now, CancellationToken ct, JsonObject? weakPassword = null, string provider = "email", UserRow? auditAs = null)
    {
        var traits = new JsonObject { ["provider"] = provider };
        var sessionId = Guid.NewGuid();
        var refreshToken = Secrets.NewRefreshToken();
        var ip = ClientInfo.Ip(http);
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            with s as (
                insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
                values (@sessionId, @userId, @now, @now, 'aal1', @userAgent, nullif(@ip, '')::inet)
            ), rt as (
                insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
                values ('00000000-0000-0000-0000-000000000000', @refreshToken, @userIdText, false, @now, @now, '', @sessionId)
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
            {(auditAs is null ? "" : AuditLog.InsertSql + ";")}
            """,
            new
            {
                sessionId, userId, userIdText = userId.ToString(), now, refreshToken, amrMethod,
                userAgent = ClientInfo.UserAgent(http), ip,
                payload = auditAs is null ? null : AuditLog.Payload(auditAs, AuditAction.Login, traits),
            }, cancellationToken: ct));
        var user = await grid.ReadSingleAsync<UserRow>();
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        if (auditAs is null) await AuditLog.WriteAsync(conn, user, AuditAction.Login, ip, now, ct, traits);

        var response = Response(user, identities, sessionId, [new AmrEntry(amrMethod, now)], refreshToken, now);
        if (weakPassword is not null) response["weak_password"] = weakPassword;
        return response;
    }

    /// The AccessTokenResponse (api.md §1.4) with a fresh access token for the session.
    public JsonObject Response(UserRow user, List<IdentityRow> identities, Guid sessionId,
        IReadOnlyList<AmrEntry> amr, string refreshToken, DateTime now)
    {
        var iat = new DateTimeOffset(now, TimeSpan.Zero).ToUnixTimeSeconds();
        var exp = iat + jwt.ExpirySeconds;
        var accessToken = tokens.Sign(Claims(user, sessionId, amr, iat, exp));
        return new JsonObject
        {
            ["access_token"] = accessToken,
            ["token_type"] = "bearer",
            ["expires_in"] = exp - iat,
            ["expires_at"] = exp,
            ["refresh_token"] = refreshToken,
            ["user"] = UserJson.From(user, identities),
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
