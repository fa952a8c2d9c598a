using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.OAuthServer;

/// A row of `auth.oauth_authorizations` (GoTrue models/oauth_authorization.go).
internal sealed class AuthorizationRow
{
    public Guid Id { get; init; }
    public string AuthorizationId { get; init; } = "";
    public Guid ClientId { get; init; }
    public Guid? UserId { get; init; }
    public string RedirectUri { get; init; } = "";
    public string Scope { get; init; } = "";
    public string? State { get; init; }
    public string? Resource { get; init; }
    public string? CodeChallenge { get; init; }
    public string? CodeChallengeMethod { get; init; }
    public string? Nonce { get; init; }
    public string Status { get; init; } = "";
    public string? AuthorizationCode { get; init; }
    public DateTime ExpiresAt { get; init; }

    public bool IsExpired(DateTime now) => now > DateTime.SpecifyKind(ExpiresAt, DateTimeKind.Utc);

    internal const string Columns = """
        a.id, a.authorization_id, a.client_id, a.user_id, a.redirect_uri, a.scope, a.state, a.resource, a.code_challenge,
        a.code_challenge_method::text as code_challenge_method, a.nonce, a.status::text as status, a.authorization_code, a.expires_at
        """;
}

/// The authorization endpoint and the consent API the app's consent page calls (GoTrue oauthserver/authorize.go):
/// `GET /oauth/authorize` parks the request and sends the browser to `SITE_URL + AUTHORIZATION_PATH`;
/// `GET /oauth/authorizations/{id}` and `POST …/consent` are called there by the signed-in user.
internal static class AuthorizeEndpoints
{
    static readonly string[] SupportedScopes = ["openid", "profile", "email", "phone"];

    /// Errors about the client or its redirect URI are answered here, never redirected (RFC 9700 §4.11: an
    /// unverified redirect URI must not be used); everything after goes back to the client as `?error=`.
    public static async Task<IResult> AuthorizeAsync(HttpContext http, OAuthServerOptions options, ApiOptions api,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        var query = http.Request.Query;
        string Param(string name) => query[name].FirstOrDefault() ?? "";
        var clientIdText = Param("client_id");
        var redirectUri = Param("redirect_uri");
        var state = Param("state");
        if (clientIdText.Length == 0) throw OAuthClients.Invalid("client_id is required");
        if (redirectUri.Length == 0) throw OAuthClients.Invalid("redirect_uri is required");
        if (!Guid.TryParse(clientIdText, out var clientId))
            throw ApiError.BadRequest("oauth_client_not_found", "invalid client_id format");

        await using var conn = await db.OpenConnectionAsync(ct);
        var client = await OAuthClients.FindAsync(conn, clientId, ct)
            ?? throw ApiError.BadRequest("oauth_client_not_found", "invalid client_id");
        // Exact string match (OAuth 2.1 §2.3.1, RFC 9700 §2.1): no prefix, no normalisation.
        if (!client.RedirectUriList.Contains(redirectUri, StringComparer.Ordinal))
            throw OAuthClients.Invalid("invalid redirect_uri");

        var scope = Param("scope") is { Length: > 0 } s ? s : options.DefaultScope;
        if (RequestProblem(Param("response_type"), scope, Param("resource"), Param("code_challenge"), Param("code_challenge_method"))
            is { } problem)
            return Results.Redirect(RedirectQuery.With(redirectUri, ("error", "invalid_request"), ("error_description", problem),
                ("state", state)));

        var now = clock.GetUtcNow().UtcDateTime;
        var authorizationId = NewAlphanumeric(32);
        await conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.oauth_authorizations (id, authorization_id, client_id, redirect_uri, scope, state, resource,
                code_challenge, code_challenge_method, response_type, status, created_at, expires_at, nonce)
            values (gen_random_uuid(), @authorizationId, @clientId, @redirectUri, @scope, nullif(@state, ''), nullif(@resource, ''),
                @challenge, lower(@method)::auth.code_challenge_method, 'code', 'pending', @now, @expires, nullif(@nonce, ''))
            """,
            new
            {
                authorizationId,
                clientId,
                redirectUri,
                scope,
                state,
                resource = Param("resource"),
                challenge = Param("code_challenge"),
                method = Param("code_challenge_method"),
                now,
                expires = now + options.AuthorizationTtl,
                nonce = Param("nonce"),
            }, cancellationToken: ct));

        if (options.AuthorizationPath.Length == 0)
            return Results.Redirect(RedirectQuery.With(redirectUri, ("error", "server_error"),
                ("error_description", "oauth authorization path not configured"), ("state", state)));
        var path = options.AuthorizationPath.StartsWith('/') ? options.AuthorizationPath : "/" + options.AuthorizationPath;
        return Results.Redirect($"{api.SiteUrl.TrimEnd('/')}{path}?authorization_id={authorizationId}");
    }

    /// GoTrue `validateRemainingAuthorizeParams`: the description sent back as `error_description`.
    static string? RequestProblem(string responseType, string scope, string resource, string challenge, string method)
    {
        if (responseType.Length > 0 && responseType != "code") return "only response_type=code is supported";
        var scopes = ParseScopes(scope);
        if (scopes.Length == 0) return "scope parameter cannot be empty";
        if (scopes.FirstOrDefault(s => !SupportedScopes.Contains(s)) is { } unsupported) return $"unsupported scope: {unsupported}";
        if (resource.Length > 0)
        {
            if (!Uri.TryCreate(resource, UriKind.Absolute, out _)) return "resource must be an absolute URI";
            if (resource.Contains('#')) return "resource must not include a fragment component";
            if (resource.Contains('?')) return "resource must not include a query component";
        }
        if (challenge.Length == 0 || method.Length == 0) return "PKCE flow requires both code_challenge and code_challenge_method";
        if (method.ToLowerInvariant() is not ("s256" or "plain")) return "code_challenge_method must be 'S256' or 'plain'";
        if (challenge.Length is < 43 or > 128) return "code_challenge must be between 43 and 128 characters";
        return null;
    }

    /// The consent page asks what it is consenting to. The first signed-in user to open it owns it; a user who
    /// already granted every requested scope to this client is sent straight back (`redirect_url`).
    public static async Task<IResult> GetAuthorizationAsync(AuthUser user, string authorizationId, HttpContext http,
        ApiOptions api, NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        CheckOrigin(http, api);
        var now = clock.GetUtcNow().UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var authorization = await FindPendingAsync(conn, authorizationId, now, lockRow: true, ct);
        if (authorization.UserId is null)
        {
            await conn.ExecuteAsync(new CommandDefinition(
                "update auth.oauth_authorizations set user_id = @userId where id = @id",
                new { userId = user.User.Id, id = authorization.Id }, cancellationToken: ct));
            var granted = await conn.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
                "select scopes from auth.oauth_consents where user_id = @userId and client_id = @clientId and revoked_at is null",
                new { userId = user.User.Id, clientId = authorization.ClientId }, cancellationToken: ct));
            if (granted is not null && ParseScopes(authorization.Scope).All(ParseScopes(granted).Contains))
            {
                var code = await ApproveAsync(conn, authorization, now, ct);
                await tx.CommitAsync(ct);
                return Results.Json(new JsonObject { ["redirect_url"] = SuccessUrl(authorization, code) }, Json.Options);
            }
        }
        else if (authorization.UserId != user.User.Id)
            throw NotFound();
        var client = await conn.QuerySingleAsync<OAuthClientRow>(new CommandDefinition(
            $"select {OAuthClientRow.Columns} from auth.oauth_clients c where c.id = @id",
            new { id = authorization.ClientId }, cancellationToken: ct));
        await tx.CommitAsync(ct);

        var body = new JsonObject { ["authorization_id"] = authorization.AuthorizationId };
        if (authorization.RedirectUri.Length > 0) body["redirect_uri"] = authorization.RedirectUri;
        body["client"] = client.Details();
        var userJson = new JsonObject { ["id"] = user.User.Id.ToString() };
        if (!string.IsNullOrEmpty(user.User.Email)) userJson["email"] = user.User.Email;
        body["user"] = userJson;
        if (authorization.Scope.Length > 0) body["scope"] = authorization.Scope;
        return Results.Json(body, Json.Options);
    }

    internal sealed record ConsentRequest(string? Action);

    /// Approve: a single-use code goes back to the client with `state`, and the grant is remembered.
    /// Deny: `access_denied` goes back. Only the user who opened the authorization may decide.
    public static async Task<IResult> ConsentAsync(AuthUser user, string authorizationId, HttpContext http, ApiOptions api,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        CheckOrigin(http, api);
        ConsentRequest body;
        try
        {
            body = await BodyReader.ReadAsync<ConsentRequest>(http.Request, ct);
        }
        catch (ApiError e) when (e.Code == ErrorCode.BadJson)
        {
            throw ApiError.BadRequest(ErrorCode.BadJson, "invalid JSON body");
        }
        if (body.Action is not ("approve" or "deny"))
            throw OAuthClients.Invalid("action must be 'approve' or 'deny'");

        var now = clock.GetUtcNow().UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var authorization = await FindPendingAsync(conn, authorizationId, now, lockRow: true, ct);
        if (authorization.UserId != user.User.Id) throw NotFound();

        string redirectUrl;
        if (body.Action == "approve")
        {
            var code = await ApproveAsync(conn, authorization, now, ct);
            // GoTrue `UpsertOAuthServerConsent`: the grant now covers exactly these scopes, un-revoked.
            await conn.ExecuteAsync(new CommandDefinition(
                """
                insert into auth.oauth_consents (id, user_id, client_id, scopes, granted_at)
                values (gen_random_uuid(), @userId, @clientId, @scopes, @now)
                on conflict (user_id, client_id) do update set scopes = excluded.scopes, granted_at = excluded.granted_at,
                    revoked_at = null
                """,
                new { userId = user.User.Id, clientId = authorization.ClientId, scopes = string.Join(' ', ParseScopes(authorization.Scope)), now },
                cancellationToken: ct));
            redirectUrl = SuccessUrl(authorization, code);
        }
        else
        {
            await conn.ExecuteAsync(new CommandDefinition(
                "update auth.oauth_authorizations set status = 'denied' where id = @id",
                new { id = authorization.Id }, cancellationToken: ct));
            redirectUrl = RedirectQuery.With(authorization.RedirectUri, ("error", "access_denied"),
                ("error_description", "User denied the request"), ("state", authorization.State ?? ""));
        }
        await tx.CommitAsync(ct);
        return Results.Json(new JsonObject { ["redirect_url"] = redirectUrl }, Json.Options);
    }

    /// GoTrue `validateAndFindAuthorization`: unknown and expired look the same (404); decided ones are 400.
    static async Task<AuthorizationRow> FindPendingAsync(NpgsqlConnection conn, string authorizationId, DateTime now, bool lockRow,
        CancellationToken ct)
    {
        var authorization = await conn.QuerySingleOrDefaultAsync<AuthorizationRow>(new CommandDefinition(
            $"select {AuthorizationRow.Columns} from auth.oauth_authorizations a where a.authorization_id = @authorizationId" +
            (lockRow ? " for update" : ""), new { authorizationId }, cancellationToken: ct)) ?? throw NotFound();
        if (authorization.IsExpired(now))
        {
            if (authorization.Status == "pending")
                await conn.ExecuteAsync(new CommandDefinition(
                    "update auth.oauth_authorizations set status = 'expired' where id = @id", new { id = authorization.Id },
                    cancellationToken: ct));
            throw NotFound();
        }
        if (authorization.Status != "pending")
            throw OAuthClients.Invalid("authorization request cannot be processed");
        return authorization;
    }

    /// The code is a random UUID, as GoTrue's; it lives as long as the authorization (`expires_at`).
    static async Task<string> ApproveAsync(NpgsqlConnection conn, AuthorizationRow authorization, DateTime now, CancellationToken ct)
    {
        var code = Guid.NewGuid().ToString();
        await conn.ExecuteAsync(new CommandDefinition(
            "update auth.oauth_authorizations set status = 'approved', approved_at = @now, authorization_code = @code where id = @id",
            new { id = authorization.Id, now, code }, cancellationToken: ct));
        return code;
    }

    static string SuccessUrl(AuthorizationRow authorization, string code) =>
        RedirectQuery.With(authorization.RedirectUri, ("code", code), ("state", authorization.State ?? ""));

    /// GoTrue `validateRequestOrigin`: a browser's Origin must be the site URL or on the redirect allow list.
    static void CheckOrigin(HttpContext http, ApiOptions api)
    {
        var origin = http.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && !Redirects.IsValid(api, origin))
            throw OAuthClients.Invalid("unauthorized request origin");
    }

    static ApiError NotFound() => ApiError.NotFound("oauth_authorization_not_found", "authorization not found");

    internal static string[] ParseScopes(string scope) =>
        scope.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// GoTrue `crypto.SecureAlphanumeric`.
    static string NewAlphanumeric(int length) =>
        RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", length);
}

/// Go `url.Values.Encode` on the redirect URI's own query: the given keys are set (empty values are left
/// out), then every key is sorted and escaped as Go's `QueryEscape` does.
internal static class RedirectQuery
{
    public static string With(string uri, params (string Key, string Value)[] values)
    {
        var question = uri.IndexOf('?');
        var baseUri = question < 0 ? uri : uri[..question];
        var pairs = new List<(string Key, string Value)>();
        if (question >= 0)
            foreach (var part in uri[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=');
                pairs.Add(eq < 0 ? (Unescape(part), "") : (Unescape(part[..eq]), Unescape(part[(eq + 1)..])));
            }
        foreach (var (key, value) in values)
        {
            if (value.Length == 0) continue;
            pairs.RemoveAll(p => p.Key == key);
            pairs.Add((key, value));
        }
        var query = string.Join('&', pairs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Escape(p.Key) + "=" + Escape(p.Value)));
        return query.Length == 0 ? baseUri : baseUri + "?" + query;
    }

    static string Unescape(string value)
    {
        try { return Uri.UnescapeDataString(value.Replace('+', ' ')); }
        catch (UriFormatException) { return value; }
    }

    static string Escape(string value)
    {
        var builder = new System.Text.StringBuilder();
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~') builder.Append(c);
            else if (c == ' ') builder.Append('+');
            else builder.Append('%').Append(b.ToString("X2"));
        }
        return builder.ToString();
    }
}
