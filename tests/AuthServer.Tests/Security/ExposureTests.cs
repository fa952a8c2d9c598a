using System.Net;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>GOTRUE_OPENAPI_ENABLED=true (ours): /openapi.json on the API port.</summary>
public sealed class OpenApiOnFixture : AuthServerFixture
{
    // Every optional area on, so the document lists their routes rather than only their "disabled" answers.
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_OPENAPI_ENABLED"] = "true";
        settings["GOTRUE_PASSKEY_ENABLED"] = "true";
        settings["GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED"] = "true";
        settings["GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED"] = "true";
        settings["GOTRUE_WEBAUTHN_RP_ID"] = "localhost";
        settings["GOTRUE_WEBAUTHN_RP_DISPLAY_NAME"] = "AuthServer";
        settings["GOTRUE_WEBAUTHN_RP_ORIGINS"] = "http://localhost:3000";
        settings["GOTRUE_OAUTH_SERVER_ENABLED"] = "true";
        settings["GOTRUE_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION"] = "true";
        settings["GOTRUE_SAML_ENABLED"] = "true";
        settings["GOTRUE_SAML_PRIVATE_KEY"] = SamlFixture.SpKey;
    }
}

/// <summary>
/// Review L-2: /metrics and /openapi.json were public on the API port by default. Now /metrics exists only
/// with GOTRUE_METRICS_ENABLED, on its own listener; /openapi.json only with GOTRUE_OPENAPI_ENABLED
/// (served: OperationsTests, whose fixture turns it on).
/// </summary>
public sealed class ExposureTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Theory]
    [Trait("catalogue", "L-2")]
    [InlineData("/metrics")]
    [InlineData("/auth/v1/metrics")]
    [InlineData("/openapi.json")]
    [InlineData("/auth/v1/openapi.json")]
    public async Task L2_DefaultSettings_MetricsAndOpenApiAre404OnTheApiPort(string path)
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("http_server_request_duration_seconds", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    [Trait("catalogue", "L-2")]
    public async Task L2_MetricsEnabled_ServedOnItsOwnListenerAndNotOnTheApiPort()
    {
        var metricsPort = ServerProcess.FreePort();
        await using var process = await ServerProcess.StartAsync(server.Db.ConnectionString, new Dictionary<string, string>
        {
            ["GOTRUE_METRICS_ENABLED"] = "true",
            ["GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT"] = metricsPort.ToString(),
        });
        using var api = process.CreateClient();
        await api.PostAsync("/token?grant_type=password",
            new StringContent("""{"email":"nobody@example.com","password":"wrong-password"}""", System.Text.Encoding.UTF8, "application/json"));
        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };

        var text = await metrics.GetStringAsync("/metrics");

        Assert.Contains("http_server_request_duration_seconds", text);
        Assert.Matches("authserver_signins_total\\{[^}]*grant_type=\"password\"[^}]*outcome=\"rejected\"", text);
        Assert.Contains("db_client_connection_count", text); // Npgsql's pool, named by the OpenTelemetry conventions
        Assert.Matches("(?m)^authserver_mail_outbox_depth(\\{[^}]*\\})? [0-9]", text);
        Assert.DoesNotContain("Password=", text, StringComparison.OrdinalIgnoreCase);
        var onApiPort = await api.GetAsync("/metrics");
        Assert.True(onApiPort.StatusCode == HttpStatusCode.NotFound, $"{(int)onApiPort.StatusCode}\n{process.Output}");
        // The metrics listener serves nothing of the API.
        Assert.Equal(HttpStatusCode.NotFound, (await metrics.GetAsync("/health")).StatusCode);
    }
}
