namespace AuthServer.Config;

/// <summary>Server and database settings (config.md §1, §2).</summary>
internal sealed class ApiOptions
{
    /// <summary>`GOTRUE_API_HOST`: bind host; empty = all interfaces.</summary>
    public string Host { get; init; } = "";
    /// <summary>`PORT` / `GOTRUE_API_PORT`, default 8081 like GoTrue.</summary>
    public int Port { get; init; } = 8081;
    /// <summary>`API_EXTERNAL_URL` / `GOTRUE_API_API_EXTERNAL_URL`: public base URL, absolute.</summary>
    public Uri ExternalUrl { get; init; } = null!;
    /// <summary>`REQUEST_ID_HEADER` / `GOTRUE_API_REQUEST_ID_HEADER`.</summary>
    public string? RequestIdHeader { get; init; }
    /// <summary>`GOTRUE_SITE_URL`: default redirect target.</summary>
    public string SiteUrl { get; init; } = "";
    /// <summary>`GOTRUE_URI_ALLOW_LIST`.</summary>
    public IReadOnlyList<string> UriAllowList { get; init; } = [];

    public static ApiOptions Load(EnvReader env)
    {
        var external = env.Required("GOTRUE_API_API_EXTERNAL_URL", "API_EXTERNAL_URL");
        if (!Uri.TryCreate(external, UriKind.Absolute, out var externalUrl))
            throw new ConfigException($"API_EXTERNAL_URL: '{external}' is not an absolute URL");
        return new ApiOptions
        {
            Host = env.String("GOTRUE_API_HOST") ?? "",
            Port = env.Int(env.String("GOTRUE_API_PORT") is null ? "PORT" : "GOTRUE_API_PORT", 8081, 0, 65535),
            ExternalUrl = externalUrl,
            RequestIdHeader = env.String("GOTRUE_API_REQUEST_ID_HEADER", "REQUEST_ID_HEADER"),
            SiteUrl = env.Required("GOTRUE_SITE_URL"),
            UriAllowList = env.List("GOTRUE_URI_ALLOW_LIST"),
        };
    }
}

/// <summary>Database settings (config.md §1).</summary>
internal sealed class DbOptions
{
    /// <summary>`GOTRUE_DB_DATABASE_URL` / `DATABASE_URL`, converted to an Npgsql connection string.</summary>
    public string ConnectionString { get; init; } = "";
    /// <summary>`GOTRUE_DB_MAX_POOL_SIZE`; 0 = Npgsql's default (100).</summary>
    public int MaxPoolSize { get; init; }
    /// <summary>`GOTRUE_DB_CONN_MAX_LIFETIME` (Go duration): a pooled connection is closed once this old
    /// (Npgsql `Connection Lifetime`); unset or 0 = no limit, as in GoTrue.</summary>
    public TimeSpan ConnMaxLifetime { get; init; }
    /// <summary>`GOTRUE_DB_CONN_MAX_IDLE_TIME` (Go duration): an idle pooled connection is closed after this
    /// (Npgsql `Connection Idle Lifetime`, whole seconds); unset or 0 = Npgsql's 300 s.</summary>
    public TimeSpan ConnMaxIdleTime { get; init; }
    /// <summary>`GOTRUE_DB_TRANSACTION_POOLER` (ours): the database URL points at a transaction-mode pooler
    /// (PgBouncer, Supavisor): no prepared statements, no session reset (the pooler owns server sessions).
    /// Everything else is already pooler-safe: only transaction-scoped locks and settings.</summary>
    public bool TransactionPooler { get; init; }

    public static DbOptions Load(EnvReader env)
    {
        var driver = env.Required("GOTRUE_DB_DRIVER");
        if (driver != "postgres")
            throw new ConfigException($"GOTRUE_DB_DRIVER: only 'postgres' is supported, got '{driver}'");
        var ns = env.String("GOTRUE_DB_DB_NAMESPACE", "DB_NAMESPACE") ?? "auth";
        if (ns != "auth")
            throw new ConfigException($"DB_NAMESPACE: only the 'auth' schema is supported, got '{ns}'");
        var url = env.Required("GOTRUE_DB_DATABASE_URL", "DATABASE_URL");
        var pooler = env.Bool("GOTRUE_DB_TRANSACTION_POOLER", false);
        var connectionString = Data.DatabaseUrl.ToConnectionString(url, "DATABASE_URL");
        if (pooler) // the migrator's connection too, so this is applied here rather than to the data source
            connectionString = new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 0, NoResetOnClose = true }.ConnectionString;
        return new DbOptions
        {
            ConnectionString = connectionString,
            MaxPoolSize = env.Int("GOTRUE_DB_MAX_POOL_SIZE", 0, 0, 10_000),
            ConnMaxLifetime = NonNegative(env, "GOTRUE_DB_CONN_MAX_LIFETIME"),
            ConnMaxIdleTime = NonNegative(env, "GOTRUE_DB_CONN_MAX_IDLE_TIME"),
            TransactionPooler = pooler,
        };
    }

    /// GoTrue's pool settings (pop/sql.DB) mapped onto Npgsql's pool; the rest have no Npgsql counterpart
    /// (docs/parity-audit.md "DB").
    public void ApplyTo(Npgsql.NpgsqlConnectionStringBuilder builder)
    {
        if (MaxPoolSize > 0) builder.MaxPoolSize = MaxPoolSize;
        if (ConnMaxLifetime > TimeSpan.Zero) builder.ConnectionLifetime = Math.Max(1, (int)Math.Ceiling(ConnMaxLifetime.TotalSeconds));
        if (ConnMaxIdleTime > TimeSpan.Zero) builder.ConnectionIdleLifetime = Math.Max(1, (int)Math.Ceiling(ConnMaxIdleTime.TotalSeconds));
        // Npgsql refuses a pruning interval longer than the idle lifetime (default 10 s).
        if (builder.ConnectionPruningInterval > builder.ConnectionIdleLifetime) builder.ConnectionPruningInterval = builder.ConnectionIdleLifetime;
    }

    // sql.DB treats a negative duration like zero: no limit.
    static TimeSpan NonNegative(EnvReader env, string name) =>
        env.Duration(name) is { } value && value > TimeSpan.Zero ? value : TimeSpan.Zero;
}
