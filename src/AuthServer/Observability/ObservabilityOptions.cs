using AuthServer.Config;

namespace AuthServer.Observability;

/// <summary>GoTrue `conf.MetricsConfig` and `conf.TracingConfig` (internal/conf). Where GoTrue names a setting
/// with an `envconfig` tag, it reads `GOTRUE_METRICS_`/`GOTRUE_TRACING_` + the tag first, then the bare
/// `OTEL_*` name; so do we. OTLP endpoint, headers and timeouts are the exporter's own `OTEL_EXPORTER_OTLP_*`.</summary>
internal sealed class ObservabilityOptions
{
    /// <summary>`GOTRUE_METRICS_ENABLED`.</summary>
    public bool MetricsEnabled { get; init; }
    /// <summary>`GOTRUE_METRICS_EXPORTER`: `opentelemetry` (GoTrue's default: OTLP push) or `prometheus` (a listener
    /// to scrape). Ours: `prometheus` is the default when ours `GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT` is set.</summary>
    public string MetricsExporter { get; init; } = "opentelemetry";
    /// <summary>`OTEL_EXPORTER_OTLP_PROTOCOL` for metrics: `http/protobuf` (default) or `grpc`.</summary>
    public string MetricsProtocol { get; init; } = "http/protobuf";
    /// <summary>`OTEL_EXPORTER_PROMETHEUS_HOST` (default 0.0.0.0: all interfaces).</summary>
    public string PrometheusHost { get; init; } = "0.0.0.0";
    /// <summary>`OTEL_EXPORTER_PROMETHEUS_PORT`, else ours `GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT` (default 9100).</summary>
    public int PrometheusPort { get; init; } = 9100;

    /// <summary>`GOTRUE_TRACING_ENABLED`.</summary>
    public bool TracingEnabled { get; init; }
    /// <summary>`GOTRUE_TRACING_EXPORTER`: `opentelemetry` (the only one GoTrue has).</summary>
    public string TracingExporter { get; init; } = "opentelemetry";
    /// <summary>`OTEL_EXPORTER_OTLP_PROTOCOL` for traces: `http/protobuf` (default) or `grpc`.</summary>
    public string TracingProtocol { get; init; } = "http/protobuf";
    /// <summary>`GOTRUE_TRACING_SERVICE_NAME` (default `gotrue`): `service.name`, unless `OTEL_SERVICE_NAME` is set.</summary>
    public string ServiceName { get; init; } = "gotrue";

    public bool Prometheus => MetricsEnabled && MetricsExporter == "prometheus";
    public bool OtlpMetrics => MetricsEnabled && MetricsExporter == "opentelemetry" && MetricsProtocol is "http/protobuf" or "grpc";
    public bool OtlpTracing => TracingEnabled && TracingExporter == "opentelemetry" && TracingProtocol is "http/protobuf" or "grpc";

    public static ObservabilityOptions Load(EnvReader env)
    {
        var ourPort = env.String("GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT");
        var options = new ObservabilityOptions
        {
            MetricsEnabled = env.Bool("GOTRUE_METRICS_ENABLED", false),
            MetricsExporter = env.String("GOTRUE_METRICS_EXPORTER") ?? (ourPort is null ? "opentelemetry" : "prometheus"),
            MetricsProtocol = env.String("GOTRUE_METRICS_OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf",
            PrometheusHost = env.String("GOTRUE_METRICS_OTEL_EXPORTER_PROMETHEUS_HOST", "OTEL_EXPORTER_PROMETHEUS_HOST") ?? "0.0.0.0",
            PrometheusPort = Port(env, env.String("GOTRUE_METRICS_OTEL_EXPORTER_PROMETHEUS_PORT", "OTEL_EXPORTER_PROMETHEUS_PORT") ?? ourPort),
            TracingEnabled = env.Bool("GOTRUE_TRACING_ENABLED", false),
            TracingExporter = env.String("GOTRUE_TRACING_EXPORTER") ?? "opentelemetry",
            TracingProtocol = env.String("GOTRUE_TRACING_OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf",
            ServiceName = env.String("OTEL_SERVICE_NAME", "GOTRUE_TRACING_SERVICE_NAME") ?? "gotrue",
        };
        // GoTrue logs these and boots without the exporter (ConfigureMetrics/ConfigureTracing); so do we.
        if (options.MetricsEnabled && options.MetricsExporter is not ("prometheus" or "opentelemetry"))
            env.Warn($"GOTRUE_METRICS_EXPORTER: unknown exporter '{options.MetricsExporter}' (prometheus or opentelemetry): no metrics are exported");
        else if (options.MetricsEnabled && options.MetricsExporter == "opentelemetry" && !options.OtlpMetrics)
            env.Warn($"OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol '{options.MetricsProtocol}' (http/protobuf or grpc): no metrics are exported");
        if (options.TracingEnabled && options.TracingExporter != "opentelemetry")
            env.Warn($"GOTRUE_TRACING_EXPORTER: unknown exporter '{options.TracingExporter}' (opentelemetry): no traces are exported");
        else if (options.TracingEnabled && !options.OtlpTracing)
            env.Warn($"OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol '{options.TracingProtocol}' (http/protobuf or grpc): no traces are exported");
        return options;
    }

    // GoTrue keeps the port as a string and only fails to listen; a value that is no port is a start-up
    // warning here and the default port.
    static int Port(EnvReader env, string? value)
    {
        if (value is null) return 9100;
        if (int.TryParse(value, out var port) && port is > 0 and <= 65535) return port;
        env.Warn($"OTEL_EXPORTER_PROMETHEUS_PORT: '{value}' is not a port: using 9100");
        return 9100;
    }
}
