using AuthServer.Config;

namespace AuthServer.Sessions;

/// Sessions and refresh tokens: `GOTRUE_SECURITY_REFRESH_TOKEN_*`, `GOTRUE_SESSIONS_*`, and ours cookie
/// sessions (docs/beyond-gotrue.md "Cookie sessions").
internal static class SessionsModule
{
    public static IServiceCollection AddSessions(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(RefreshOptions.Load(env)).AddSingleton(CookieSessionOptions.Load(env))
            .AddSingleton<SessionIssuer>();
}
