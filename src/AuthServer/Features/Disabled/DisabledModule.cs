using AuthServer.Config;

namespace AuthServer.Features.Disabled;

/// Features not built yet (SAML, passkeys, OAuth server, custom providers, SCIM): their enable flags only
/// log a start-up warning, and their routes answer as GoTrue's do with the feature off.
internal static class DisabledModule
{
    public static IServiceCollection AddDisabledFeatures(this IServiceCollection services, EnvReader env)
    {
        UnbuiltFeatures.WarnIfOn(env);
        return services;
    }

    public static void MapDisabledFeatures(this IEndpointRouteBuilder app) => DisabledFeatureEndpoints.MapRoutes(app);
}
