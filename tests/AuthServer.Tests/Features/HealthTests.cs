using System.Net;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

public sealed class HealthTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static readonly string[] ExternalProviders =
    [
        "anonymous_users", "apple", "azure", "bitbucket", "discord", "facebook", "snapchat", "figma", "fly", "github",
        "gitlab", "google", "keycloak", "kakao", "linkedin", "linkedin_oidc", "notion", "spotify", "slack", "slack_oidc",
        "workos", "twitch", "twitter", "email", "phone", "zoom",
    ];

    [Theory]
    [InlineData("/health")]
    [InlineData("/auth/v1/health")]
    public async Task Health_Get_ReturnsGoTrueShape(string path)
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync(path);

        var body = await server.OkJsonAsync(response);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("GoTrue", (string?)body["name"]);
        Assert.Equal("GoTrue is a user registration and authentication API", (string?)body["description"]);
        Assert.False(string.IsNullOrEmpty((string?)body["version"]));
    }

    [Theory]
    [InlineData("/settings")]
    [InlineData("/auth/v1/settings")]
    public async Task Settings_Get_ReflectsConfiguration(string path)
    {
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.GetAsync(path));

        var external = Assert.IsType<JsonObject>(body["external"]);
        foreach (var provider in ExternalProviders)
            Assert.True(external[provider]?.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False,
                $"external.{provider} should be a boolean: {external.ToJsonString()}");
        Assert.True((bool)external["email"]!);
        Assert.False((bool)external["phone"]!);
        Assert.False((bool)external["anonymous_users"]!);
        Assert.False((bool)external["google"]!);
        Assert.False((bool)body["disable_signup"]!);
        Assert.True((bool)body["mailer_autoconfirm"]!);
        Assert.False((bool)body["phone_autoconfirm"]!);
        Assert.Equal(System.Text.Json.JsonValueKind.String, body["sms_provider"]?.GetValueKind());
        Assert.False((bool)body["saml_enabled"]!);
    }

    [Fact]
    public async Task UnknownPath_Get_Returns404()
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync("/no-such-route");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
