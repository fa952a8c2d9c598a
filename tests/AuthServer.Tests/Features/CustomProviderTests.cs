using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Web;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>`/admin/custom-providers` and `/authorize?provider=custom:&lt;identifier&gt;` (GoTrue custom_oauth_admin.go).</summary>
public sealed class CustomProviderTests(ProvidersFixture server) : IClassFixture<ProvidersFixture>
{
    static readonly string Admin = TestKeys.ServiceRoleKey();

    static object OAuth2(string identifier, object? extra = null) => new
    {
        provider_type = "oauth2",
        identifier,
        name = "Acme",
        client_id = "acme-client",
        client_secret = "acme-secret",
        scopes = new[] { "profile", "email" },
        authorization_url = "https://idp.acme.test/authorize",
        token_url = "https://idp.acme.test/token",
        userinfo_url = "https://idp.acme.test/userinfo",
        authorization_params = new { audience = "api" },
    };

    static string NewId() => "custom:acme-" + Guid.NewGuid().ToString("N")[..8];

    async Task<JsonObject> CreateAsync(object body)
    {
        using var client = server.CreateClient(bearer: Admin);
        var response = await client.PostAsJsonAsync("/admin/custom-providers", body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    [Fact]
    public async Task Create_Get_Update_Delete()
    {
        var id = NewId();
        var created = await CreateAsync(OAuth2(id));
        Assert.Equal(id, (string?)created["identifier"]);
        Assert.Equal("oauth2", (string?)created["provider_type"]);
        Assert.True((bool)created["pkce_enabled"]!);
        Assert.True((bool)created["enabled"]!);
        Assert.Null(created["client_secret"]);
        Assert.Null(created["issuer"]);
        var stored = await server.Db.ScalarAsync<string>("select client_secret from auth.custom_oauth_providers where identifier = @id", new { id });
        Assert.DoesNotContain("acme-secret", stored); // encrypted at rest
        Assert.StartsWith("{", stored);

        using var client = server.CreateClient(bearer: Admin);
        var got = await server.OkJsonAsync(await client.GetAsync($"/admin/custom-providers/{id}"));
        Assert.Equal("Acme", (string?)got["name"]);
        var list = await server.OkJsonAsync(await client.GetAsync("/admin/custom-providers?type=oauth2"));
        Assert.Contains(list["providers"]!.AsArray(), p => (string?)p!["identifier"] == id);

        var updated = await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/custom-providers/{id}", new { name = "Acme 2", enabled = false }));
        Assert.Equal("Acme 2", (string?)updated["name"]);
        Assert.False((bool)updated["enabled"]!);

        await ApiAssert.NoContentAsync(await client.DeleteAsync($"/admin/custom-providers/{id}"));
        await ApiAssert.ErrorAsync(await client.GetAsync($"/admin/custom-providers/{id}"), 404, "provider_not_found",
            "Custom OAuth provider not found");
    }

    [Fact]
    public async Task Oidc_OpenIdScopeAdded()
    {
        var created = await CreateAsync(new
        {
            provider_type = "oidc",
            identifier = NewId(),
            name = "Corp",
            client_id = "c",
            client_secret = "s",
            issuer = "https://login.corp.test",
            scopes = new[] { "email" },
        });

        Assert.Equal("[\"openid\",\"email\"]", created["scopes"]!.ToJsonString());
        Assert.Equal("https://login.corp.test", (string?)created["issuer"]);
    }

    [Theory]
    [InlineData("{\"provider_type\":\"saml\",\"identifier\":\"custom:x1\"}", "provider_type must be either 'oauth2' or 'oidc'")]
    [InlineData("{\"provider_type\":\"oauth2\",\"identifier\":\"acme\",\"name\":\"A\",\"client_id\":\"c\",\"client_secret\":\"s\"}", "identifier must start with 'custom:' prefix, e.g. 'custom:acme'")]
    [InlineData("{\"provider_type\":\"oauth2\",\"identifier\":\"custom:x2\",\"name\":\"A\",\"client_id\":\"c\",\"client_secret\":\"s\"}", "authorization_url is required for OAuth2 providers")]
    [InlineData("{\"provider_type\":\"oidc\",\"identifier\":\"custom:x3\",\"name\":\"A\",\"client_id\":\"c\",\"client_secret\":\"s\"}", "issuer is required for OIDC providers")]
    [InlineData("{\"provider_type\":\"oidc\",\"identifier\":\"custom:x4\",\"name\":\"A\",\"client_id\":\"c\",\"client_secret\":\"s\",\"issuer\":\"http://login.corp.test\"}", "URL must use HTTPS: http://login.corp.test")]
    [InlineData("{\"provider_type\":\"oidc\",\"identifier\":\"custom:x5\",\"name\":\"A\",\"client_id\":\"c\",\"client_secret\":\"s\",\"issuer\":\"https://i.test\",\"authorization_params\":{\"state\":\"x\"}}", "Cannot override reserved OAuth parameter: state")]
    [InlineData("{\"provider_type\":\"oidc\",\"identifier\":\"custom:x6\",\"name\":\"A\",\"client_id\":\"c\",\"client_secret\":\"s\",\"issuer\":\"https://i.test\",\"attribute_mapping\":{\"role\":\"groups\"}}", "Cannot map to protected system field: role")]
    public async Task Create_BadInput_ValidationFailed(string body, string message)
    {
        using var client = server.CreateClient(bearer: Admin);
        var response = await client.PostAsync("/admin/custom-providers", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await ApiAssert.ErrorAsync(response, 400, "validation_failed", message);
    }

    [Fact]
    public async Task Create_DuplicateIdentifier_Conflict()
    {
        var id = NewId();
        await CreateAsync(OAuth2(id));
        using var client = server.CreateClient(bearer: Admin);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/admin/custom-providers", OAuth2(id)), 400, "conflict",
            "A custom OAuth provider with this identifier already exists");
    }

    [Fact]
    public async Task Authorize_CustomOAuth2_RedirectsWithStoredScopesParamsAndPkce()
    {
        var id = NewId();
        await CreateAsync(OAuth2(id));
        using var client = server.CreateClient();

        var response = await client.GetAsync($"/authorize?provider={id}");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith("https://idp.acme.test/authorize?", location.ToString());
        var q = HttpUtility.ParseQueryString(location.Query);
        Assert.Equal("acme-client", q["client_id"]);
        Assert.Equal("profile email", q["scope"]);
        Assert.Equal("api", q["audience"]);
        Assert.Equal("S256", q["code_challenge_method"]);
        Assert.Equal(id, await server.Db.ScalarAsync<string>("select provider_type from auth.flow_state where id = @s::uuid", new { s = q["state"] }));
    }

    [Fact]
    public async Task Authorize_UnknownOrDisabledCustomProvider_Unsupported()
    {
        var id = NewId();
        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/authorize?provider={id}"), 400, "validation_failed",
            $"Unsupported provider: custom provider {id} not found");
        await CreateAsync(OAuth2(id));
        using var admin = server.CreateClient(bearer: Admin);
        await server.OkJsonAsync(await admin.PutAsJsonAsync($"/admin/custom-providers/{id}", new { enabled = false }));

        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/authorize?provider={id}"), 400, "validation_failed",
            $"Unsupported provider: custom provider {id} is disabled");
    }

    [Fact]
    public async Task NotAdmin_Refused()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/custom-providers"), 401, "no_authorization",
            "This endpoint requires a valid Bearer token");
    }
}

/// <summary>GOTRUE_CUSTOM_OAUTH_ENABLED=false (GoTrue's default is true).</summary>
public sealed class CustomOAuthOffFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) => settings["GOTRUE_CUSTOM_OAUTH_ENABLED"] = "false";
}

/// <summary>With the feature off: GoTrue `requireCustomOAuthEnabled` after the admin check, and no `custom:` sign-in.</summary>
public sealed class CustomProvidersOffTests(CustomOAuthOffFixture server) : IClassFixture<CustomOAuthOffFixture>
{
    [Theory]
    [InlineData("GET", "/admin/custom-providers")]
    [InlineData("POST", "/admin/custom-providers")]
    [InlineData("PUT", "/admin/custom-providers/custom:acme")]
    [InlineData("DELETE", "/admin/custom-providers/custom:acme")]
    public async Task AdminRoutes_AdminFirstThenFeatureDisabled(string method, string path)
    {
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)),
            401, "no_authorization", "This endpoint requires a valid Bearer token");
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)),
            404, "feature_disabled", "Custom OAuth providers are disabled", bearer: TestKeys.ServiceRoleKey());
    }

    [Fact]
    public async Task Authorize_CustomProvider_Unsupported()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/authorize?provider=custom:acme"), 400, "validation_failed",
            "Unsupported provider: custom OAuth providers are disabled");
    }
}
