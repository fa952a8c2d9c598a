using AuthServer.Config;

namespace AuthServer.RateLimits;

/// `GOTRUE_RATE_LIMIT_*`: PostgreSQL-backed buckets shared by all replicas (RateLimitMiddleware for the
/// per-route limits, RateLimiter for the ones features take themselves).
internal static class RateLimitsModule
{
    public static IServiceCollection AddRateLimits(this IServiceCollection services, EnvReader env)
    {
        var options = RateLimitOptions.Load(env);
        if (options.Header is not null && options.TrustedProxies.Count == 0)
            env.Warn("GOTRUE_RATE_LIMIT_HEADER is set but GOTRUE_RATE_LIMIT_TRUSTED_PROXIES is empty: per-IP limits use the socket address");
        return services.AddSingleton(options).AddSingleton<RateLimiter>().AddHostedService<RateLimitJanitor>();
    }
}
