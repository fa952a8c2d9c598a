using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Token;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using Dapper;
using Npgsql;

namespace AuthServer.Features.OAuthServer;

/// `POST /oauth/token` (GoTrue oauthserver/handlers.go `OAuthToken`, api/middleware.go `requireOAuthClientAuth`):
/// the client authenticates as it registered (`none`, `client_secret_basic`, `client_secret_post`), then
/// `authorization_code` (with the PKCE verifier) or `refresh_token`. Grant errors are RFC 6749 `{error,
/// error_description}`; client authentication errors are GoTrue's usual `invalid_credentials`.
internal static class OAuthTokenEndpoint
{
    public static async Task<IResult> TokenAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (fields, jsonBody) = await ReadParamsAsync(http, ct);
        var credentials = Credentials(http, fields);
        OAuthClientRow client;
        await using (var conn = await db.OpenConnectionAsync(ct))
            client = await AuthenticateAsync(conn, credentials, ct);

        string Field(string name) => fields.TryGetValue(name, out var value) ? value : "";
        var grantType = Field("grant_type");
        if (grantType.Length == 0) throw new OAuthError("invalid_request", "grant_type is required");
        if (!client.AllowsGrant(grantType))
            throw new OAuthError("unsupported_grant_type", "Client is not allowed to use grant type: " + grantType);
        return grantType switch
        {
            "authorization_code" => await AuthorizationCodeGrant.ExchangeAsync(http, client, Field("code"), Field("redirect_uri"),
                Field("code_verifier"), jsonBody ? Field("resource") : "", ct),
            "refresh_token" => await RefreshAsync(http, client, Field("refresh_token"), ct),
            _ => throw new OAuthError("unsupported_grant_type", "Unsupported grant type: " + grantType),
        };
    }

    /// GoTrue `handleRefreshTokenGrant`: the session rotation of `POST /token` (reuse detection included),
    /// bound to the authenticated client; session errors become `invalid_grant` (oauthserver/token_errors.go).
    static async Task<IResult> RefreshAsync(HttpContext http, OAuthClientRow client, string refreshToken, CancellationToken ct)
    {
        if (refreshToken.Length == 0)
            throw new OAuthError("invalid_request", "refresh_token is required for refresh_token grant");
        http.Items[RefreshTokenGrant.OAuthClientItem] = (Guid?)client.Id;
        JsonObject response;
        try
        {
            response = await RefreshTokenGrant.RefreshAsync(http, refreshToken, ct);
        }
        catch (ApiError e) when (e.Code is ErrorCode.RefreshTokenNotFound or ErrorCode.RefreshTokenAlreadyUsed
                                     or ErrorCode.SessionNotFound or ErrorCode.SessionExpired)
        {
            throw new OAuthError("invalid_grant", "Refresh token is invalid or expired.");
        }
        catch (ApiError e) when (e.Code == ErrorCode.UserBanned)
        {
            throw new OAuthError("access_denied", "User is not permitted to access this resource.");
        }
        return TokenResponse(response, idToken: null);
    }

    /// GoTrue answers with a Go map, so its keys come out sorted; the user object is left out for clients.
    internal static IResult TokenResponse(JsonObject session, string? idToken)
    {
        var body = new JsonObject
        {
            ["access_token"] = session["access_token"]?.DeepClone(),
            ["expires_in"] = session["expires_in"]?.DeepClone(),
        };
        if (idToken is not null) body["id_token"] = idToken;
        body["refresh_token"] = session["refresh_token"]?.DeepClone();
        body["token_type"] = session["token_type"]?.DeepClone();
        return Results.Json(body, Json.Options);
    }

    /// The parameters as GoTrue reads them: a JSON body when the Content-Type says so, else the form body
    /// over the query string (Go `Request.FormValue`).
    static async Task<(Dictionary<string, string> Fields, bool Json)> ReadParamsAsync(HttpContext http, CancellationToken ct)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        if (http.Request.ContentType?.Contains("application/json", StringComparison.OrdinalIgnoreCase) == true)
        {
            JsonObject? body;
            try
            {
                body = await BodyReader.ReadAsync<JsonObject>(http.Request, ct);
            }
            catch (ApiError e) when (e.Code == ErrorCode.BadJson)
            {
                throw ApiError.BadRequest(ErrorCode.InvalidCredentials, "Invalid client credentials: failed to parse JSON body");
            }
            foreach (var (key, value) in body)
            {
                // Go decodes into string fields: a wrong type fails the whole body (client fields first).
                if (value is null) continue;
                if (value.GetValueKind() != JsonValueKind.String)
                {
                    if (key is "client_id" or "client_secret")
                        throw ApiError.BadRequest(ErrorCode.InvalidCredentials, "Invalid client credentials: failed to parse JSON body");
                    if (key is "grant_type" or "code" or "refresh_token" or "redirect_uri" or "code_verifier" or "resource")
                        throw new OAuthError("invalid_request", "Invalid JSON body");
                    continue;
                }
                fields[key] = value.GetValue<string>();
            }
            return (fields, true);
        }
        foreach (var (key, value) in http.Request.Query) fields[key] = value.FirstOrDefault() ?? "";
        if (http.Request.HasFormContentType)
        {
            IFormCollection form;
            try
            {
                form = await http.Request.ReadFormAsync(ct);
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                throw ApiError.BadRequest(ErrorCode.InvalidCredentials, "Invalid client credentials: failed to parse form");
            }
            foreach (var (key, value) in form) fields[key] = value.FirstOrDefault() ?? "";
        }
        return (fields, false);
    }

    /// GoTrue `ExtractClientCredentials`: the Basic header wins (client_secret_basic); else `client_id` and
    /// `client_secret` from the body, which is client_secret_post with a secret and `none` without.
    static OAuthClients.Credentials Credentials(HttpContext http, Dictionary<string, string> fields)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]));
            }
            catch (FormatException)
            {
                throw InvalidCredentials("Invalid client credentials: invalid basic auth encoding");
            }
            var colon = decoded.IndexOf(':');
            if (colon < 0) throw InvalidCredentials("Invalid client credentials: invalid basic auth format");
            return new OAuthClients.Credentials(decoded[..colon], decoded[(colon + 1)..], OAuthClients.AuthBasic);
        }
        var clientId = fields.GetValueOrDefault("client_id", "");
        var secret = fields.GetValueOrDefault("client_secret", "");
        if (clientId.Length == 0) throw InvalidCredentials("Invalid client credentials: client_id is required");
        return new OAuthClients.Credentials(clientId, secret, secret.Length > 0 ? OAuthClients.AuthPost : OAuthClients.AuthNone);
    }

    /// GoTrue `requireOAuthClientAuth`: a live client, authenticated by the method it registered.
    static async Task<OAuthClientRow> AuthenticateAsync(NpgsqlConnection conn, OAuthClients.Credentials credentials,
        CancellationToken ct)
    {
        if (!Guid.TryParse(credentials.ClientId, out var clientId)) throw InvalidCredentials("Invalid client_id format");
        var client = await OAuthClients.FindAsync(conn, clientId, ct) ?? throw InvalidCredentials("Invalid client credentials");
        if (credentials.Method != client.TokenEndpointAuthMethod)
            throw InvalidCredentials($"invalid authentication method: client is registered for '{client.TokenEndpointAuthMethod}' " +
                $"but '{credentials.Method}' was used");
        if (client.IsPublic)
        {
            if (credentials.Secret.Length > 0) throw InvalidCredentials("public clients must not provide client_secret");
        }
        else if (credentials.Secret.Length == 0)
            throw InvalidCredentials("confidential clients must provide client_secret");
        else if (!OAuthClients.SecretMatches(credentials.Secret, client.ClientSecretHash))
            throw InvalidCredentials("invalid client credentials");
        return client;
    }

    static ApiError InvalidCredentials(string message) => ApiError.BadRequest(ErrorCode.InvalidCredentials, message);
}

/// GoTrue `handleAuthorizationCodeGrant`: an approved, unexpired code of this client, the same redirect URI
/// (when sent) and the PKCE verifier buy one session bound to the client and the granted scopes, plus an
/// ID token when `openid` was granted. The code is consumed in the same transaction.
internal static class AuthorizationCodeGrant
{
    public static async Task<IResult> ExchangeAsync(HttpContext http, OAuthClientRow client, string code, string redirectUri,
        string verifier, string resource, CancellationToken ct)
    {
        if (code.Length == 0) throw new OAuthError("invalid_request", "code is required for authorization_code grant");
        var services = http.RequestServices;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var codeHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(code)));

        await using var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Locked: of two concurrent redemptions one waits here and then finds the code gone.
        var authorization = await conn.QuerySingleOrDefaultAsync<AuthorizationRow>(new CommandDefinition(
            $"""
            select {AuthorizationRow.Columns} from auth.oauth_authorizations a
            where a.authorization_code = @code and a.status = 'approved' for update
            """, new { code }, cancellationToken: ct));
        if (authorization is null)
        {
            // Beyond GoTrue (RFC 9700 §4.2.1): a code presented again ends the session it started.
            var revoked = await conn.ExecuteAsync(new CommandDefinition(
                """
                delete from auth.sessions where id in
                    (select session_id from authserver.oauth_code_redemptions where code_sha256 = @codeHash)
                """, new { codeHash }, cancellationToken: ct));
            await tx.CommitAsync(ct);
            if (revoked > 0) AuthMetrics.RefreshReuse.Add(1);
            throw new OAuthError("invalid_grant", "Invalid authorization code");
        }
        if (authorization.IsExpired(now)) throw new OAuthError("invalid_grant", "Authorization code has expired");
        if (authorization.ClientId != client.Id)
            throw new OAuthError("invalid_grant", "Authorization code was not issued for this client");
        if (resource.Length > 0 && resource != (authorization.Resource ?? ""))
            throw new OAuthError("invalid_grant", "Authorization code resource does not match the resource parameter");
        if (redirectUri.Length > 0 && redirectUri != authorization.RedirectUri)
            throw new OAuthError("invalid_grant", "Invalid redirect_uri");
        if (PkceProblem(authorization, verifier) is { } problem)
            throw new OAuthError("invalid_grant", "PKCE verification failed: " + problem);
        if (authorization.UserId is not { } userId)
            throw new OAuthError("invalid_grant", "Authorization code has no associated user");
        var user = await conn.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"select {UserQueries.Columns} from auth.users u where u.id = @userId", new { userId }, cancellationToken: ct))
            ?? throw new OAuthError("invalid_grant", "User not found for authorization code");
        if (user.IsBanned(new DateTimeOffset(now))) throw new OAuthError("access_denied", "User is banned");

        var traits = new JsonObject { ["provider_type"] = "oauth_provider_authorization_code", ["client_id"] = client.Id.ToString() };
        var session = await services.GetRequiredService<SessionIssuer>().StartAsync(conn, user.Id, "oauth_provider/authorization_code",
            http, now, ct, auditAs: user, loginTraits: traits, oauthClientId: client.Id, scopes: authorization.Scope);
        var sessionId = Guid.Parse(AccessTokenSession(session));
        await conn.ExecuteAsync(new CommandDefinition(
            """
            delete from auth.oauth_authorizations where id = @id;
            delete from authserver.oauth_code_redemptions where redeemed_at < @staleBefore;
            insert into authserver.oauth_code_redemptions (code_sha256, session_id, redeemed_at) values (@codeHash, @sessionId, @now);
            """, new { id = authorization.Id, staleBefore = now.AddDays(-30), codeHash, sessionId, now }, cancellationToken: ct));
        await tx.CommitAsync(ct);

        string? idToken = null;
        var scopes = AuthorizeEndpoints.ParseScopes(authorization.Scope);
        if (scopes.Contains("openid"))
        {
            idToken = IdToken(services, user, client.Id, authorization.Nonce, now, scopes)
                ?? throw ApiError.Internal("Error generating ID token");
        }
        return OAuthTokenEndpoint.TokenResponse(session, idToken);
    }

    /// GoTrue `OAuthServerAuthorization.VerifyPKCE` + security.VerifyPKCEChallenge (constant-time compare).
    static string? PkceProblem(AuthorizationRow authorization, string verifier)
    {
        if (string.IsNullOrEmpty(authorization.CodeChallenge)) return null;
        if (verifier.Length == 0) return "code_verifier is required when PKCE challenge is present";
        var expected = (authorization.CodeChallengeMethod ?? "").ToLowerInvariant() switch
        {
            "s256" => Base64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))),
            "plain" => verifier,
            _ => null,
        };
        if (expected is null) return "code challenge method not supported";
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(authorization.CodeChallenge))
            ? null
            : "code challenge does not match previously saved code verifier";
    }

    static string AccessTokenSession(JsonObject session)
    {
        var payload = session["access_token"]!.GetValue<string>().Split('.')[1];
        using var claims = JsonDocument.Parse(Base64Url.TryDecode(payload)!);
        return claims.RootElement.GetProperty("session_id").GetString()!;
    }

    /// GoTrue tokens `GenerateIDToken`: signed with the access-token signing key, never HS256 (null then, and
    /// the caller answers 500 as GoTrue does); claims filtered by the granted scopes; valid one hour.
    static string? IdToken(IServiceProvider services, UserRow user, Guid clientId, string? nonce, DateTime now, string[] scopes)
    {
        var keys = services.GetRequiredService<SigningKeys>();
        if (keys.Signing.Alg == "HS256") return null;
        var jwt = services.GetRequiredService<JwtOptions>();
        var iat = new DateTimeOffset(now, TimeSpan.Zero).ToUnixTimeSeconds();
        var claims = new JsonObject();
        if (jwt.Issuer.Length > 0) claims["iss"] = jwt.Issuer;
        claims["sub"] = user.Id.ToString();
        claims["aud"] = clientId.ToString();
        claims["exp"] = iat + 3600;
        claims["iat"] = iat;
        if (!string.IsNullOrEmpty(nonce)) claims["nonce"] = nonce;
        // GoTrue sets last_sign_in_at to the exchange time before signing, so that is the auth_time.
        claims["auth_time"] = iat;
        var metadata = user.UserMetadata;
        if (scopes.Contains("email") && !string.IsNullOrEmpty(user.Email)) claims["email"] = user.Email;
        claims["email_verified"] = scopes.Contains("email") && user.EmailConfirmedAt is not null;
        if (scopes.Contains("phone") && !string.IsNullOrEmpty(user.Phone)) claims["phone_number"] = user.Phone;
        claims["phone_number_verified"] = scopes.Contains("phone") && user.PhoneConfirmedAt is not null;
        if (scopes.Contains("profile"))
        {
            if (Profile.Name(metadata, user.Email) is { } name) claims["name"] = name;
            if (Profile.Picture(metadata) is { } picture) claims["picture"] = picture;
            if (user.UpdatedAt is { } updated && new DateTimeOffset(DateTime.SpecifyKind(updated, DateTimeKind.Utc)).ToUnixTimeSeconds() > 0)
                claims["updated_at"] = new DateTimeOffset(DateTime.SpecifyKind(updated, DateTimeKind.Utc)).ToUnixTimeSeconds();
            if (Profile.PreferredUsername(metadata) is { } username) claims["preferred_username"] = username;
        }
        claims["client_id"] = clientId.ToString();
        return services.GetRequiredService<AccessTokens>().Sign(claims);
    }
}

/// The profile claims GoTrue derives from `user_metadata` (ID token and userinfo alike).
internal static class Profile
{
    public static string? Name(JsonObject metadata, string? email) =>
        Text(metadata, "name") ?? (string.IsNullOrEmpty(email) ? null : email);

    public static string? Picture(JsonObject metadata) => Text(metadata, "picture") ?? Text(metadata, "avatar_url");

    public static string? PreferredUsername(JsonObject metadata) => Text(metadata, "preferred_username") ?? Text(metadata, "username");

    static string? Text(JsonObject metadata, string key) =>
        metadata[key] is JsonValue value && value.TryGetValue<string>(out var text) && text.Length > 0 ? text : null;
}
