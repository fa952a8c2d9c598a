using AuthServer.Config;
using AuthServer.Sessions;
using Microsoft.AspNetCore.Cors.Infrastructure;

namespace AuthServer.Http;

/// CORS. GoTrue (internal/api/api.go, rs/cors with no AllowedOrigins and AllowCredentials) answers every
/// origin with that origin and `Access-Control-Allow-Credentials: true`; so do we, which is harmless
/// while the server never reads cookies. With cookie sessions on it would let any origin's script make
/// requests that carry the user's cookies and read the answers (security review 2026-12, M-4), so then
/// only the origins trusted with the cookies (Sessions/CookieOrigins) get credentials; the others keep
/// plain CORS, enough for bearer-token clients, without cookies.
internal static class CorsSetup
{
    public static IServiceCollection AddGoTrueCors(this IServiceCollection services) =>
        services.AddSingleton<ICorsPolicyProvider, PolicyProvider>().AddCors(); // AddCors keeps ours (TryAdd)

    static CorsPolicy Policy(bool credentials)
    {
        var policy = new CorsPolicyBuilder().SetIsOriginAllowed(_ => true)
            // PATCH is ours (/profile); every header, as supabase-js sends `apikey` (a gateway's in GoTrue's setup).
            .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
            .AllowAnyHeader()
            .WithExposedHeaders("X-Total-Count", "Link", ApiVersion.Header, "Retry-After");
        return (credentials ? policy.AllowCredentials() : policy.DisallowCredentials()).Build();
    }

    sealed class PolicyProvider(ApiOptions api, CookieSessionOptions cookies) : ICorsPolicyProvider
    {
        static readonly CorsPolicy WithCredentials = Policy(credentials: true);
        static readonly CorsPolicy WithoutCredentials = Policy(credentials: false);

        public Task<CorsPolicy?> GetPolicyAsync(HttpContext context, string? policyName) =>
            Task.FromResult<CorsPolicy?>(!cookies.Enabled
                || CookieOrigins.IsAllowed(api, cookies, context.Request.Headers.Origin.ToString())
                ? WithCredentials
                : WithoutCredentials);
    }
}
