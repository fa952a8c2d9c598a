using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.Features.Sso;

/// `/admin/sso/providers` (GoTrue internal/api/ssoadmin.go): SAML identity providers by metadata XML or
/// URL, with their email domains, attribute mapping and NameID format. Served whether SAML is on or not,
/// as GoTrue does.
internal static class SsoAdminEndpoints
{
    static readonly string[] NameIdFormats = [Saml.PersistentNameId, Saml.EmailNameId, Saml.TransientNameId, Saml.UnspecifiedNameId];

    sealed record ProviderRequest(string? Type, string? MetadataUrl, string? MetadataXml, List<string>? Domains,
        JsonNode? AttributeMapping, string? NameIdFormat, string? ResourceId, bool? Disabled);

    public static async Task<IResult> ListAsync(AdminUser _, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var query = http.Request.Query;
        string? Filter(string key) => query[key].ToString() is { Length: > 0 } v ? v : null;
        await using var conn = await db.OpenConnectionAsync(ct);
        var providers = await SsoQueries.ListAsync(conn, Filter("resource_id"), Filter("resource_id_prefix"), ct);
        return Results.Json(new JsonObject
        {
            ["items"] = new JsonArray([.. providers.Select(p => (JsonNode)p.ToJson(withMetadataXml: false))]),
        }, Json.Options);
    }

    public static async Task<IResult> CreateAsync(AdminUser _, HttpContext http, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<ProviderRequest>(http.Request, ct);
        Validate(body, forUpdate: false);
        var mapping = NormalizeMapping(body.AttributeMapping);
        var (raw, metadata) = await MetadataAsync(http.RequestServices, body, ct);

        await using var conn = await db.OpenConnectionAsync(ct);
        if (await SsoQueries.FindByEntityIdAsync(conn, metadata.EntityId, ct) is not null)
            throw ApiError.Unprocessable(ErrorCode.SamlIdpAlreadyExists,
                $"SAML Identity Provider with this EntityID ({metadata.EntityId}) already exists");
        var domains = body.Domains ?? [];
        foreach (var domain in domains)
            if (await SsoQueries.FindByDomainAsync(conn, domain, ct) is { } owner)
                throw ApiError.BadRequest(ErrorCode.SsoDomainAlreadyExists,
                    $"SSO Domain '{domain}' is already assigned to an SSO identity provider ({owner.Id})");

        var id = Guid.NewGuid();
        var now = clock.GetUtcNow().UtcDateTime;
        try
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            await SsoQueries.CreateAsync(conn, id, body.ResourceId, body.Disabled, metadata.EntityId, raw,
                string.IsNullOrEmpty(body.MetadataUrl) ? null : body.MetadataUrl, mapping.ToJsonString(),
                string.IsNullOrEmpty(body.NameIdFormat) ? null : body.NameIdFormat, domains, now, ct);
            await tx.CommitAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.CheckViolation)
        {
            // Two creates racing for one EntityID, domain or resource_id, or an empty one: GoTrue answers 500 here.
            throw new ApiError(422, ErrorCode.Conflict, "Creating SSO provider failed, likely due to a conflict. Try again?", e);
        }
        var created = (await SsoQueries.FindByIdAsync(conn, id, ct))!;
        return Results.Json(created.ToJson(), Json.Options, statusCode: StatusCodes.Status201Created);
    }

    public static async Task<IResult> GetAsync(AdminUser _, string idpId, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return Results.Json((await LoadAsync(conn, idpId, ct)).ToJson(), Json.Options);
    }

    public static async Task<IResult> UpdateAsync(AdminUser _, string idpId, HttpContext http, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var provider = await LoadAsync(conn, idpId, ct);
        var body = await BodyReader.ReadAsync<ProviderRequest>(http.Request, ct);
        Validate(body, forUpdate: true);
        var mapping = NormalizeMapping(body.AttributeMapping);
        var modified = false;
        var metadataXml = provider.MetadataXml;
        var metadataUrl = provider.MetadataUrl;
        if (!string.IsNullOrEmpty(body.MetadataXml) || !string.IsNullOrEmpty(body.MetadataUrl))
        {
            var (raw, metadata) = await MetadataAsync(http.RequestServices, body, ct);
            if (metadata.EntityId != provider.EntityId)
                throw ApiError.BadRequest(ErrorCode.SamlEntityIdMismatch,
                    $"SAML Metadata can be updated only if the EntityID matches for the provider; expected '{provider.EntityId}' but got '{metadata.EntityId}'");
            if (!string.IsNullOrEmpty(body.MetadataUrl)) metadataUrl = body.MetadataUrl;
            metadataXml = raw;
            modified = true;
        }

        // Domains change only when given (`[]` removes them all); each must be free or already ours.
        if (body.Domains is { } domains)
        {
            foreach (var domain in domains)
                if (await SsoQueries.FindByDomainAsync(conn, domain, ct) is { } owner && owner.Id != provider.Id)
                    throw ApiError.BadRequest(ErrorCode.SsoDomainAlreadyExists,
                        $"SSO domain '{domain}' already assigned to another provider ({owner.Id})");
            if (!domains.ToHashSet().SetEquals(provider.Domains)) modified = true;
        }

        var attributeMapping = provider.AttributeMapping;
        if (mapping.ContainsKey("keys") && !JsonNode.DeepEquals(mapping, NormalizeMapping(provider.AttributeMappingJson())))
        {
            attributeMapping = mapping.ToJsonString();
            modified = true;
        }
        // As GoTrue: an absent name_id_format clears a stored one.
        var nameIdFormat = string.IsNullOrEmpty(body.NameIdFormat) ? null : body.NameIdFormat;
        if (nameIdFormat != provider.NameIdFormat) modified = true;
        var resourceId = provider.ResourceId;
        if (body.ResourceId is { } requested && requested != (provider.ResourceId ?? ""))
        {
            resourceId = requested.Length == 0 ? null : requested;
            modified = true;
        }
        var disabled = provider.Disabled;
        if (body.Disabled is { } off && off != provider.Disabled)
        {
            disabled = off;
            modified = true;
        }

        if (modified)
        {
            var updated = new SsoProviderRow
            {
                Id = provider.Id,
                ResourceId = resourceId,
                Disabled = disabled,
                MetadataXml = metadataXml,
                MetadataUrl = metadataUrl,
                AttributeMapping = attributeMapping,
                NameIdFormat = nameIdFormat,
            };
            try
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                await SsoQueries.UpdateAsync(conn, updated, body.Domains, clock.GetUtcNow().UtcDateTime, ct);
                await tx.CommitAsync(ct);
            }
            catch (PostgresException e)
            {
                throw new ApiError(422, ErrorCode.Conflict, "Updating SSO provider failed, likely due to a conflict. Try again?", e);
            }
            provider = (await SsoQueries.FindByIdAsync(conn, provider.Id, ct))!;
        }
        return Results.Json(provider.ToJson(), Json.Options);
    }

    public static async Task<IResult> DeleteAsync(AdminUser _, string idpId, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var provider = await LoadAsync(conn, idpId, ct);
        await SsoQueries.DeleteAsync(conn, provider.Id, ct);
        return Results.Json(provider.ToJson(), Json.Options);
    }

    /// GoTrue `loadSSOProvider`: `resource_<id>` or a UUID; anything unknown is "not found".
    static async Task<SsoProviderRow> LoadAsync(NpgsqlConnection conn, string idpId, CancellationToken ct)
    {
        const string resourcePrefix = "resource_";
        var provider = idpId.StartsWith(resourcePrefix, StringComparison.Ordinal)
            ? await SsoQueries.FindByResourceIdAsync(conn, idpId[resourcePrefix.Length..], ct)
            : Guid.TryParse(idpId, out var id) ? await SsoQueries.FindByIdAsync(conn, id, ct) : null;
        return provider ?? throw ApiError.NotFound(ErrorCode.SsoProviderNotFound, "SSO Identity Provider not found");
    }

    /// GoTrue `CreateSSOProviderParams.validate`.
    static void Validate(ProviderRequest body, bool forUpdate)
    {
        var url = body.MetadataUrl ?? "";
        var xml = body.MetadataXml ?? "";
        if (!forUpdate && body.Type != "saml")
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only 'saml' supported for SSO provider type");
        if (url.Length > 0 && xml.Length > 0)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only one of metadata_xml or metadata_url needs to be set");
        if (!forUpdate && url.Length == 0 && xml.Length == 0)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Either metadata_xml or metadata_url must be set");
        if (url.Length > 0)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed))
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "metadata_url is not a valid URL");
            if (parsed.Scheme != "https")
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "metadata_url is not a HTTPS URL");
        }
        if (!string.IsNullOrEmpty(body.NameIdFormat) && !NameIdFormats.Contains(body.NameIdFormat))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed,
                "name_id_format must be unspecified or one of " + string.Join(", ", NameIdFormats));
    }

    /// `models.SAMLAttributeMapping` as GoTrue stores it: `{"keys": {key: {name, names, default, array}}}`, empty
    /// fields left out; a wrong type is a JSON error, as Go's decoder makes it.
    static JsonObject NormalizeMapping(JsonNode? node)
    {
        static ApiError Bad(string what) =>
            ApiError.BadRequest(ErrorCode.BadJson, "Could not parse request body as JSON: attribute_mapping " + what);
        var result = new JsonObject();
        if (node is null) return result;
        if (node is not JsonObject mapping) throw Bad("must be an object");
        if (mapping["keys"] is null) return result;
        if (mapping["keys"] is not JsonObject keys) throw Bad("keys must be an object");
        var normalized = new JsonObject();
        foreach (var (key, value) in keys)
        {
            if (value is null) { normalized[key] = new JsonObject(); continue; }
            if (value is not JsonObject attribute) throw Bad($"keys.{key} must be an object");
            var entry = new JsonObject();
            if (attribute["name"] is { } name)
            {
                if (name is not JsonValue n || !n.TryGetValue<string>(out var s)) throw Bad($"keys.{key}.name must be a string");
                if (s.Length > 0) entry["name"] = s;
            }
            if (attribute["names"] is { } names)
            {
                if (names is not JsonArray list || list.Any(x => x is not JsonValue v || !v.TryGetValue<string>(out _)))
                    throw Bad($"keys.{key}.names must be a list of strings");
                if (list.Count > 0) entry["names"] = list.DeepClone();
            }
            if (attribute["default"] is { } fallback) entry["default"] = fallback.DeepClone();
            if (attribute["array"] is { } array)
            {
                if (array is not JsonValue a || !a.TryGetValue<bool>(out var isArray)) throw Bad($"keys.{key}.array must be a boolean");
                if (isArray) entry["array"] = true;
            }
            normalized[key] = entry;
        }
        result["keys"] = normalized;
        return result;
    }

    static async Task<(string Raw, IdpMetadata Metadata)> MetadataAsync(IServiceProvider services, ProviderRequest body,
        CancellationToken ct)
    {
        var raw = !string.IsNullOrEmpty(body.MetadataXml) ? body.MetadataXml
            : await FetchMetadataAsync(services, body.MetadataUrl!, ct);
        return (raw, IdpMetadata.Parse(raw));
    }

    /// GoTrue `fetchSAMLMetadata`: GET with an XML Accept header; anything but 200 is refused. Ours: a timeout
    /// and a size cap, and network failures are 400 `saml_metadata_fetch_failed` instead of a 500.
    public static async Task<string> FetchMetadataAsync(IServiceProvider services, string url, CancellationToken ct)
    {
        using var client = services.GetRequiredService<IHttpClientFactory>().CreateClient("saml-metadata");
        client.Timeout = TimeSpan.FromSeconds(10);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("Accept", "application/xml;charset=UTF-8");
            request.Headers.TryAddWithoutValidation("Accept-Charset", "UTF-8");
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if ((int)response.StatusCode != 200)
                throw ApiError.BadRequest(ErrorCode.SamlMetadataFetchFailed,
                    $"HTTP {(int)response.StatusCode} error fetching SAML Metadata from URL '{url}'");
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, ct)) > 0)
            {
                if (buffer.Length + read > Saml.MaxXmlChars)
                    throw ApiError.BadRequest(ErrorCode.SamlMetadataFetchFailed, $"SAML Metadata from URL '{url}' is too large");
                buffer.Write(chunk, 0, read);
            }
            return DecodeUtf8(buffer.ToArray());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            throw new ApiError(400, ErrorCode.SamlMetadataFetchFailed, $"Error fetching SAML Metadata from URL '{url}'", e);
        }
    }

    /// GoTrue refuses metadata that is not valid UTF-8.
    static string DecodeUtf8(byte[] bytes)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw ApiError.BadRequest(ErrorCode.ValidationFailed,
                "SAML Metadata XML contains invalid UTF-8 characters, which are not supported at this time");
        }
    }
}
