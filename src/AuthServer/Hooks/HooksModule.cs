using AuthServer.Config;

namespace AuthServer.Hooks;

/// `GOTRUE_HOOK_*`: auth hooks over HTTP or PostgreSQL functions (README "Auth hooks").
internal static class HooksModule
{
    public static IServiceCollection AddHooks(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(HookOptions.Load(env)).AddSingleton<HookRunner>();
}
