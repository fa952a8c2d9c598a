using AuthServer.Config;
using AuthServer.Http;

namespace AuthServer.Features.OAuthServer;

/// GoTrue conf `OAuthServerConfiguration` plus the dynamic-registration rate limit (`GOTRUE_RATE_LIMIT_*`).
internal sealed class OAuthServerOptions
{
    /// <summary>`GOTRUE_OAUTH_SERVER_ENABLED` (default false): this server is an OAuth 2.1 / OIDC provider.</summary>
    public bool Enabled { get; init; }
    /// <summary>`GOTRUE_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION` (default false): `POST /oauth/clients/register` (RFC 7591).</summary>
    public bool AllowDynamicRegistration { get; init; }
    /// <summary>`GOTRUE_OAUTH_SERVER_AUTHORIZATION_PATH`: the consent page on GOTRUE_SITE_URL that `/oauth/authorize`
    /// redirects to. Unset: `/oauth/authorize` sends the client `server_error` (as GoTrue).</summary>
    public string AuthorizationPath { get; init; } = "";
    /// <summary>`GOTRUE_OAUTH_SERVER_AUTHORIZATION_TTL` (default 10m): how long an authorization request and its code live.</summary>
    public TimeSpan AuthorizationTtl { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>`GOTRUE_OAUTH_SERVER_DEFAULT_SCOPE` (default `email`): the scope of a request that names none.</summary>
    public string DefaultScope { get; init; } = "email";
    /// <summary>`GOTRUE_RATE_LIMIT_O_AUTH_DYNAMIC_CLIENT_REGISTER` (or `…_OAUTH_…`, default 10): registrations per 5 min
    /// per client, burst 30, counted only when the per-client limits apply (GOTRUE_RATE_LIMIT_HEADER…).</summary>
    public Bucket RegisterBucket { get; init; } = new("oauth_client_register", 30, 10 / 300.0);

    public static OAuthServerOptions Load(EnvReader env)
    {
        var ttl = env.Duration("GOTRUE_OAUTH_SERVER_AUTHORIZATION_TTL") ?? TimeSpan.FromMinutes(10);
        if (ttl <= TimeSpan.Zero)
            throw new ConfigException("GOTRUE_OAUTH_SERVER_AUTHORIZATION_TTL: must be a positive duration");
        // envconfig splits `OAuth` into O_AUTH, so that is the name GoTrue reads; its comments spell it OAUTH.
        string[] rateNames = ["GOTRUE_RATE_LIMIT_O_AUTH_DYNAMIC_CLIENT_REGISTER", "GOTRUE_RATE_LIMIT_OAUTH_DYNAMIC_CLIENT_REGISTER"];
        var rate = env.String(rateNames);
        var perFiveMinutes = 10.0;
        if (rate is not null && (!double.TryParse(rate, System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out perFiveMinutes) || perFiveMinutes <= 0))
            throw new ConfigException($"{rateNames[0]}: '{rate}' is not a positive number");
        return new OAuthServerOptions
        {
            Enabled = env.Bool("GOTRUE_OAUTH_SERVER_ENABLED", false),
            AllowDynamicRegistration = env.Bool("GOTRUE_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION", false),
            AuthorizationPath = env.String("GOTRUE_OAUTH_SERVER_AUTHORIZATION_PATH") ?? "",
            AuthorizationTtl = ttl,
            DefaultScope = env.String("GOTRUE_OAUTH_SERVER_DEFAULT_SCOPE") ?? "email",
            RegisterBucket = new Bucket("oauth_client_register", 30, perFiveMinutes / 300.0),
        };
    }
}

/// The OAuth 2.1 / OpenID Connect provider mode (GoTrue internal/api/oauthserver, routes from api.go).
/// Off (the default), every route of the mode answers GoTrue's `requireOAuthServerEnabled` error.
internal static class OAuthServerModule
{
    public static IServiceCollection AddOAuthServer(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(OAuthServerOptions.Load(env));

    public static void MapOAuthServer(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<OAuthServerOptions>();
        if (!options.Enabled)
        {
            MapDisabled(app);
            return;
        }

        // GoTrue api.go: the metadata document is the discovery handler behind requireOAuthServerEnabled.
        app.MapGet("/.well-known/oauth-authorization-server", Jwks.JwksEndpoints.GetOpenIdConfiguration);

        app.MapPost("/admin/oauth/clients", ClientEndpoints.AdminRegisterAsync);
        app.MapGet("/admin/oauth/clients", ClientEndpoints.ListAsync);
        app.MapGet("/admin/oauth/clients/{clientId}", ClientEndpoints.GetAsync);
        app.MapPut("/admin/oauth/clients/{clientId}", ClientEndpoints.UpdateAsync);
        app.MapDelete("/admin/oauth/clients/{clientId}", ClientEndpoints.DeleteAsync);
        app.MapPost("/admin/oauth/clients/{clientId}/regenerate_secret", ClientEndpoints.RegenerateSecretAsync);
        app.MapPost("/oauth/clients/register", ClientEndpoints.DynamicRegisterAsync);

        app.MapGet("/oauth/authorize", AuthorizeEndpoints.AuthorizeAsync);
        app.MapGet("/oauth/authorizations/{authorizationId}", AuthorizeEndpoints.GetAuthorizationAsync);
        app.MapPost("/oauth/authorizations/{authorizationId}/consent", AuthorizeEndpoints.ConsentAsync);

        app.MapPost("/oauth/token", OAuthTokenEndpoint.TokenAsync);
        // GoTrue serves GET; OIDC Core §5.3.1 also allows POST, which openid-client may use.
        app.MapMethods("/oauth/userinfo", ["GET", "POST"], GrantEndpoints.UserInfoAsync);

        app.MapGet("/user/oauth/grants", GrantEndpoints.ListGrantsAsync);
        app.MapDelete("/user/oauth/grants", GrantEndpoints.RevokeGrantAsync);
    }

    /// GoTrue `requireOAuthServerEnabled`: /oauth/* and the metadata document before anything else, the
    /// grant routes after user authentication, the client admin routes after admin checks.
    static void MapDisabled(IEndpointRouteBuilder app)
    {
        app.Map("/oauth", Disabled);
        app.Map("/oauth/{**rest}", Disabled);
        app.MapGet("/.well-known/oauth-authorization-server", Disabled);
        app.MapMethods("/user/oauth/grants", ["GET", "DELETE"], (AuthUser _) => Disabled());
        app.Map("/admin/oauth", (AdminUser _) => Disabled());
        app.Map("/admin/oauth/{**rest}", (AdminUser _) => Disabled());
    }

    static IResult Disabled() => throw ApiError.NotFound(ErrorCode.FeatureDisabled, "OAuth server is disabled");
}
