using AuthServer.Config;

namespace AuthServer.Features.CustomProviders;

/// <summary>`GOTRUE_CUSTOM_OAUTH_*` (GoTrue `conf.CustomOAuthConfiguration`).</summary>
internal sealed class CustomOAuthOptions
{
    /// <summary>`GOTRUE_CUSTOM_OAUTH_ENABLED` (default true, as GoTrue's): the admin routes and `provider=custom:&lt;identifier&gt;`.</summary>
    public bool Enabled { get; init; } = true;
    /// <summary>`GOTRUE_CUSTOM_OAUTH_MAX_PROVIDERS` (0: no limit).</summary>
    public int MaxProviders { get; init; }
    /// <summary>`GOTRUE_CUSTOM_OAUTH_EXTERNAL_URL`: the base of custom providers' `/callback`, else API_EXTERNAL_URL.</summary>
    public string? ExternalUrl { get; init; }
}

/// Admin-defined OAuth 2.0 / OIDC providers (GoTrue `custom_oauth_admin.go`); their sign-in flow is the
/// External area's, by `provider=custom:<identifier>` (External/ExternalProviders).
internal static class CustomProvidersModule
{
    public static IServiceCollection AddCustomProviders(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(new CustomOAuthOptions
        {
            Enabled = env.Bool("GOTRUE_CUSTOM_OAUTH_ENABLED", true),
            MaxProviders = env.Int("GOTRUE_CUSTOM_OAUTH_MAX_PROVIDERS", 0, 0),
            ExternalUrl = env.String("GOTRUE_CUSTOM_OAUTH_EXTERNAL_URL"),
        });

    public static void MapCustomProviders(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/custom-providers", CustomProviderEndpoints.ListAsync);
        app.MapPost("/admin/custom-providers", CustomProviderEndpoints.CreateAsync);
        app.MapGet("/admin/custom-providers/{identifier}", CustomProviderEndpoints.GetAsync);
        app.MapPut("/admin/custom-providers/{identifier}", CustomProviderEndpoints.UpdateAsync);
        app.MapDelete("/admin/custom-providers/{identifier}", CustomProviderEndpoints.DeleteAsync);
    }
}
