namespace AuthServer.Config;

/// <summary>The `public.users` profile layer (ours; docs/beyond-gotrue.md "Profiles").</summary>
internal sealed class ProfileOptions
{
    /// <summary>`GOTRUE_PROFILE_AUTO_CREATE` (default true): the auth.users insert trigger creates the
    /// profile row in the same transaction. Written to `authserver.profile_settings` at start-up.</summary>
    public bool AutoCreate { get; init; } = true;

    public static ProfileOptions Load(EnvReader env) => new()
    {
        AutoCreate = env.Bool("GOTRUE_PROFILE_AUTO_CREATE", true),
    };
}

/// <summary>`POST /dbconnections/signup` (ours; docs/beyond-gotrue.md "Database connections").</summary>
internal sealed class DbConnectionOptions
{
    /// <summary>`GOTRUE_DBCONNECTIONS_DEFAULT_NAME`: name of the connection seeded at start-up when no
    /// connection of that name exists (Auth0's default database connection name).</summary>
    public string DefaultName { get; init; } = "Username-Password-Authentication";
    /// <summary>`GOTRUE_DBCONNECTIONS_CLIENT_IDS`: client ids the seeded connection allows; empty = none
    /// until a service_role caller adds some.</summary>
    public IReadOnlyList<string> ClientIds { get; init; } = [];
    /// <summary>`GOTRUE_DBCONNECTIONS_VERIFY_EMAIL_AUTO_SEND` (default true) for the seeded connection.</summary>
    public bool VerifyEmailAutoSend { get; init; } = true;
    /// <summary>`GOTRUE_DBCONNECTIONS_WELCOME_EMAIL_ENABLED` (default false) for the seeded connection.</summary>
    public bool WelcomeEmailEnabled { get; init; }
    /// <summary>`GOTRUE_RATE_LIMIT_DBCONNECTIONS_SIGNUP`: requests per minute per client IP (default 5,
    /// 0 = unlimited), counted in PostgreSQL so every instance shares the budget.</summary>
    public int RateLimitPerMinute { get; init; } = 5;
    /// <summary>`GOTRUE_DBCONNECTIONS_ENUMERATION_SAFE` (ours, default false): an address that already has an
    /// account gets the same 200 as a new one (with a made-up user_id, nothing changed, no mail) instead of
    /// Auth0's 409 `email_taken`, so the route stops telling who has an account (review L-1).</summary>
    public bool EnumerationSafe { get; init; }

    public static DbConnectionOptions Load(EnvReader env) => new()
    {
        EnumerationSafe = env.Bool("GOTRUE_DBCONNECTIONS_ENUMERATION_SAFE", false),
        DefaultName = env.String("GOTRUE_DBCONNECTIONS_DEFAULT_NAME") ?? "Username-Password-Authentication",
        ClientIds = env.List("GOTRUE_DBCONNECTIONS_CLIENT_IDS"),
        VerifyEmailAutoSend = env.Bool("GOTRUE_DBCONNECTIONS_VERIFY_EMAIL_AUTO_SEND", true),
        WelcomeEmailEnabled = env.Bool("GOTRUE_DBCONNECTIONS_WELCOME_EMAIL_ENABLED", false),
        RateLimitPerMinute = env.Int("GOTRUE_RATE_LIMIT_DBCONNECTIONS_SIGNUP", 5, 0, 100_000),
    };
}

/// <summary>Cookie sessions (docs/beyond-gotrue.md "Cookie sessions"). Names follow GoTrue's `GOTRUE_COOKIE_*`.</summary>
internal sealed class CookieSessionOptions
{
    /// <summary>`GOTRUE_COOKIE_ENABLED` (ours, default false): honour `x-use-cookie`.</summary>
    public bool Enabled { get; init; }
    /// <summary>`GOTRUE_COOKIE_KEY` (default `sb`): cookies are `{key}-access-token` and
    /// `{key}-refresh-token`, as GoTrue names them.</summary>
    public string Key { get; init; } = "sb";
    /// <summary>`GOTRUE_COOKIE_DOMAIN`: the cookies' Domain attribute; empty = host-only.</summary>
    public string Domain { get; init; } = "";
    /// <summary>`GOTRUE_COOKIE_DURATION`: Max-Age in seconds (default 7 days; GoTrue's is 1 day).</summary>
    public int DurationSeconds { get; init; } = 7 * 24 * 3600;
    /// <summary>Derived: `Secure` unless `GOTRUE_SITE_URL` is plain http on a loopback host.</summary>
    public bool Secure { get; init; } = true;
    /// <summary>`GOTRUE_COOKIE_ALLOWED_ORIGINS` (ours, comma-separated `scheme://host[:port]`): origins trusted
    /// with the cookies besides the site URL's and the `GOTRUE_URI_ALLOW_LIST` ones (Sessions/CookieOrigins).</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    public string AccessTokenCookie => Key + "-access-token";
    public string RefreshTokenCookie => Key + "-refresh-token";

    public static CookieSessionOptions Load(EnvReader env)
    {
        var key = env.String("GOTRUE_COOKIE_KEY") ?? "sb";
        // RFC 6265 §4.1.1 cookie-name is an HTTP token; keep to a conservative subset.
        if (!key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new ConfigException($"GOTRUE_COOKIE_KEY: '{key}' may only contain letters, digits, '-', '_' and '.'");
        var site = env.String("GOTRUE_SITE_URL");
        var loopbackHttp = Uri.TryCreate(site, UriKind.Absolute, out var siteUrl) && siteUrl.Scheme == Uri.UriSchemeHttp
            && (siteUrl.IsLoopback || siteUrl.Host == "localhost");
        return new CookieSessionOptions
        {
            Enabled = env.Bool("GOTRUE_COOKIE_ENABLED", false),
            Key = key,
            Domain = env.String("GOTRUE_COOKIE_DOMAIN") ?? "",
            DurationSeconds = env.Int("GOTRUE_COOKIE_DURATION", 7 * 24 * 3600, 1),
            Secure = !loopbackHttp,
            AllowedOrigins = env.List("GOTRUE_COOKIE_ALLOWED_ORIGINS").Select(origin =>
                Sessions.CookieOrigins.Normalize(origin) ?? throw new ConfigException(
                    $"GOTRUE_COOKIE_ALLOWED_ORIGINS: '{origin}' is not an origin (scheme://host[:port], no path)")).ToList(),
        };
    }
}
