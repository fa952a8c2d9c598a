using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AuthServer.Http;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Features.CustomProviders;

/// `/admin/custom-providers` (GoTrue `custom_oauth_admin.go`): list, create, read, update, delete.
internal static partial class CustomProviderEndpoints
{
    internal sealed record Params(
        string? ProviderType, string? Identifier, string? Name, string? ClientId, string? ClientSecret,
        List<string>? AcceptableClientIds, List<string>? Scopes, bool? PkceEnabled, JsonObject? AttributeMapping,
        JsonObject? AuthorizationParams, bool? Enabled, bool? EmailOptional, string? Issuer, string? DiscoveryUrl,
        bool? SkipNonceCheck, string? AuthorizationUrl, string? TokenUrl, string? UserinfoUrl, string? JwksUri);

    static readonly string[] ReservedParams =
        ["client_id", "client_secret", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method",
         "code_verifier", "nonce"];

    static readonly string[] BlockedTargets =
        ["id", "aud", "role", "app_metadata", "created_at", "updated_at", "confirmed_at", "email_confirmed_at",
         "phone_confirmed_at", "email_verified", "phone_verified", "banned_until", "is_super_admin"];

    public static async Task<IResult> ListAsync(AdminUser _, HttpContext http, CustomOAuthOptions options, NpgsqlDataSource db,
        CancellationToken ct)
    {
        RequireEnabled(options);
        var type = http.Request.Query["type"].ToString();
        if (type.Length > 0 && type is not ("oauth2" or "oidc"))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "type must be either 'oauth2' or 'oidc'");
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await CustomProviderQueries.ListAsync(conn, type.Length > 0 ? type : null, ct);
        return Results.Json(new JsonObject { ["providers"] = new JsonArray([.. rows.Select(r => (JsonNode)r.ToJson())]) });
    }

    public static async Task<IResult> GetAsync(AdminUser _, string identifier, CustomOAuthOptions options, NpgsqlDataSource db,
        CancellationToken ct)
    {
        RequireEnabled(options);
        CheckIdentifier(identifier);
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await CustomProviderQueries.FindAsync(conn, identifier, forUpdate: false, ct) ?? throw NotFound();
        return Results.Json(row.ToJson());
    }

    public static async Task<IResult> CreateAsync(AdminUser _, HttpContext http, CustomOAuthOptions options,
        ColumnEncryption encryption, NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        RequireEnabled(options);
        var p = await BodyReader.ReadAsync<Params>(http.Request, ct);
        if (p.ProviderType is not ("oauth2" or "oidc"))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "provider_type must be either 'oauth2' or 'oidc'");
        if (string.IsNullOrEmpty(p.Identifier)) throw Invalid("identifier is required");
        CheckIdentifier(p.Identifier);
        if (string.IsNullOrEmpty(p.Name)) throw Invalid("name is required");
        if (string.IsNullOrEmpty(p.ClientId)) throw Invalid("client_id is required");
        if (string.IsNullOrEmpty(p.ClientSecret)) throw Invalid("client_secret is required");
        var oidc = p.ProviderType == "oidc";
        if (oidc && string.IsNullOrEmpty(p.Issuer)) throw Invalid("issuer is required for OIDC providers");
        if (!oidc)
        {
            if (string.IsNullOrEmpty(p.AuthorizationUrl)) throw Invalid("authorization_url is required for OAuth2 providers");
            if (string.IsNullOrEmpty(p.TokenUrl)) throw Invalid("token_url is required for OAuth2 providers");
            if (string.IsNullOrEmpty(p.UserinfoUrl)) throw Invalid("userinfo_url is required for OAuth2 providers");
        }
        CheckMaps(p);

        await using var conn = await db.OpenConnectionAsync(ct);
        if (options.MaxProviders > 0 && await CustomProviderQueries.CountAsync(conn, ct) >= options.MaxProviders)
            throw ApiError.BadRequest("over_quota", "Maximum number of custom OAuth/OIDC providers reached");
        foreach (var url in oidc ? [p.Issuer, p.DiscoveryUrl] : new[] { p.AuthorizationUrl, p.TokenUrl, p.UserinfoUrl, p.JwksUri })
            CheckUrl(url);
        if (await CustomProviderQueries.FindAsync(conn, p.Identifier, forUpdate: false, ct) is not null)
            throw ApiError.BadRequest(ErrorCode.Conflict, "A custom OAuth provider with this identifier already exists");

        var now = clock.GetUtcNow().UtcDateTime;
        var row = new CustomProviderRow
        {
            Id = Guid.NewGuid(),
            ProviderType = p.ProviderType,
            Identifier = p.Identifier,
            Name = p.Name,
            ClientId = p.ClientId,
            AcceptableClientIds = [.. p.AcceptableClientIds ?? []],
            Scopes = [.. p.Scopes ?? []],
            PkceEnabled = p.PkceEnabled ?? true,
            AttributeMapping = (p.AttributeMapping ?? []).ToJsonString(),
            AuthorizationParams = (p.AuthorizationParams ?? []).ToJsonString(),
            Enabled = p.Enabled ?? true,
            EmailOptional = p.EmailOptional ?? false,
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (oidc)
        {
            row.Issuer = p.Issuer;
            row.DiscoveryUrl = string.IsNullOrEmpty(p.DiscoveryUrl) ? null : p.DiscoveryUrl;
            row.SkipNonceCheck = p.SkipNonceCheck ?? false;
            if (!row.Scopes.Contains("openid")) row.Scopes = ["openid", .. row.Scopes];
        }
        else
        {
            row.AuthorizationUrl = p.AuthorizationUrl;
            row.TokenUrl = p.TokenUrl;
            row.UserinfoUrl = p.UserinfoUrl;
            row.JwksUri = string.IsNullOrEmpty(p.JwksUri) ? null : p.JwksUri;
        }
        row.ClientSecret = ProtectSecret(encryption, p.ClientSecret, row.Id);
        await CustomProviderQueries.SaveAsync(conn, row, insert: true, ct);
        return Results.Json(row.ToJson(), statusCode: StatusCodes.Status201Created);
    }

    public static async Task<IResult> UpdateAsync(AdminUser _, string identifier, HttpContext http, CustomOAuthOptions options,
        ColumnEncryption encryption, NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        RequireEnabled(options);
        CheckIdentifier(identifier);
        var p = await BodyReader.ReadAsync<Params>(http.Request, ct);
        CheckMaps(p);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var row = await CustomProviderQueries.FindAsync(conn, identifier, forUpdate: true, ct) ?? throw NotFound();
        if (!string.IsNullOrEmpty(p.Name)) row.Name = p.Name;
        if (!string.IsNullOrEmpty(p.ClientId)) row.ClientId = p.ClientId;
        if (p.AcceptableClientIds is not null) row.AcceptableClientIds = [.. p.AcceptableClientIds];
        if (p.Scopes is not null)
            row.Scopes = row.ProviderType == "oidc" && !p.Scopes.Contains("openid") ? ["openid", .. p.Scopes] : [.. p.Scopes];
        if (p.PkceEnabled is { } pkce) row.PkceEnabled = pkce;
        if (p.AttributeMapping is not null) row.AttributeMapping = p.AttributeMapping.ToJsonString();
        if (p.AuthorizationParams is not null) row.AuthorizationParams = p.AuthorizationParams.ToJsonString();
        if (p.Enabled is { } enabled) row.Enabled = enabled;
        if (p.EmailOptional is { } optional) row.EmailOptional = optional;
        if (row.ProviderType == "oidc")
        {
            row.Issuer = Url(p.Issuer) ?? row.Issuer;
            row.DiscoveryUrl = Url(p.DiscoveryUrl) ?? row.DiscoveryUrl;
            if (p.SkipNonceCheck is { } skip) row.SkipNonceCheck = skip;
        }
        else
        {
            row.AuthorizationUrl = Url(p.AuthorizationUrl) ?? row.AuthorizationUrl;
            row.TokenUrl = Url(p.TokenUrl) ?? row.TokenUrl;
            row.UserinfoUrl = Url(p.UserinfoUrl) ?? row.UserinfoUrl;
            row.JwksUri = Url(p.JwksUri) ?? row.JwksUri;
        }
        if (!string.IsNullOrEmpty(p.ClientSecret)) row.ClientSecret = ProtectSecret(encryption, p.ClientSecret, row.Id);
        row.UpdatedAt = clock.GetUtcNow().UtcDateTime;
        await CustomProviderQueries.SaveAsync(conn, row, insert: false, ct);
        await tx.CommitAsync(ct);
        return Results.Json(row.ToJson());
    }

    public static async Task<IResult> DeleteAsync(AdminUser _, string identifier, CustomOAuthOptions options, NpgsqlDataSource db,
        CancellationToken ct)
    {
        RequireEnabled(options);
        CheckIdentifier(identifier);
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await CustomProviderQueries.FindAsync(conn, identifier, forUpdate: false, ct) ?? throw NotFound();
        await CustomProviderQueries.DeleteAsync(conn, row.Id, ct);
        return Results.NoContent();
    }

    /// GoTrue `requireCustomOAuthEnabled`, after the admin check.
    static void RequireEnabled(CustomOAuthOptions options)
    {
        if (!options.Enabled) throw ApiError.NotFound(ErrorCode.FeatureDisabled, "Custom OAuth providers are disabled");
    }

    /// GoTrue requires the `custom:` prefix; the rest of the table's format check is ours, so a bad identifier is a
    /// 400 instead of the database's constraint error.
    static void CheckIdentifier(string identifier)
    {
        if (!identifier.StartsWith("custom:", StringComparison.Ordinal))
            throw Invalid($"identifier must start with 'custom:' prefix, e.g. 'custom:{identifier}'");
        if (!IdentifierFormat().IsMatch(identifier))
            throw Invalid("identifier must be 2-50 lower-case letters, digits, ':' or '-'");
    }

    static void CheckMaps(Params p)
    {
        foreach (var (key, value) in p.AuthorizationParams ?? [])
        {
            if (ReservedParams.Contains(key)) throw Invalid($"Cannot override reserved OAuth parameter: {key}");
            if (value?.GetValueKind() != JsonValueKind.String) throw Invalid($"Authorization parameter \"{key}\" must be a string");
        }
        foreach (var (key, _) in p.AttributeMapping ?? [])
            if (BlockedTargets.Contains(key)) throw Invalid($"Cannot map to protected system field: {key}");
    }

    /// Provider URLs are absolute https (the table's constraint; GoTrue `ValidateOAuthURL`).
    static void CheckUrl(string? url)
    {
        if (string.IsNullOrEmpty(url)) return;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "https" || url.Length > 2048)
            throw Invalid($"URL must use HTTPS: {url}");
    }

    static string? Url(string? url)
    {
        if (string.IsNullOrEmpty(url)) return null;
        CheckUrl(url);
        return url;
    }

    /// GoTrue stores custom provider secrets only encrypted (`SetClientSecret` refuses without encryption).
    static string ProtectSecret(ColumnEncryption encryption, string secret, Guid id) => encryption.EncryptsWrites
        ? encryption.Protect(secret, id)
        : throw ApiError.Internal("Error encrypting custom OAuth provider client secret");

    static ApiError Invalid(string message) => ApiError.BadRequest(ErrorCode.ValidationFailed, message);

    static ApiError NotFound() => ApiError.NotFound("provider_not_found", "Custom OAuth provider not found");

    [GeneratedRegex("^[a-z0-9][a-z0-9:-]{0,48}[a-z0-9]$")]
    private static partial Regex IdentifierFormat();
}
