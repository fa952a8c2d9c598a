using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Http;
using AuthServer.Security;
using Dapper;
using Npgsql;

namespace AuthServer.Features.OAuthServer;

/// A row of `auth.oauth_clients` (GoTrue models/oauth_client.go). Lists are stored comma-joined, as GoTrue does.
internal sealed class OAuthClientRow
{
    public Guid Id { get; init; }
    public string? ClientSecretHash { get; init; }
    public string RegistrationType { get; init; } = "";
    public string ClientType { get; init; } = "";
    public string RedirectUris { get; init; } = "";
    public string GrantTypes { get; init; } = "";
    public string? ClientName { get; init; }
    public string? ClientUri { get; init; }
    public string? LogoUri { get; init; }
    public string TokenEndpointAuthMethod { get; init; } = "";
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    public bool IsPublic => ClientType == OAuthClients.Public;
    public string[] RedirectUriList => RedirectUris.Length == 0 ? [] : RedirectUris.Split(',');
    public string[] GrantTypeList => GrantTypes.Length == 0 ? [] : GrantTypes.Split(',');
    public bool AllowsGrant(string grantType) => GrantTypeList.Any(g => g.Trim() == grantType);

    internal const string Columns = """
        c.id, c.client_secret_hash, c.registration_type::text as registration_type, c.client_type::text as client_type,
        c.redirect_uris, c.grant_types, c.client_name, c.client_uri, c.logo_uri, c.token_endpoint_auth_method,
        c.created_at, c.updated_at
        """;

    /// GoTrue `OAuthServerClientResponse`: `client_secret` only when the caller just generated it; empty strings
    /// and lists are left out (Go `omitempty`).
    public JsonObject ToJson(string? plaintextSecret = null)
    {
        var json = new JsonObject { ["client_id"] = Id.ToString() };
        if (!string.IsNullOrEmpty(plaintextSecret)) json["client_secret"] = plaintextSecret;
        json["client_type"] = ClientType;
        if (RedirectUriList.Length > 0) json["redirect_uris"] = Array(RedirectUriList);
        if (TokenEndpointAuthMethod.Length > 0) json["token_endpoint_auth_method"] = TokenEndpointAuthMethod;
        if (GrantTypeList.Length > 0) json["grant_types"] = Array(GrantTypeList);
        json["response_types"] = Array(["code"]);
        if (!string.IsNullOrEmpty(ClientName)) json["client_name"] = ClientName;
        if (!string.IsNullOrEmpty(ClientUri)) json["client_uri"] = ClientUri;
        if (!string.IsNullOrEmpty(LogoUri)) json["logo_uri"] = LogoUri;
        if (RegistrationType.Length > 0) json["registration_type"] = RegistrationType;
        json["created_at"] = Utc(CreatedAt);
        json["updated_at"] = Utc(UpdatedAt);
        return json;
    }

    /// The `client` object of authorization details and grants (GoTrue `ClientDetailsResponse`).
    public JsonObject Details()
    {
        var json = new JsonObject { ["id"] = Id.ToString() };
        if (!string.IsNullOrEmpty(ClientName)) json["name"] = ClientName;
        if (!string.IsNullOrEmpty(ClientUri)) json["uri"] = ClientUri;
        if (!string.IsNullOrEmpty(LogoUri)) json["logo_uri"] = LogoUri;
        return json;
    }

    static JsonArray Array(string[] values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
    static DateTime Utc(DateTime t) => DateTime.SpecifyKind(t, DateTimeKind.Utc);
}

/// Client rules and queries of GoTrue oauthserver/service.go and client_auth.go.
internal static class OAuthClients
{
    public const string Public = "public";
    public const string Confidential = "confidential";
    public const string AuthNone = "none";
    public const string AuthBasic = "client_secret_basic";
    public const string AuthPost = "client_secret_post";
    public static readonly string[] AuthMethods = [AuthNone, AuthBasic, AuthPost];

    /// The client unless it is unknown or soft-deleted (GoTrue `FindOAuthServerClientByID`).
    public static Task<OAuthClientRow?> FindAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<OAuthClientRow>(new CommandDefinition(
            $"select {OAuthClientRow.Columns} from auth.oauth_clients c where c.id = @id and c.deleted_at is null",
            new { id }, cancellationToken: ct));

    /// 32 random bytes, base64url without padding (GoTrue `generateClientSecret`).
    public static string NewSecret() => Base64Url.Encode(RandomNumberGenerator.GetBytes(32));

    /// SHA-256, base64url without padding (GoTrue `hashClientSecret`), so databases shared with GoTrue keep working.
    public static string HashSecret(string secret) => Base64Url.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// Constant-time comparison of the presented secret's hash with the stored one (GoTrue `ValidateClientSecret`).
    public static bool SecretMatches(string presented, string? storedHash)
    {
        if (storedHash is null || Base64Url.TryDecode(storedHash) is not { } stored) return false;
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), stored);
    }

    /// GoTrue `InferClientTypeFromAuthMethod`: `none` is public, anything else confidential.
    public static string TypeFor(string authMethod) => authMethod == AuthNone ? Public : Confidential;

    /// GoTrue `validateRedirectURI` (RFC 6749 §3.1.2, RFC 8252 §7.3): absolute, no fragment, no script-ish
    /// scheme, plain http only for loopback hosts; custom schemes (`myapp://cb`) are allowed.
    public static string? RedirectUriProblem(string uri)
    {
        if (uri.Length == 0) return "redirect URI cannot be empty";
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.Scheme.Length == 0 || parsed.Authority.Length == 0)
            return "must have scheme and host";
        if (parsed.Scheme.ToLowerInvariant() is "javascript" or "data" or "file" or "vbscript" or "about" or "blob")
            return $"scheme '{UriScheme(uri)}' is not allowed for security reasons";
        if (UriScheme(uri) == "http" && parsed.IdnHost.Trim('[', ']') is not ("localhost" or "127.0.0.1" or "::1"))
            return "HTTP scheme only allowed for localhost";
        if (uri.Contains('#') && uri[(uri.IndexOf('#') + 1)..].Length > 0) return "fragment not allowed in redirect URI";
        return null;
    }

    /// The scheme as written (Go keeps its case; System.Uri lowercases it).
    static string UriScheme(string uri) => uri[..Math.Max(0, uri.IndexOf(':'))];

    public static ApiError? ValidateRedirectUris(string[]? uris, bool required)
    {
        if (required && (uris is null || uris.Length == 0)) return Invalid("redirect_uris is required");
        if (uris is null || uris.Length == 0) return Invalid("redirect_uris cannot be empty");
        if (uris.Length > 10) return Invalid("redirect_uris cannot exceed 10 items");
        foreach (var uri in uris)
            if (RedirectUriProblem(uri ?? "") is { } problem)
                return Invalid($"invalid redirect_uri '{uri}': {problem}");
        return null;
    }

    public static ApiError? ValidateGrantTypes(string[] grantTypes)
    {
        if (grantTypes.Length == 0) return Invalid("grant_types cannot be empty");
        if (grantTypes.Any(g => g is not ("authorization_code" or "refresh_token")))
            return Invalid("grant_types must only contain 'authorization_code' and/or 'refresh_token'");
        return null;
    }

    public static ApiError? ValidateName(string? name) =>
        name is { Length: > 1024 } ? Invalid("client_name cannot exceed 1024 characters") : null;

    /// GoTrue `validateClientURI`/`validateLogoURI` (Go `url.ParseRequestURI`: absolute, or a rooted path).
    public static ApiError? ValidateUri(string? value, string field)
    {
        if (string.IsNullOrEmpty(value)) return null;
        if (value.Length > 2048) return Invalid($"{field} cannot exceed 2048 characters");
        var parses = value.StartsWith('/') || (Uri.TryCreate(value, UriKind.Absolute, out _) && !value.Any(char.IsControl));
        return parses ? null : Invalid($"{field} must be a valid URL");
    }

    public static ApiError Invalid(string message) => ApiError.BadRequest(ErrorCode.ValidationFailed, message);

    /// The client's token-endpoint credentials as sent (GoTrue `ExtractClientCredentials`): the Basic header
    /// first, else `client_id`/`client_secret` from the (already parsed) body.
    public sealed record Credentials(string ClientId, string Secret, string Method);
}
