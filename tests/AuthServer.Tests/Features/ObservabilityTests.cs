using System.Net;
using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>
/// Metrics and tracing with GoTrue's settings (docs/observability.md): GOTRUE_METRICS_ENABLED with
/// GOTRUE_METRICS_EXPORTER prometheus (OTEL_EXPORTER_PROMETHEUS_HOST/_PORT) or opentelemetry (OTLP push),
/// GOTRUE_TRACING_ENABLED (OTLP push); and the request id on log lines. Real processes, as the exporters
/// listen and flush like a deployment's.
/// </summary>
public sealed class ObservabilityTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static StringContent WrongPassword() => new("""{"email":"nobody@example.com","password":"wrong-password"}""",
        System.Text.Encoding.UTF8, "application/json");

    [Fact]
    public async Task Metrics_PrometheusExporterWithReferenceSettings_ScrapeServesOurSeriesOffTheApiPort()
    {
        var metricsPort = ServerProcess.FreePort();
        await using var process = await ServerProcess.StartAsync(server.Db.ConnectionString, new Dictionary<string, string>
        {
            ["GOTRUE_METRICS_ENABLED"] = "true",
            ["GOTRUE_METRICS_EXPORTER"] = "prometheus",
            ["OTEL_EXPORTER_PROMETHEUS_HOST"] = "127.0.0.1",
            ["OTEL_EXPORTER_PROMETHEUS_PORT"] = metricsPort.ToString(),
        });
        using var api = process.CreateClient();
        await api.PostAsync("/token?grant_type=password", WrongPassword());
        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };

        var text = await metrics.GetStringAsync("/metrics");

        Assert.Matches("authserver_signins_total\\{[^}]*grant_type=\"password\"[^}]*outcome=\"rejected\"", text);
        Assert.Contains("gotrue_running", text);
        Assert.Contains("http_server_request_duration_seconds", text);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task Metrics_UnknownExporter_BootsWithAWarningAndExportsNothing()
    {
        var metricsPort = ServerProcess.FreePort();
        await using var process = await ServerProcess.StartAsync(server.Db.ConnectionString, new Dictionary<string, string>
        {
            ["GOTRUE_METRICS_ENABLED"] = "true",
            ["GOTRUE_METRICS_EXPORTER"] = "statsd",
            ["OTEL_EXPORTER_PROMETHEUS_PORT"] = metricsPort.ToString(),
        });
        using var api = process.CreateClient();
        using var metrics = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };

        await Assert.ThrowsAsync<HttpRequestException>(() => metrics.GetAsync("/metrics"));

        Assert.Contains("GOTRUE_METRICS_EXPORTER: unknown exporter", process.Output);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task Otlp_MetricsAndTracingEnabled_CollectorReceivesMetricsAndRequestAndDatabaseSpans()
    {
        using var collector = new OtlpCollectorStub();
        var process = await ServerProcess.StartAsync(server.Db.ConnectionString, new Dictionary<string, string>
        {
            ["GOTRUE_METRICS_ENABLED"] = "true", // exporter: GoTrue's default, opentelemetry
            ["GOTRUE_TRACING_ENABLED"] = "true",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint, // protocol: GoTrue's default, http/protobuf
        });
        await using (process)
        {
            using var api = process.CreateClient();
            await api.PostAsync("/token?grant_type=password", WrongPassword());

            // A clean shutdown flushes both exporters, so nothing here waits on an export interval.
            process.Terminate();
            Assert.Equal(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }

        var metrics = collector.Bodies("/v1/metrics");
        var traces = collector.Bodies("/v1/traces");
        Assert.True(metrics.Contains("authserver_signins"), $"paths: {string.Join(", ", collector.Paths)}\n{process.Output}");
        Assert.Contains("http.server.request.duration", metrics);
        Assert.Contains("POST /token", traces); // the request's span, named by its route
        Assert.Contains("postgresql", traces); // Npgsql's span per command (db.system)
    }

    [Fact]
    public async Task Otlp_UnsupportedProtocol_BootsWithAWarningAndSendsNothing()
    {
        using var collector = new OtlpCollectorStub();
        var process = await ServerProcess.StartAsync(server.Db.ConnectionString, new Dictionary<string, string>
        {
            ["GOTRUE_TRACING_ENABLED"] = "true",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json", // GoTrue: "unsupported OpenTelemetry exporter protocol"
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Endpoint,
        });
        await using (process)
        {
            using var api = process.CreateClient();
            await api.PostAsync("/token?grant_type=password", WrongPassword());
            process.Terminate();
            await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        }

        Assert.Contains("OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol", process.Output);
        Assert.Empty(collector.Paths);
    }

    [Fact]
    public async Task Logs_NoRequestIdHeaderSetting_ErrorLineCarriesTheRequestId()
    {
        await using var process = await ServerProcess.StartAsync(server.Db.ConnectionString, new Dictionary<string, string>
        {
            ["GOTRUE_EXTERNAL_PHONE_ENABLED"] = "true",
            ["GOTRUE_SMS_PROVIDER"] = "twilio", // no credentials: each send answers 500 and logs an error
        });
        using var client = process.CreateClient();

        var otp = await client.PostAsJsonAsync("/otp", new { phone = "15555550125" });

        var body = await ApiAssert.ErrorAsync(otp, 500, "unexpected_failure", "Unable to get SMS provider");
        var errorId = (string?)body["error_id"];
        Assert.False(string.IsNullOrEmpty(errorId));
        var expected = $"\"request_id\":\"{errorId}\"";
        Assert.Contains(expected, await process.OutputOnceItContainsAsync(expected));
    }

    [Fact]
    public async Task Logs_TextFormat_LinesAreNotJsonAndCarryTheRequestId()
    {
        await using var process = await ServerProcess.StartAsync(server.Db.ConnectionString, new Dictionary<string, string>
        {
            ["GOTRUE_LOG_FORMAT"] = "text",
            ["GOTRUE_EXTERNAL_PHONE_ENABLED"] = "true",
            ["GOTRUE_SMS_PROVIDER"] = "twilio",
        });
        using var client = process.CreateClient();

        var otp = await client.PostAsJsonAsync("/otp", new { phone = "15555550126" });

        var body = await ApiAssert.ErrorAsync(otp, 500, "unexpected_failure", "Unable to get SMS provider");
        var expected = $"request_id:{(string?)body["error_id"]}";
        Assert.Contains(expected, await process.OutputOnceItContainsAsync(expected));
        Assert.DoesNotContain("\"LogLevel\"", process.Output);
    }

    [Fact]
    public async Task Logs_UnknownFormat_BootStopsNamingTheVariable()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(server.Db.ConnectionString,
            new Dictionary<string, string> { ["GOTRUE_LOG_FORMAT"] = "xml" }));

        Assert.Contains("authserver: configuration error: GOTRUE_LOG_FORMAT", error.Message);
    }
}
