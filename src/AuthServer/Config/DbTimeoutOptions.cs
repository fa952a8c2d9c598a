using Npgsql;

namespace AuthServer.Config;

/// <summary>
/// Bounds on database waits (ours; GoTrue has none), so an unreachable, hung or saturated database turns
/// into a prompt 503 instead of requests piling up.
/// </summary>
internal sealed class DbTimeoutOptions
{
    /// <summary>`GOTRUE_DB_CONNECT_TIMEOUT` (ours): opening a connection, incl. waiting for a pooled one; unset =
    /// the connection string's `Timeout` (5 s unless DATABASE_URL says otherwise).</summary>
    public TimeSpan? ConnectTimeout { get; init; }
    /// <summary>`GOTRUE_DB_COMMAND_TIMEOUT` (ours): one SQL statement, incl. lock waits; unset = 10 s unless
    /// the connection string sets `Command Timeout`.</summary>
    public TimeSpan? CommandTimeout { get; init; }

    public static DbTimeoutOptions Load(EnvReader env) => new()
    {
        ConnectTimeout = Seconds(env, "GOTRUE_DB_CONNECT_TIMEOUT"),
        CommandTimeout = Seconds(env, "GOTRUE_DB_COMMAND_TIMEOUT"),
    };

    /// A setting wins over the connection string; without one, Npgsql's 30 s command default becomes 10 s.
    public void ApplyTo(NpgsqlConnectionStringBuilder builder)
    {
        if (ConnectTimeout is { } connect) builder.Timeout = (int)Math.Ceiling(connect.TotalSeconds);
        if (CommandTimeout is { } command) builder.CommandTimeout = (int)Math.Ceiling(command.TotalSeconds);
        else if (builder.CommandTimeout == 30) builder.CommandTimeout = 10;
    }

    static TimeSpan? Seconds(EnvReader env, string name)
    {
        if (env.Duration(name) is not { } value) return null;
        return value >= TimeSpan.FromSeconds(1) && value <= TimeSpan.FromMinutes(10)
            ? value
            : throw new ConfigException($"{name}: must be between 1s and 10m");
    }
}
