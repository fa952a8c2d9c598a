using AuthServer.Http;

namespace AuthServer.Features.Disabled;

/// Optional GoTrue features this server does not build answer exactly as GoTrue does with them off
/// (api.md §2 †), never with a 404 page: passkeys, the OAuth 2.1 server, custom OAuth
/// providers and SCIM. Their enable flags only log a start-up warning (UnbuiltFeatures), so "off" is
/// the only state there is. Web3 is built (Features/Web3); its disabled answers live in `Web3Grant`;
/// SAML SSO is built (Features/Sso), its disabled answers live in `SsoModule`.
internal static class DisabledFeatureEndpoints
{
    public static void MapDisabledFeatures(this IEndpointRouteBuilder app)
    {
        // GoTrue `requirePasskeyEnabled` guards the whole /passkeys subrouter, before authentication.
        app.Map("/passkeys", PasskeysDisabled);
        app.Map("/passkeys/{**rest}", PasskeysDisabled);

        // GoTrue `requireOAuthServerEnabled`: /oauth/* and the metadata document before anything else,
        // the grant routes after user authentication, the client admin routes after admin checks.
        app.Map("/oauth", OAuthServerDisabled);
        app.Map("/oauth/{**rest}", OAuthServerDisabled);
        app.MapGet("/.well-known/oauth-authorization-server", OAuthServerDisabled);
        app.MapMethods("/user/oauth/grants", ["GET", "DELETE"], (AuthUser _) => OAuthServerDisabled());
        app.Map("/admin/oauth", (AdminUser _) => OAuthServerDisabled());
        app.Map("/admin/oauth/{**rest}", (AdminUser _) => OAuthServerDisabled());

        // GoTrue `requireCustomOAuthEnabled`, after admin checks.
        app.Map("/admin/custom-providers", (AdminUser _) => CustomProvidersDisabled());
        app.Map("/admin/custom-providers/{**rest}", (AdminUser _) => CustomProvidersDisabled());

        // GoTrue `requireScimServerEnabled`.
        app.Map("/scim/v2", ScimDisabled);
        app.Map("/scim/v2/{**rest}", ScimDisabled);
    }

    static IResult PasskeysDisabled() =>
        throw ApiError.NotFound(ErrorCode.PasskeyDisabled, "Passkeys are disabled");

    static IResult OAuthServerDisabled() =>
        throw ApiError.NotFound(ErrorCode.FeatureDisabled, "OAuth server is disabled");

    static IResult CustomProvidersDisabled() =>
        throw ApiError.NotFound(ErrorCode.FeatureDisabled, "Custom OAuth providers are disabled");

    static IResult ScimDisabled() =>
        throw ApiError.NotFound(ErrorCode.FeatureDisabled, "SCIM server is disabled");
}
