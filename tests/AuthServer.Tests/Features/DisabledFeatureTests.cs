using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Features not built answer what GoTrue answers with them off (api.md §2 †), never a 404 page.</summary>
public sealed class DisabledFeatureTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static string ServiceRole() => Jwt.Sign(new JsonObject
    {
        ["role"] = "service_role",
        ["iss"] = "supabase",
        ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
    }, AuthServerFixture.JwtSecret);

    static HttpRequestMessage Request(string method, string path) =>
        new(new HttpMethod(method), path) { Content = method is "GET" or "DELETE" ? null : JsonContent.Create(new { }) };

    [Theory]
    [InlineData("POST", "/sso")]
    [InlineData("POST", "/auth/v1/sso")]
    [InlineData("GET", "/sso/saml/metadata")]
    [InlineData("POST", "/sso/saml/acs")]
    public async Task Sso_AnyRoute_Returns404SamlProviderDisabled(string method, string path)
    {
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(Request(method, path)), 404, "saml_provider_disabled", "SAML 2.0 is disabled");
    }

    [Theory]
    [InlineData("POST", "/passkeys/authentication/options")]
    [InlineData("POST", "/passkeys/authentication/verify")]
    [InlineData("POST", "/passkeys/registration/options")]
    [InlineData("GET", "/passkeys")]
    [InlineData("DELETE", "/passkeys/8b6f4c5e-8c1e-4c1e-9a59-3a4f5e6d7c8b")]
    public async Task Passkeys_AnyRoute_Returns404PasskeyDisabledBeforeAuthentication(string method, string path)
    {
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(Request(method, path)), 404, "passkey_disabled", "Passkeys are disabled");
    }

    [Theory]
    [InlineData("POST", "/oauth/token")]
    [InlineData("GET", "/oauth/authorize")]
    [InlineData("POST", "/oauth/clients/register")]
    [InlineData("GET", "/oauth/userinfo")]
    [InlineData("GET", "/.well-known/oauth-authorization-server")]
    public async Task OAuthServer_PublicRoutes_Return404FeatureDisabled(string method, string path)
    {
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(Request(method, path)), 404, "feature_disabled", "OAuth server is disabled");
    }

    [Fact]
    public async Task OAuthServer_UserGrants_RequireAuthenticationThenAnswerFeatureDisabled()
    {
        var (_, _, session) = await server.NewUserAsync("grants");

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user/oauth/grants"),
            401, "no_authorization", "This endpoint requires a valid Bearer token");
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync("/user/oauth/grants?client_id=x"),
            404, "feature_disabled", "OAuth server is disabled", bearer: (string)session["access_token"]!);
    }

    [Theory]
    [InlineData("GET", "/admin/oauth/clients", "OAuth server is disabled")]
    [InlineData("POST", "/admin/oauth/clients/3f0c6f8e-2c1b-4d7e-9a1f-5b6c7d8e9f00/regenerate_secret", "OAuth server is disabled")]
    public async Task AdminRoutesOfUnbuiltFeatures_CheckAdminFirstThenAnswerFeatureDisabled(string method, string path, string message)
    {
        var (_, _, session) = await server.NewUserAsync("not-admin");

        await server.AssertErrorBothShapesAsync(c => c.SendAsync(Request(method, path)),
            401, "no_authorization", "This endpoint requires a valid Bearer token");
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(Request(method, path)),
            403, "not_admin", "User not allowed", bearer: (string)session["access_token"]!);
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(Request(method, path)),
            404, "feature_disabled", message, bearer: ServiceRole());
    }

    [Fact]
    public async Task Scim_Returns404FeatureDisabled()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/scim/v2/Users"), 404, "feature_disabled", "SCIM server is disabled");
    }

    [Fact]
    public async Task AdminSsoProviders_ServedWithSamlOff_ListIsEmpty_LookupsAreNotFound()
    {
        using var admin = server.CreateClient(bearer: ServiceRole());

        ApiAssert.JsonEqual("""{"items":[]}""", await server.OkJsonAsync(await admin.GetAsync("/admin/sso/providers")));
        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/admin/sso/providers/{Guid.NewGuid()}"),
            404, "sso_provider_not_found", "SSO Identity Provider not found", bearer: ServiceRole());
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync("/admin/sso/providers/resource_acme"),
            404, "sso_provider_not_found", "SSO Identity Provider not found", bearer: ServiceRole());
        // GoTrue serves /admin/sso/providers whether SAML is on or not (SsoAdminTests cover the rest).
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/admin/sso/providers", new { type = "saml" }),
            400, "validation_failed", "Either metadata_xml or metadata_url must be set", bearer: ServiceRole());
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/sso/providers"),
            401, "no_authorization", "This endpoint requires a valid Bearer token");
    }

    [Fact]
    public async Task Token_Web3Grant_Returns422Web3ProviderDisabled()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/token?grant_type=web3", new { chain = "solana", message = "m", signature = "s" }),
            422, "web3_provider_disabled", "Web3 provider is disabled");
    }
}
