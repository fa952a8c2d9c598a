using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Sso;

/// An `auth.sso_providers` row with its `auth.saml_providers` row and domains (GoTrue `models.SSOProvider`,
/// loaded eagerly).
internal sealed class SsoProviderRow
{
    public Guid Id { get; init; }
    public string? ResourceId { get; init; }
    public bool? Disabled { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
    public Guid SamlId { get; init; }
    public string EntityId { get; init; } = "";
    public string MetadataXml { get; init; } = "";
    public string? MetadataUrl { get; init; }
    public string? AttributeMapping { get; init; }
    public string? NameIdFormat { get; init; }
    public DateTime SamlUpdatedAt { get; init; }
    public List<string> Domains { get; set; } = [];

    public bool IsEnabled => Disabled != true;
    /// GoTrue `SSOProvider.ProviderType`: identities and app_metadata name the provider `sso:<id>`.
    public string ProviderType => "sso:" + Id;

    /// GoTrue's JSON for a provider; the list leaves `metadata_xml` out "so that the returned JSON is not ginormous".
    public JsonObject ToJson(bool withMetadataXml = true)
    {
        var saml = new JsonObject { ["entity_id"] = EntityId };
        if (withMetadataXml) saml["metadata_xml"] = MetadataXml;
        if (MetadataUrl is not null) saml["metadata_url"] = MetadataUrl;
        saml["attribute_mapping"] = AttributeMappingJson();
        if (NameIdFormat is not null) saml["name_id_format"] = NameIdFormat;
        var json = new JsonObject { ["id"] = Id.ToString() };
        if (ResourceId is not null) json["resource_id"] = ResourceId;
        json["disabled"] = Disabled;
        json["saml"] = saml;
        json["domains"] = new JsonArray([.. Domains.Select(d => (JsonNode)new JsonObject { ["domain"] = d })]);
        json["created_at"] = DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc);
        json["updated_at"] = DateTime.SpecifyKind(UpdatedAt, DateTimeKind.Utc);
        return json;
    }

    public JsonObject AttributeMappingJson() =>
        AttributeMapping is { Length: > 0 } text && JsonNode.Parse(text) is JsonObject mapping ? mapping : new JsonObject();
}

internal static class SsoQueries
{
    const string Select = """
        select p.id, p.resource_id, p.disabled, p.created_at, p.updated_at, s.id as saml_id, s.entity_id, s.metadata_xml,
            s.metadata_url, s.attribute_mapping::text as attribute_mapping, s.name_id_format, s.updated_at as saml_updated_at
        from auth.sso_providers p join auth.saml_providers s on s.sso_provider_id = p.id
        """;

    public static Task<SsoProviderRow?> FindByIdAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        OneAsync(conn, Select + " where p.id = @id", new { id }, ct);

    public static Task<SsoProviderRow?> FindByResourceIdAsync(NpgsqlConnection conn, string resourceId, CancellationToken ct) =>
        OneAsync(conn, Select + " where lower(p.resource_id) = lower(@resourceId)", new { resourceId }, ct);

    public static Task<SsoProviderRow?> FindByEntityIdAsync(NpgsqlConnection conn, string entityId, CancellationToken ct) =>
        OneAsync(conn, Select + " where s.entity_id = @entityId", new { entityId }, ct);

    public static Task<SsoProviderRow?> FindByDomainAsync(NpgsqlConnection conn, string domain, CancellationToken ct) =>
        OneAsync(conn, Select + " where p.id = (select sso_provider_id from auth.sso_domains where lower(domain) = lower(@domain))",
            new { domain }, ct);

    /// GoTrue `FindAllSSOProvidersByFilter`: `resource_id` (exact) or `resource_id_prefix`.
    public static async Task<List<SsoProviderRow>> ListAsync(NpgsqlConnection conn, string? resourceId, string? prefix,
        CancellationToken ct)
    {
        var where = resourceId is not null ? " where p.resource_id = @resourceId"
            : prefix is not null ? " where p.resource_id like @pattern escape '\\'" : "";
        var pattern = prefix is null ? null : prefix.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%";
        var rows = (await conn.QueryAsync<SsoProviderRow>(new CommandDefinition(
            Select + where + " order by p.created_at, p.id", new { resourceId, pattern }, cancellationToken: ct))).AsList();
        await LoadDomainsAsync(conn, rows, ct);
        return rows;
    }

    static async Task<SsoProviderRow?> OneAsync(NpgsqlConnection conn, string sql, object args, CancellationToken ct)
    {
        var row = await conn.QuerySingleOrDefaultAsync<SsoProviderRow>(new CommandDefinition(sql, args, cancellationToken: ct));
        if (row is not null) await LoadDomainsAsync(conn, [row], ct);
        return row;
    }

    static async Task LoadDomainsAsync(NpgsqlConnection conn, List<SsoProviderRow> rows, CancellationToken ct)
    {
        if (rows.Count == 0) return;
        var domains = await conn.QueryAsync<(Guid ProviderId, string Domain)>(new CommandDefinition(
            "select sso_provider_id, domain from auth.sso_domains where sso_provider_id = any(@ids) order by created_at, domain",
            new { ids = rows.Select(r => r.Id).ToArray() }, cancellationToken: ct));
        var byProvider = domains.ToLookup(d => d.ProviderId, d => d.Domain);
        foreach (var row in rows) row.Domains = [.. byProvider[row.Id]];
    }

    /// The provider, its SAML connection and its domains in one statement.
    public static Task CreateAsync(NpgsqlConnection conn, Guid id, string? resourceId, bool? disabled, string entityId,
        string metadataXml, string? metadataUrl, string attributeMapping, string? nameIdFormat, IReadOnlyList<string> domains,
        DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.sso_providers (id, resource_id, disabled, created_at, updated_at)
            values (@id, @resourceId, @disabled, @now, @now);
            insert into auth.saml_providers (id, sso_provider_id, entity_id, metadata_xml, metadata_url, attribute_mapping,
                name_id_format, created_at, updated_at)
            values (gen_random_uuid(), @id, @entityId, @metadataXml, @metadataUrl, @attributeMapping::jsonb, @nameIdFormat, @now, @now);
            insert into auth.sso_domains (id, sso_provider_id, domain, created_at, updated_at)
            select gen_random_uuid(), @id, d, @now, @now from unnest(@domains::text[]) d;
            """,
            new { id, resourceId, disabled, entityId, metadataXml, metadataUrl, attributeMapping, nameIdFormat, domains = domains.ToArray(), now },
            cancellationToken: ct));

    public static Task UpdateAsync(NpgsqlConnection conn, SsoProviderRow p, IReadOnlyList<string>? domains, DateTime now,
        CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.sso_providers set resource_id = @ResourceId, disabled = @Disabled, updated_at = @now where id = @Id;
            update auth.saml_providers set metadata_xml = @MetadataXml, metadata_url = @MetadataUrl,
                attribute_mapping = @AttributeMapping::jsonb, name_id_format = @NameIdFormat, updated_at = @now
            where sso_provider_id = @Id;
            delete from auth.sso_domains where sso_provider_id = @Id and @replaceDomains and not (domain = any(@domains::text[]));
            insert into auth.sso_domains (id, sso_provider_id, domain, created_at, updated_at)
            select gen_random_uuid(), @Id, d, @now, @now from unnest(@domains::text[]) d
            where @replaceDomains and not exists (select 1 from auth.sso_domains x where x.sso_provider_id = @Id and x.domain = d);
            """,
            new
            {
                p.Id,
                p.ResourceId,
                p.Disabled,
                p.MetadataXml,
                p.MetadataUrl,
                p.AttributeMapping,
                p.NameIdFormat,
                replaceDomains = domains is not null,
                domains = (domains ?? []).ToArray(),
                now,
            }, cancellationToken: ct));

    /// Refreshed metadata from the provider's metadata_url (GoTrue updates `metadata_xml` and `updated_at`).
    public static Task UpdateMetadataAsync(NpgsqlConnection conn, Guid samlId, string metadataXml, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.saml_providers set metadata_xml = @metadataXml, updated_at = @now where id = @samlId",
            new { samlId, metadataXml, now }, cancellationToken: ct));

    public static Task DeleteAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition("delete from auth.sso_providers where id = @id", new { id }, cancellationToken: ct));

    public sealed class RelayStateRow
    {
        public Guid Id { get; init; }
        public Guid SsoProviderId { get; init; }
        public string RequestId { get; init; } = "";
        public string? RedirectTo { get; init; }
        public DateTime CreatedAt { get; init; }
        public Guid? FlowStateId { get; init; }
    }

    public static Task CreateRelayStateAsync(NpgsqlConnection conn, Guid id, Guid providerId, string requestId, string? redirectTo,
        Guid? flowStateId, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.saml_relay_states (id, sso_provider_id, request_id, redirect_to, flow_state_id, created_at, updated_at)
            values (@id, @providerId, @requestId, @redirectTo, @flowStateId, @now, @now)
            """, new { id, providerId, requestId, redirectTo, flowStateId, now }, cancellationToken: ct));

    /// Deletes and returns the relay state: whoever deletes it first may use it, so it answers one response.
    public static Task<RelayStateRow?> TakeRelayStateAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<RelayStateRow>(new CommandDefinition(
            """
            delete from auth.saml_relay_states where id = @id
            returning id, sso_provider_id, request_id, redirect_to, created_at, flow_state_id
            """, new { id }, cancellationToken: ct));
}
