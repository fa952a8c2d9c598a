using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace AuthServer.Features.CustomProviders;

/// A row of `auth.custom_oauth_providers` (GoTrue `models.CustomOAuthProvider`); the client secret is the
/// stored value (an encrypted string), never rendered.
internal sealed class CustomProviderRow
{
    public Guid Id { get; set; }
    public string ProviderType { get; set; } = "";
    public string Identifier { get; set; } = "";
    public string Name { get; set; } = "";
    public string ClientId { get; set; } = "";
    public string ClientSecret { get; set; } = "";
    public string[] AcceptableClientIds { get; set; } = [];
    public string[] Scopes { get; set; } = [];
    public bool PkceEnabled { get; set; } = true;
    public string AttributeMapping { get; set; } = "{}";
    public string AuthorizationParams { get; set; } = "{}";
    public bool Enabled { get; set; } = true;
    public bool EmailOptional { get; set; }
    public string? Issuer { get; set; }
    public string? DiscoveryUrl { get; set; }
    public bool SkipNonceCheck { get; set; }
    public string? AuthorizationUrl { get; set; }
    public string? TokenUrl { get; set; }
    public string? UserinfoUrl { get; set; }
    public string? JwksUri { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }

    /// GoTrue's JSON: `client_secret` and the discovery cache are left out; type-specific URLs only when set.
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["id"] = Id.ToString(),
            ["provider_type"] = ProviderType,
            ["identifier"] = Identifier,
            ["name"] = Name,
            ["client_id"] = ClientId,
            ["acceptable_client_ids"] = new JsonArray([.. AcceptableClientIds.Select(s => JsonValue.Create(s))]),
            ["scopes"] = new JsonArray([.. Scopes.Select(s => JsonValue.Create(s))]),
            ["pkce_enabled"] = PkceEnabled,
            ["attribute_mapping"] = JsonNode.Parse(AttributeMapping),
            ["authorization_params"] = JsonNode.Parse(AuthorizationParams),
            ["enabled"] = Enabled,
            ["email_optional"] = EmailOptional,
        };
        if (Issuer is not null) o["issuer"] = Issuer;
        if (DiscoveryUrl is not null) o["discovery_url"] = DiscoveryUrl;
        o["skip_nonce_check"] = SkipNonceCheck;
        if (AuthorizationUrl is not null) o["authorization_url"] = AuthorizationUrl;
        if (TokenUrl is not null) o["token_url"] = TokenUrl;
        if (UserinfoUrl is not null) o["userinfo_url"] = UserinfoUrl;
        if (JwksUri is not null) o["jwks_uri"] = JwksUri;
        o["created_at"] = DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ");
        o["updated_at"] = DateTime.SpecifyKind(UpdatedAt, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ");
        return o;
    }
}

internal static class CustomProviderQueries
{
    const string Columns =
        """
        id, provider_type, identifier, name, client_id, client_secret, acceptable_client_ids, scopes, pkce_enabled,
        attribute_mapping::text as attribute_mapping, authorization_params::text as authorization_params, enabled,
        email_optional, issuer, discovery_url, skip_nonce_check, authorization_url, token_url, userinfo_url, jwks_uri,
        created_at, updated_at
        """;

    public static async Task<IReadOnlyList<CustomProviderRow>> ListAsync(NpgsqlConnection conn, string? type, CancellationToken ct) =>
        [.. await conn.QueryAsync<CustomProviderRow>(new CommandDefinition(
            $"select {Columns} from auth.custom_oauth_providers where @type::text is null or provider_type = @type order by created_at desc",
            new { type }, cancellationToken: ct))];

    public static Task<CustomProviderRow?> FindAsync(NpgsqlConnection conn, string identifier, bool forUpdate, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<CustomProviderRow>(new CommandDefinition(
            $"select {Columns} from auth.custom_oauth_providers where identifier = @identifier {(forUpdate ? "for update" : "")}",
            new { identifier }, cancellationToken: ct));

    public static Task<long> CountAsync(NpgsqlConnection conn, CancellationToken ct) =>
        conn.ExecuteScalarAsync<long>(new CommandDefinition("select count(*) from auth.custom_oauth_providers", cancellationToken: ct));

    /// Insert (a new id) or update all columns of the row.
    public static Task SaveAsync(NpgsqlConnection conn, CustomProviderRow row, bool insert, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(insert
            ? """
              insert into auth.custom_oauth_providers (id, provider_type, identifier, name, client_id, client_secret,
                  acceptable_client_ids, scopes, pkce_enabled, attribute_mapping, authorization_params, enabled, email_optional,
                  issuer, discovery_url, skip_nonce_check, authorization_url, token_url, userinfo_url, jwks_uri, created_at, updated_at)
              values (@Id, @ProviderType, @Identifier, @Name, @ClientId, @ClientSecret, @AcceptableClientIds, @Scopes, @PkceEnabled,
                  @AttributeMapping::jsonb, @AuthorizationParams::jsonb, @Enabled, @EmailOptional, @Issuer, @DiscoveryUrl,
                  @SkipNonceCheck, @AuthorizationUrl, @TokenUrl, @UserinfoUrl, @JwksUri, @CreatedAt, @UpdatedAt)
              """
            : """
              update auth.custom_oauth_providers set name = @Name, client_id = @ClientId, client_secret = @ClientSecret,
                  acceptable_client_ids = @AcceptableClientIds, scopes = @Scopes, pkce_enabled = @PkceEnabled,
                  attribute_mapping = @AttributeMapping::jsonb, authorization_params = @AuthorizationParams::jsonb,
                  enabled = @Enabled, email_optional = @EmailOptional, issuer = @Issuer, discovery_url = @DiscoveryUrl,
                  skip_nonce_check = @SkipNonceCheck, authorization_url = @AuthorizationUrl, token_url = @TokenUrl,
                  userinfo_url = @UserinfoUrl, jwks_uri = @JwksUri, updated_at = @UpdatedAt
              where id = @Id
              """, row, cancellationToken: ct));

    public static Task DeleteAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition("delete from auth.custom_oauth_providers where id = @id", new { id }, cancellationToken: ct));
}
