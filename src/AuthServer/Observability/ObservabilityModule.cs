using AuthServer.Config;
using Npgsql;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AuthServer.Observability;

/// Metrics and tracing through OpenTelemetry, with GoTrue's settings (docs/observability.md). Metrics: ours
/// (AuthMetrics), ASP.NET Core's and HttpClient's, Npgsql's pool and commands, the runtime's; pushed over OTLP
/// or served for Prometheus on a listener of their own, never on the API port. Traces: a span per request,
/// per outgoing HTTP call and per database command, pushed over OTLP.
internal static class ObservabilityModule
{
    public static IServiceCollection AddObservability(this IServiceCollection services, EnvReader env)
    {
        var options = ObservabilityOptions.Load(env);
        services.AddSingleton(options);
        if (!options.Prometheus && !options.OtlpMetrics && !options.OtlpTracing) return services;

        var otel = services.AddOpenTelemetry().ConfigureResource(r => r.AddService(options.ServiceName));
        if (options.Prometheus || options.OtlpMetrics)
            otel.WithMetrics(metrics =>
            {
                metrics.AddMeter(AuthMetrics.MeterName, "System.Runtime")
                    .AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddNpgsqlInstrumentation();
                if (options.Prometheus)
                    metrics.AddPrometheusHttpListener(o =>
                    {
                        o.Port = options.PrometheusPort;
                        if (!AllInterfaces(options.PrometheusHost)) o.Host = options.PrometheusHost;
                        // The exporter's prefix can't say "all interfaces" (`*`), GoTrue's default (0.0.0.0): replace it.
                        else o.ConfigureHttpListener = (_, listener) =>
                        {
                            listener.Prefixes.Clear();
                            listener.Prefixes.Add($"http://*:{options.PrometheusPort}/metrics/");
                        };
                    });
                else
                    metrics.AddOtlpExporter(o => o.Protocol = Protocol(options.MetricsProtocol));
            });
        if (options.OtlpTracing)
            otel.WithTracing(tracing => tracing.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddNpgsql()
                .AddOtlpExporter(o => o.Protocol = Protocol(options.TracingProtocol)));
        return services;
    }

    static bool AllInterfaces(string host) => host is "" or "0.0.0.0" or "::" or "[::]" or "*";

    static OtlpExportProtocol Protocol(string protocol) =>
        protocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
}
