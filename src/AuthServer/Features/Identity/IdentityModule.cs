namespace AuthServer.Features.Identity;

/// The identity area: linking and unlinking identities. No settings or services of its own.
internal static class IdentityModule
{
    public static void MapIdentity(this IEndpointRouteBuilder app) => IdentityEndpoints.MapRoutes(app);
}
