using System.Text.Json.Nodes;
using AuthServer.Http;
using AuthServer.RateLimits;
using Dapper;
using Npgsql;

namespace AuthServer.Features.OAuthServer;

/// Client registration and the admin client routes (GoTrue oauthserver/handlers.go + service.go):
/// `POST/GET /admin/oauth/clients`, `GET/PUT/DELETE /admin/oauth/clients/{id}`,
/// `POST /admin/oauth/clients/{id}/regenerate_secret`, and RFC 7591 `POST /oauth/clients/register`.
/// The secret is generated here, shown once (create, regenerate) and stored as its SHA-256.
internal static class ClientEndpoints
{
    internal sealed record RegisterRequest(string[]? RedirectUris, string? ClientType, string? TokenEndpointAuthMethod,
        string[]? GrantTypes, string? ClientName, string? ClientUri, string? LogoUri);

    internal sealed record UpdateRequest(string[]? RedirectUris, string[]? GrantTypes, string? ClientName, string? ClientUri,
        string? LogoUri, string? TokenEndpointAuthMethod);

    public static Task<IResult> AdminRegisterAsync(AdminUser _, HttpContext http, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct) => RegisterAsync(http, "manual", db, clock, ct);

    /// RFC 7591 dynamic registration: rate limited per client (GOTRUE_RATE_LIMIT_O_AUTH_DYNAMIC_CLIENT_REGISTER)
    /// before anything else, then refused unless GOTRUE_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION.
    public static async Task<IResult> DynamicRegisterAsync(HttpContext http, OAuthServerOptions options, RateLimiter limiter,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        await limiter.EnsureAsync(http, options.RegisterBucket, ct);
        if (!options.AllowDynamicRegistration)
            throw ApiError.Forbidden("oauth_dynamic_client_registration_disabled", "Dynamic client registration is not enabled");
        return await RegisterAsync(http, "dynamic", db, clock, ct);
    }

    static async Task<IResult> RegisterAsync(HttpContext http, string registrationType, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        var body = await ReadAsync<RegisterRequest>(http, ct);
        // GoTrue wraps every validation error of registration once more, so its message carries the inner
        // error's "400: " prefix (handlers.go: NewBadRequestError(…, "%s", err.Error())).
        if (Validate(body) is { } invalid)
            throw OAuthClients.Invalid("400: " + invalid.Message);

        var clientType = !string.IsNullOrEmpty(body.ClientType) ? body.ClientType
            : !string.IsNullOrEmpty(body.TokenEndpointAuthMethod) ? OAuthClients.TypeFor(body.TokenEndpointAuthMethod)
            : OAuthClients.Confidential;
        // RFC 7591 §2: the default is client_secret_basic; a public client has no secret, so `none`.
        var authMethod = !string.IsNullOrEmpty(body.TokenEndpointAuthMethod) ? body.TokenEndpointAuthMethod
            : clientType == OAuthClients.Public ? OAuthClients.AuthNone : OAuthClients.AuthBasic;
        var grantTypes = body.GrantTypes is { Length: > 0 } g ? g : ["authorization_code", "refresh_token"];
        var secret = clientType == OAuthClients.Confidential ? OAuthClients.NewSecret() : null;
        var now = clock.GetUtcNow().UtcDateTime;

        await using var conn = await db.OpenConnectionAsync(ct);
        var client = await conn.QuerySingleAsync<OAuthClientRow>(new CommandDefinition(
            $"""
            with c as (
                insert into auth.oauth_clients (id, client_secret_hash, registration_type, redirect_uris, grant_types,
                    client_name, client_uri, logo_uri, created_at, updated_at, client_type, token_endpoint_auth_method)
                values (@id, @hash, @registrationType::auth.oauth_registration_type, @redirectUris, @grantTypes,
                    @name, @uri, @logo, @now, @now, @clientType::auth.oauth_client_type, @authMethod)
                returning *
            )
            select {OAuthClientRow.Columns} from c
            """,
            new
            {
                id = Guid.NewGuid(),
                hash = secret is null ? null : OAuthClients.HashSecret(secret),
                registrationType,
                redirectUris = string.Join(',', body.RedirectUris!),
                grantTypes = string.Join(',', grantTypes),
                name = NullIfEmpty(body.ClientName),
                uri = NullIfEmpty(body.ClientUri),
                logo = NullIfEmpty(body.LogoUri),
                now,
                clientType,
                authMethod,
            }, cancellationToken: ct));
        return Results.Json(client.ToJson(secret), Json.Options, statusCode: StatusCodes.Status201Created);
    }

    /// GoTrue `OAuthServerClientRegisterParams.validate`, in its order.
    static ApiError? Validate(RegisterRequest body)
    {
        var error = OAuthClients.ValidateRedirectUris(body.RedirectUris, required: true)
            ?? (body.GrantTypes is { Length: > 0 } grants ? OAuthClients.ValidateGrantTypes(grants) : null)
            ?? OAuthClients.ValidateName(body.ClientName)
            ?? OAuthClients.ValidateUri(body.ClientUri, "client_uri")
            ?? OAuthClients.ValidateUri(body.LogoUri, "logo_uri");
        if (error is not null) return error;
        if (!string.IsNullOrEmpty(body.ClientType) && body.ClientType is not (OAuthClients.Public or OAuthClients.Confidential))
            return OAuthClients.Invalid("client_type must be 'public' or 'confidential'");
        if (!string.IsNullOrEmpty(body.TokenEndpointAuthMethod) && !OAuthClients.AuthMethods.Contains(body.TokenEndpointAuthMethod))
            return OAuthClients.Invalid("token_endpoint_auth_method must be one of: [none client_secret_basic client_secret_post]");
        if (!string.IsNullOrEmpty(body.ClientType) && !string.IsNullOrEmpty(body.TokenEndpointAuthMethod)
            && OAuthClients.TypeFor(body.TokenEndpointAuthMethod) is var expected && expected != body.ClientType)
            return OAuthClients.Invalid($"client_type '{body.ClientType}' is inconsistent with token_endpoint_auth_method " +
                $"'{body.TokenEndpointAuthMethod}' (expected client_type '{expected}')");
        return null;
    }

    /// GoTrue lists every live client, newest first; `clients` is left out when there are none (omitempty).
    public static async Task<IResult> ListAsync(AdminUser _, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var clients = await conn.QueryAsync<OAuthClientRow>(new CommandDefinition(
            $"select {OAuthClientRow.Columns} from auth.oauth_clients c where c.deleted_at is null order by c.created_at desc",
            cancellationToken: ct));
        var body = new JsonObject();
        var list = clients.Select(c => (JsonNode)c.ToJson()).ToArray();
        if (list.Length > 0) body["clients"] = new JsonArray(list);
        return Results.Json(body, Json.Options);
    }

    public static async Task<IResult> GetAsync(AdminUser _, string clientId, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return Results.Json((await LoadAsync(conn, clientId, ct)).ToJson(), Json.Options);
    }

    /// Only the fields sent change; `null` counts as not sent (Go pointers). Errors are GoTrue's, unwrapped.
    public static async Task<IResult> UpdateAsync(AdminUser _, string clientId, HttpContext http, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var client = await LoadAsync(conn, clientId, ct);
        var body = await ReadAsync<UpdateRequest>(http, ct);
        if (body is { RedirectUris: null, GrantTypes: null, ClientName: null, ClientUri: null, LogoUri: null, TokenEndpointAuthMethod: null })
            throw OAuthClients.Invalid("No fields provided for update");
        var error = (body.RedirectUris is not null ? OAuthClients.ValidateRedirectUris(body.RedirectUris, required: false) : null)
            ?? (body.GrantTypes is not null ? OAuthClients.ValidateGrantTypes(body.GrantTypes) : null)
            ?? OAuthClients.ValidateName(body.ClientName)
            ?? OAuthClients.ValidateUri(body.ClientUri, "client_uri")
            ?? OAuthClients.ValidateUri(body.LogoUri, "logo_uri");
        if (error is not null) throw error;
        if (body.TokenEndpointAuthMethod is { } method)
        {
            if (!OAuthClients.AuthMethods.Contains(method))
                throw OAuthClients.Invalid("invalid token_endpoint_auth_method: must be one of [none client_secret_basic client_secret_post]");
            if (OAuthClients.TypeFor(method) != client.ClientType)
                throw OAuthClients.Invalid($"token_endpoint_auth_method '{method}' is not valid for client_type '{client.ClientType}'; " +
                    $"valid methods: {(client.IsPublic ? "[none]" : "[client_secret_basic client_secret_post]")}");
        }

        var updated = await conn.QuerySingleAsync<OAuthClientRow>(new CommandDefinition(
            $"""
            with c as (
                update auth.oauth_clients set
                    redirect_uris = coalesce(@redirectUris, redirect_uris),
                    grant_types = coalesce(@grantTypes, grant_types),
                    client_name = case when @setName then nullif(@name, '') else client_name end,
                    client_uri = case when @setUri then nullif(@uri, '') else client_uri end,
                    logo_uri = case when @setLogo then nullif(@logo, '') else logo_uri end,
                    token_endpoint_auth_method = coalesce(@authMethod, token_endpoint_auth_method),
                    updated_at = @now
                where id = @id
                returning *
            )
            select {OAuthClientRow.Columns} from c
            """,
            new
            {
                id = client.Id,
                redirectUris = body.RedirectUris is null ? null : string.Join(',', body.RedirectUris),
                grantTypes = body.GrantTypes is null ? null : string.Join(',', body.GrantTypes),
                setName = body.ClientName is not null,
                name = body.ClientName,
                setUri = body.ClientUri is not null,
                uri = body.ClientUri,
                setLogo = body.LogoUri is not null,
                logo = body.LogoUri,
                authMethod = body.TokenEndpointAuthMethod,
                now = clock.GetUtcNow().UtcDateTime,
            }, cancellationToken: ct));
        return Results.Json(updated.ToJson(), Json.Options);
    }

    /// GoTrue soft-deletes the client, which already stops its authorizations, token requests and grants.
    /// Beyond GoTrue (issue 16), the client's sessions are ended too, so its refresh tokens and the access
    /// tokens naming those sessions stop working at once instead of at expiry (docs/oauth-server.md).
    public static async Task<IResult> DeleteAsync(AdminUser _, string clientId, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var client = await LoadAsync(conn, clientId, ct);
        await conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.oauth_clients set deleted_at = @now, updated_at = @now where id = @id;
            delete from auth.sessions where oauth_client_id = @id;
            """, new { id = client.Id, now = clock.GetUtcNow().UtcDateTime }, cancellationToken: ct));
        return Results.NoContent();
    }

    public static async Task<IResult> RegenerateSecretAsync(AdminUser _, string clientId, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var client = await LoadAsync(conn, clientId, ct);
        if (client.ClientType != OAuthClients.Confidential)
            throw OAuthClients.Invalid("Cannot regenerate secret for public client");
        var secret = OAuthClients.NewSecret();
        var updated = await conn.QuerySingleAsync<OAuthClientRow>(new CommandDefinition(
            $"""
            with c as (
                update auth.oauth_clients set client_secret_hash = @hash, updated_at = @now where id = @id returning *
            )
            select {OAuthClientRow.Columns} from c
            """, new { id = client.Id, hash = OAuthClients.HashSecret(secret), now = clock.GetUtcNow().UtcDateTime },
            cancellationToken: ct));
        return Results.Json(updated.ToJson(secret), Json.Options);
    }

    /// GoTrue `LoadOAuthServerClient`: the `{client_id}` path parameter must be a UUID of a live client.
    static async Task<OAuthClientRow> LoadAsync(NpgsqlConnection conn, string clientId, CancellationToken ct)
    {
        if (!Guid.TryParse(clientId, out var id))
            throw OAuthClients.Invalid("invalid client_id format");
        return await OAuthClients.FindAsync(conn, id, ct)
            ?? throw ApiError.NotFound("oauth_client_not_found", "OAuth client not found");
    }

    /// GoTrue answers every undecodable body of these routes with one message.
    static async Task<T> ReadAsync<T>(HttpContext http, CancellationToken ct) where T : class
    {
        try
        {
            return await BodyReader.ReadAsync<T>(http.Request, ct);
        }
        catch (ApiError e) when (e.Code == ErrorCode.BadJson)
        {
            throw ApiError.BadRequest(ErrorCode.BadJson, "Invalid JSON body");
        }
    }

    static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
