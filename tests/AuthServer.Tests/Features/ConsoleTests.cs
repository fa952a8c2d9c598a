using System.Net;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>The admin console's files are served only with GOTRUE_ADMIN_CONSOLE_ENABLED (default off).</summary>
public sealed class ConsoleOffTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Theory]
    [InlineData("/admin/console")]
    [InlineData("/admin/console/console.js")]
    [InlineData("/admin/console/api/settings")]
    public async Task Console_Off_Returns404(string path)
    {
        using var client = server.CreateClient(bearer: TestKeys.ServiceRoleKey(withExp: false));

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.False(response.Headers.Contains("Content-Security-Policy"));
    }
}

public sealed class ConsoleFixture : AuthServerFixture
{
    public const string SmtpPassword = "console-smtp-password-4711";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_ADMIN_CONSOLE_ENABLED"] = "true";
        settings["GOTRUE_SMTP_PASS"] = SmtpPassword;
    }
}

/// <summary>The console on: the page, its script and style from the assembly under a strict CSP; the settings
/// summary is admin-only and holds no secret.</summary>
public sealed class ConsoleTests(ConsoleFixture server) : IClassFixture<ConsoleFixture>
{
    static void AssertHardened(HttpResponseMessage response)
    {
        var csp = string.Join(" ", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp);
        Assert.Contains("script-src 'self';", csp);
        Assert.Contains("style-src 'self';", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        Assert.Equal("nosniff", string.Join("", response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", string.Join("", response.Headers.GetValues("X-Frame-Options")));
    }

    [Theory]
    [InlineData("", "/admin/console")]
    [InlineData("/auth/v1", "/auth/v1/admin/console")]
    public async Task Console_On_ServesPageWithCspAndAssetUrlsUnderItsPath(string pathBase, string path)
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        AssertHardened(response);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains($"<script src=\"{pathBase}/admin/console/console.js\" defer></script>", html);
        Assert.Contains($"href=\"{pathBase}/admin/console/console.css\"", html);
        Assert.DoesNotContain("{{base}}", html);
        Assert.DoesNotContain("style=", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));
        Assert.DoesNotContain("https://", html);
    }

    [Theory]
    [InlineData("/admin/console/console.js", "text/javascript", "sessionStorage")]
    [InlineData("/admin/console/console.css", "text/css", "font:")]
    public async Task ConsoleAsset_On_ServedFromAssemblyWithCsp(string path, string mediaType, string marker)
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        AssertHardened(response);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains(marker, text);
        Assert.DoesNotContain("innerHTML", text);
        Assert.DoesNotContain("eval(", text);
    }

    [Theory]
    [InlineData("/admin/console/index.html")]
    [InlineData("/admin/console/nothing.js")]
    [InlineData("/admin/console/..%2FConsoleModule.cs")]
    public async Task ConsoleAsset_Unknown_Returns404(string path)
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task ConsoleSettings_ServiceRole_ReturnsConfigurationWithoutSecrets()
    {
        using var client = server.CreateClient(bearer: TestKeys.ServiceRoleKey(withExp: false));

        var body = await server.OkJsonAsync(await client.GetAsync("/admin/console/api/settings"));

        Assert.Equal("authenticated", (string?)body["GOTRUE_JWT_AUD"]);
        Assert.NotNull(body["GOTRUE_SITE_URL"]);
        var text = body.ToJsonString();
        Assert.DoesNotContain(AuthServerFixture.JwtSecret, text);
        Assert.DoesNotContain(ConsoleFixture.SmtpPassword, text);
        Assert.DoesNotContain("postgres", text); // no database URL
        Assert.All(body.Select(p => p.Key), key => Assert.DoesNotMatch("SECRET|_PASS$|_KEY", key));
    }

    [Fact]
    public async Task ConsoleSettings_NoBearer_Returns401NoAuthorization() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/console/api/settings"), 401, "no_authorization");

    [Fact]
    public async Task ConsoleSettings_UserToken_Returns403NotAdmin()
    {
        var (_, _, session) = await server.NewUserAsync("console");
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/console/api/settings"), 403, "not_admin",
            bearer: (string)session["access_token"]!);
    }
}
