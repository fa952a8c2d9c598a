using AuthServer.Config;
using AuthServer.Features.Captcha;
using AuthServer.Http;

namespace AuthServer.Features.Sso;

/// Enterprise SSO with SAML 2.0 (docs/sso-saml.md): the service provider routes under /sso and the
/// identity-provider administration under /admin/sso/providers.
internal static class SsoModule
{
    /// Loads `GOTRUE_SAML_*` (ConfigException naming the variable) and registers the options.
    public static IServiceCollection AddSso(this IServiceCollection services, EnvReader env)
    {
        var external = ApiOptions.Load(env).ExternalUrl;
        services.AddSingleton(SamlOptions.Load(env, external));
        return services;
    }

    public static void MapSso(this IEndpointRouteBuilder app)
    {
        // GoTrue serves the admin routes whether SAML is on or not.
        app.MapGet("/admin/sso/providers", SsoAdminEndpoints.ListAsync);
        app.MapPost("/admin/sso/providers", SsoAdminEndpoints.CreateAsync);
        app.MapGet("/admin/sso/providers/{idpId}", SsoAdminEndpoints.GetAsync);
        app.MapPut("/admin/sso/providers/{idpId}", SsoAdminEndpoints.UpdateAsync);
        app.MapDelete("/admin/sso/providers/{idpId}", SsoAdminEndpoints.DeleteAsync);

        if (!app.ServiceProvider.GetRequiredService<SamlOptions>().Enabled)
        {
            // GoTrue `requireSAMLEnabled` guards the whole /sso subrouter, before captcha and rate limits.
            app.Map("/sso", SamlDisabled);
            app.Map("/sso/{**rest}", SamlDisabled);
            return;
        }
        // POST /sso takes the `sso` rate limit in RateLimits/RateLimitMiddleware; the ACS its own bucket.
        app.MapPost("/sso", SsoEndpoints.SingleSignOnAsync).RequireCaptcha();
        app.MapGet("/sso/saml/metadata", SsoEndpoints.Metadata);
        app.MapPost("/sso/saml/acs", SsoEndpoints.AcsAsync);
    }

    static IResult SamlDisabled() =>
        throw ApiError.NotFound(ErrorCode.SamlProviderDisabled, "SAML 2.0 is disabled");
}
