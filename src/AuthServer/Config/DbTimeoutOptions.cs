using Npgsql;

namespace AuthServer.Config;

/// <summary>
/// Bounds on database waits (ours; GoTrue has none), so an unreachable, hung or saturated database turns
/// into a prompt 503 instead of requests piling up. Values in the connection string win over these defaults.
/// </summary>
internal sealed class DbTimeoutOptions
{
    /// <summary>`GOTRUE_DB_CONNECT_TIMEOUT` (ours): opening a connection, incl. waiting for a pooled one; default 5s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>`GOTRUE_DB_COMMAND_TIMEOUT` (ours): one SQL statement, incl. lock waits; default 10s.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public static DbTimeoutOptions Load(EnvReader env) => new()
    {
        ConnectTimeout = Seconds(env, "GOTRUE_DB_CONNECT_TIMEOUT", 5),
        CommandTimeout = Seconds(env, "GOTRUE_DB_COMMAND_TIMEOUT", 10),
    };

    /// Applies the bounds unless the connection string (DATABASE_URL) set its own.
    public void ApplyTo(NpgsqlConnectionStringBuilder builder, string connectionString)
    {
        var given = new NpgsqlConnectionStringBuilder(connectionString);
        if (!given.ContainsKey("Timeout")) builder.Timeout = (int)Math.Ceiling(ConnectTimeout.TotalSeconds);
        if (!given.ContainsKey("Command Timeout")) builder.CommandTimeout = (int)Math.Ceiling(CommandTimeout.TotalSeconds);
    }

    static TimeSpan Seconds(EnvReader env, string name, int fallback)
    {
        var value = env.Duration(name) ?? TimeSpan.FromSeconds(fallback);
        return value >= TimeSpan.FromSeconds(1) && value <= TimeSpan.FromMinutes(10)
            ? value
            : throw new ConfigException($"{name}: must be between 1s and 10m");
    }
}
