using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Features.CustomProviders;
using AuthServer.Features.External.Providers;
using AuthServer.Http;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Features.External;

/// GoTrue `API.Provider`: a configured provider by name, or an admin-defined one by `custom:<identifier>`
/// (`loadCustomProvider`), checked the same way at /authorize and /callback.
internal static class ExternalProviders
{
    public static async Task<OidcProviderOptions> FindAsync(IServiceProvider services, string name, CancellationToken ct,
        string errorCode = ErrorCode.ValidationFailed)
    {
        OidcProviderOptions? provider;
        string? problem;
        if (name.StartsWith("custom:", StringComparison.Ordinal))
            (provider, problem) = await FindCustomAsync(services, name, ct);
        else
        {
            provider = services.GetRequiredService<ExternalOptions>().Find(name);
            problem = provider switch
            {
                null => $"Provider {name} could not be found",
                { Enabled: false } => "provider is not enabled",
                { ClientIds.Count: 0 } => "missing OAuth client ID",
                { Secret.Length: 0 } => "missing OAuth secret",
                _ => null,
            };
        }
        if (problem is not null) throw ApiError.BadRequest(errorCode, "Unsupported provider: " + problem);
        return provider!;
    }

    static async Task<(OidcProviderOptions?, string?)> FindCustomAsync(IServiceProvider services, string name, CancellationToken ct)
    {
        var options = services.GetRequiredService<CustomOAuthOptions>();
        if (!options.Enabled) return (null, "custom OAuth providers are disabled");
        CustomProviderRow? row;
        await using (var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct))
            row = await CustomProviderQueries.FindAsync(conn, name, forUpdate: false, ct);
        if (row is null) return (null, $"custom provider {name} not found");
        if (!row.Enabled) return (null, $"custom provider {name} is disabled");
        var secret = services.GetRequiredService<ColumnEncryption>().Reveal(row.ClientSecret, row.Id) ?? "";
        var baseUrl = options.ExternalUrl ?? services.GetRequiredService<ApiOptions>().ExternalUrl.ToString();
        var authorizationParams = JsonNode.Parse(row.AuthorizationParams) is JsonObject o
            ? o.Where(kv => kv.Value?.GetValueKind() == JsonValueKind.String).ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>())
            : [];
        var mapping = JsonNode.Parse(row.AttributeMapping) as JsonObject;
        var common = new OidcProviderOptions
        {
            Name = row.Identifier,
            Enabled = true,
            ClientIds = [row.ClientId, .. row.AcceptableClientIds],
            Secret = secret,
            RedirectUri = baseUrl.TrimEnd('/') + "/callback",
            SkipNonceCheck = row.SkipNonceCheck,
            EmailOptional = row.EmailOptional,
            Issuer = row.Issuer?.TrimEnd('/') ?? "",
            AcceptedIssuers = row.Issuer is { } issuer ? [issuer.TrimEnd('/')] : [],
            Scopes = row.Scopes,
            Pkce = row.PkceEnabled,
            AuthorizationParams = authorizationParams,
            IsCustom = true,
            AttributeMapping = mapping,
        };
        if (row.ProviderType == "oidc") return (common, null);
        if (row.AuthorizationUrl is null || row.TokenUrl is null || row.UserinfoUrl is null)
            return (null, $"OAuth2 provider {name} missing required endpoints");
        var urls = new ProviderUrls(row.AuthorizationUrl, row.TokenUrl, row.UserinfoUrl);
        // The user comes from OAuthExchange's custom branch (userinfo + attribute_mapping), not from FetchUser.
        var spec = new ProviderSpec(row.Identifier, _ => urls, row.Scopes,
            _ => throw new InvalidOperationException("custom providers are read by OAuthExchange"), RequiresPkce: row.PkceEnabled);
        return (new OidcProviderOptions
        {
            Name = common.Name,
            Enabled = true,
            ClientIds = common.ClientIds,
            Secret = secret,
            RedirectUri = common.RedirectUri,
            EmailOptional = row.EmailOptional,
            Issuer = "",
            AcceptedIssuers = [],
            Scopes = row.Scopes,
            Pkce = row.PkceEnabled,
            AuthorizationParams = authorizationParams,
            IsCustom = true,
            AttributeMapping = mapping,
            Spec = spec,
        }, null);
    }
}
