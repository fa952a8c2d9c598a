using System.Text.Json.Nodes;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Disabled;

/// Optional GoTrue features this server does not build answer exactly as GoTrue does with them off
/// (api.md §2 †), never with a 404 page: SAML SSO and SCIM. Their enable flags only log a start-up
/// warning (UnbuiltFeatures), so "off" is the only state there is. Web3, passkeys, the OAuth 2.1 server and
/// custom OAuth providers are built; their disabled answers live in `Web3Grant` and their own modules.
internal static class DisabledFeatureEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        // GoTrue `requireSAMLEnabled` guards the whole /sso subrouter, before captcha and rate limits.
        app.Map("/sso", SamlDisabled);
        app.Map("/sso/{**rest}", SamlDisabled);


        // GoTrue `requireScimServerEnabled`.
        app.Map("/scim/v2", ScimDisabled);
        app.Map("/scim/v2/{**rest}", ScimDisabled);

        // GoTrue serves /admin/sso/providers whether SAML is on or not; listing and lookups answer
        // from the (empty unless adopted) tables, creating or changing one needs SAML, which is not built.
        app.MapGet("/admin/sso/providers", ListSsoProvidersAsync);
        app.MapPost("/admin/sso/providers", (AdminUser _) => SamlDisabled());
        app.MapMethods("/admin/sso/providers/{idpId}", ["GET", "PUT", "DELETE"], LoadSsoProviderAsync);
    }

    static IResult SamlDisabled() =>
        throw ApiError.NotFound(ErrorCode.SamlProviderDisabled, "SAML 2.0 is disabled");


    static IResult ScimDisabled() =>
        throw ApiError.NotFound(ErrorCode.FeatureDisabled, "SCIM server is disabled");

    static async Task<IResult> ListSsoProvidersAsync(AdminUser _, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        if (await conn.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select exists (select 1 from auth.sso_providers)", cancellationToken: ct)))
            return SamlDisabled(); // providers created by GoTrue on an adopted database: not rendered here
        return Results.Json(new JsonObject { ["items"] = new JsonArray() }, Json.Options);
    }

    /// GoTrue `loadSSOProvider`: `resource_<id>` or a UUID; anything unknown is "not found".
    static async Task<IResult> LoadSsoProviderAsync(AdminUser _, string idpId, NpgsqlDataSource db, CancellationToken ct)
    {
        const string resourcePrefix = "resource_";
        await using var conn = await db.OpenConnectionAsync(ct);
        bool exists;
        if (idpId.StartsWith(resourcePrefix, StringComparison.Ordinal))
            exists = await conn.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select exists (select 1 from auth.sso_providers where lower(resource_id) = lower(@resourceId))",
                new { resourceId = idpId[resourcePrefix.Length..] }, cancellationToken: ct));
        else
            exists = Guid.TryParse(idpId, out var id) && await conn.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select exists (select 1 from auth.sso_providers where id = @id)", new { id }, cancellationToken: ct));
        if (!exists)
            throw ApiError.NotFound(ErrorCode.SsoProviderNotFound, "SSO Identity Provider not found");
        return SamlDisabled();
    }
}
