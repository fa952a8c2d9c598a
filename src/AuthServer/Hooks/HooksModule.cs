using AuthServer.Config;

namespace AuthServer.Hooks;

/// `GOTRUE_HOOK_*`: auth hooks over HTTP or PostgreSQL functions (docs/hooks.md).
internal static class HooksModule
{
    public static IServiceCollection AddHooks(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(HookOptions.Load(env)).AddSingleton<HookRunner>();
}
