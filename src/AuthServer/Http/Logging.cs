using AuthServer.Config;

namespace AuthServer.Http;

internal static class LoggingSetup
{
    /// JSON console logs at `GOTRUE_LOG_LEVEL` (GoTrue's logrus levels); framework chatter at warning.
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
        logging.ClearProviders();
        // Scopes carry ASP.NET Core's RequestId (and path, never the query string) into every line.
        logging.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.IncludeScopes = true; o.UseUtcTimestamp = true; });
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
    }
}
