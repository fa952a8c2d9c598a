using AuthServer.Http;

namespace AuthServer.Features.Disabled;

/// Optional GoTrue features this server does not build answer exactly as GoTrue does with them off
/// (api.md §2 †), never with a 404 page: SCIM. Its enable flag only logs a start-up warning
/// (UnbuiltFeatures), so "off" is the only state there is. Web3, passkeys, the OAuth 2.1 server, custom OAuth
/// providers and SAML SSO are built; their disabled answers live in `Web3Grant` and their own modules.
internal static class DisabledFeatureEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {

        // GoTrue `requireScimServerEnabled`.
        app.Map("/scim/v2", ScimDisabled);
        app.Map("/scim/v2/{**rest}", ScimDisabled);
    }


    static IResult ScimDisabled() =>
        throw ApiError.NotFound(ErrorCode.FeatureDisabled, "SCIM server is disabled");
}
