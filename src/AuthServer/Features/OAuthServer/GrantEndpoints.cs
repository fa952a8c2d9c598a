using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.OAuthServer;

/// What a signed-in user (or a client holding their token) sees of the OAuth server: the OIDC userinfo
/// endpoint and the user's grants (GoTrue oauthserver/handlers.go `OAuthUserInfo`, `UserListOAuthGrants`,
/// `UserRevokeOAuthGrant`).
internal static class GrantEndpoints
{
    /// OIDC Core §5.3, claims filtered by the scopes of the token's session; a token of a session that is not
    /// an OAuth one (or of no session) gets `sub` only. GoTrue answers with a Go map: keys come out sorted.
    public static async Task<IResult> UserInfoAsync(AuthUser caller, NpgsqlDataSource db, CancellationToken ct)
    {
        var user = caller.User;
        var claims = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal) { ["sub"] = user.Id.ToString() };
        string? granted = null;
        if (caller.SessionId is { } sessionId)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            granted = await conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
                "select scopes from auth.sessions where id = @sessionId", new { sessionId }, cancellationToken: ct));
        }
        var scopes = AuthorizeEndpoints.ParseScopes(granted ?? "");
        if (scopes.Contains("email"))
        {
            if (!string.IsNullOrEmpty(user.Email)) claims["email"] = user.Email;
            if (user.EmailConfirmedAt is not null) claims["email_verified"] = true;
        }
        if (scopes.Contains("profile"))
        {
            var metadata = user.UserMetadata;
            if (Profile.Name(metadata, user.Email) is { } name) claims["name"] = name;
            if (Profile.Picture(metadata) is { } picture) claims["picture"] = picture;
            if (Profile.PreferredUsername(metadata) is { } username) claims["preferred_username"] = username;
            if (user.UpdatedAt is { } updated)
                claims["updated_at"] = new DateTimeOffset(DateTime.SpecifyKind(updated, DateTimeKind.Utc)).ToUnixTimeSeconds();
            claims["user_metadata"] = metadata;
        }
        if (scopes.Contains("phone"))
        {
            if (!string.IsNullOrEmpty(user.Phone)) claims["phone"] = user.Phone;
            if (user.PhoneConfirmedAt is not null) claims["phone_verified"] = true;
        }
        var body = new JsonObject();
        foreach (var (key, value) in claims) body[key] = value;
        return Results.Json(body, Json.Options);
    }

    sealed class GrantRow
    {
        public string Scopes { get; init; } = "";
        public DateTime GrantedAt { get; init; }
        public Guid ClientId { get; init; }
        public string? ClientName { get; init; }
        public string? ClientUri { get; init; }
        public string? LogoUri { get; init; }
    }

    /// The user's live grants, newest first; grants to deleted clients are left out.
    public static async Task<IResult> ListGrantsAsync(AuthUser caller, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var grants = await conn.QueryAsync<GrantRow>(new CommandDefinition(
            """
            select g.scopes, g.granted_at, c.id as client_id, c.client_name, c.client_uri, c.logo_uri
            from auth.oauth_consents g join auth.oauth_clients c on c.id = g.client_id and c.deleted_at is null
            where g.user_id = @userId and g.revoked_at is null
            order by g.granted_at desc
            """, new { userId = caller.User.Id }, cancellationToken: ct));
        var body = new JsonArray(grants.Select(g => (JsonNode)new JsonObject
        {
            ["client"] = new OAuthClientRow { Id = g.ClientId, ClientName = g.ClientName, ClientUri = g.ClientUri, LogoUri = g.LogoUri }.Details(),
            ["scopes"] = new JsonArray(AuthorizeEndpoints.ParseScopes(g.Scopes).Select(s => (JsonNode)JsonValue.Create(s)).ToArray()),
            ["granted_at"] = DateTime.SpecifyKind(g.GrantedAt, DateTimeKind.Utc),
        }).ToArray());
        return Results.Json(body, Json.Options);
    }

    /// Revoking a grant ends every session the client holds for this user, so its refresh tokens die
    /// and its access tokens stop passing session checks at once.
    public static async Task<IResult> RevokeGrantAsync(AuthUser caller, HttpContext http, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        var clientIdText = http.Request.Query["client_id"].FirstOrDefault() ?? "";
        if (clientIdText.Length == 0) throw OAuthClients.Invalid("client_id query parameter is required");
        if (!Guid.TryParse(clientIdText, out var clientId)) throw OAuthClients.Invalid("invalid client_id format");
        var now = clock.GetUtcNow().UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var revoked = await conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.oauth_consents set revoked_at = @now
            where user_id = @userId and client_id = @clientId and revoked_at is null
            """, new { userId = caller.User.Id, clientId, now }, cancellationToken: ct));
        if (revoked == 0)
            throw ApiError.NotFound("oauth_consent_not_found", "No active grant found for this client");
        await conn.ExecuteAsync(new CommandDefinition(
            "delete from auth.sessions where user_id = @userId and oauth_client_id = @clientId",
            new { userId = caller.User.Id, clientId }, cancellationToken: ct));
        await AuditLog.WriteAsync(conn, caller.User, AuditAction.TokenRevoked, ClientInfo.Ip(http), now, ct,
            new JsonObject { ["oauth_client_id"] = clientId.ToString(), ["action"] = "revoke_oauth_grant" });
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }
}
