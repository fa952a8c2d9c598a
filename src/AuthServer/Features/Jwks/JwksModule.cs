namespace AuthServer.Features.Jwks;

/// The discovery area: JWKS and OpenID configuration. Keys are registered by Security/SecurityModule.
internal static class JwksModule
{
    public static void MapJwks(this IEndpointRouteBuilder app) => JwksEndpoints.MapRoutes(app);
}
