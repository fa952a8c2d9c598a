using AuthServer.Config;
using Microsoft.Extensions.Logging.Console;

namespace AuthServer.Observability;

internal static class LoggingSetup
{
    /// Console logs at `GOTRUE_LOG_LEVEL` (GoTrue's logrus levels); framework chatter at warning. JSON lines, as
    /// GoTrue's (internal/observability/logging.go), unless ours `GOTRUE_LOG_FORMAT=text` (scripts/start.sh sets it
    /// for a developer's terminal).
    public static void Configure(this ILoggingBuilder logging, EnvReader env)
    {
        var level = (env.String("GOTRUE_LOG_LEVEL") ?? "info").ToLowerInvariant() switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "info" => LogLevel.Information,
            "warn" or "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "fatal" or "panic" => LogLevel.Critical,
            var other => throw new ConfigException($"GOTRUE_LOG_LEVEL: unknown level '{other}'"),
        };
        var text = (env.String("GOTRUE_LOG_FORMAT") ?? "json").ToLowerInvariant() switch
        {
            "json" => false,
            "text" => true,
            var other => throw new ConfigException($"GOTRUE_LOG_FORMAT: '{other}' is neither json nor text"),
        };
        logging.ClearProviders();
        // Scopes carry the request id (RequestIdHeader), trace and span ids, and the path (never the query string)
        // into every line of a request.
        if (text)
            logging.AddSimpleConsole(o => { o.TimestampFormat = "HH:mm:ss.fff "; o.IncludeScopes = true; o.SingleLine = true; });
        else
            logging.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.IncludeScopes = true; o.UseUtcTimestamp = true; });
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
    }
}
