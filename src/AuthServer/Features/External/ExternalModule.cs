using AuthServer.Config;

namespace AuthServer.Features.External;

/// `GOTRUE_EXTERNAL_*` OAuth/OIDC providers. The routes (`/authorize`, `/callback`) are mapped by
/// ExternalEndpoints.MapExternal.
internal static class ExternalModule
{
    public static IServiceCollection AddExternal(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(ExternalOptions.Load(env, env.Configuration, services.Registered<ApiOptions>().ExternalUrl));
}
