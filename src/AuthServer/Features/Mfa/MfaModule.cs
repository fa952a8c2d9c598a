using AuthServer.Config;

namespace AuthServer.Features.Mfa;

/// Multi-factor authentication: `GOTRUE_MFA_*` and the `/factors` routes.
internal static class MfaModule
{
    public static IServiceCollection AddMfa(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(MfaOptions.Load(env));

    public static void MapMfa(this IEndpointRouteBuilder app) => MfaEndpoints.MapRoutes(app);
}
