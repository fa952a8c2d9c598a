namespace AuthServer.Config;

/// <summary>Sign-up, providers and confirmation (config.md §4).</summary>
internal sealed class AuthOptions
{
    /// <summary>`GOTRUE_DISABLE_SIGNUP`.</summary>
    public bool DisableSignup { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_EMAIL_ENABLED` (default true).</summary>
    public bool EmailEnabled { get; init; } = true;
    /// <summary>`GOTRUE_EXTERNAL_PHONE_ENABLED`.</summary>
    public bool PhoneEnabled { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED`.</summary>
    public bool AnonymousEnabled { get; init; }
    /// <summary>`GOTRUE_MAILER_AUTOCONFIRM`.</summary>
    public bool MailerAutoconfirm { get; init; }
    /// <summary>`GOTRUE_SMS_AUTOCONFIRM`.</summary>
    public bool SmsAutoconfirm { get; init; }
    /// <summary>`GOTRUE_SMS_PROVIDER`.</summary>
    public string SmsProvider { get; init; } = "";

    public static AuthOptions Load(EnvReader env) => new()
    {
        DisableSignup = env.Bool("GOTRUE_DISABLE_SIGNUP", false),
        EmailEnabled = env.Bool("GOTRUE_EXTERNAL_EMAIL_ENABLED", true),
        PhoneEnabled = env.Bool("GOTRUE_EXTERNAL_PHONE_ENABLED", false),
        AnonymousEnabled = env.Bool("GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED", false),
        MailerAutoconfirm = env.Bool("GOTRUE_MAILER_AUTOCONFIRM", false),
        SmsAutoconfirm = env.Bool("GOTRUE_SMS_AUTOCONFIRM", false),
        SmsProvider = env.String("GOTRUE_SMS_PROVIDER") ?? "",
    };
}

/// <summary>Password policy and hashing (config.md §5).</summary>
internal sealed class PasswordOptions
{
    /// <summary>`GOTRUE_PASSWORD_MIN_LENGTH` (values below 6 are raised to 6).</summary>
    public int MinLength { get; init; } = 6;
    /// <summary>`GOTRUE_PASSWORD_REQUIRED_CHARACTERS`: groups split on `:` (`\:` is a literal colon).</summary>
    public IReadOnlyList<string> RequiredCharacters { get; init; } = [];
    /// <summary>`GOTRUE_PASSWORD_HASH_COST` (ours; GoTrue fixes 10): bcrypt cost, tests use 4.</summary>
    public int HashCost { get; init; } = 10;
    /// <summary>`GOTRUE_PASSWORD_HASH_QUEUE_LIMIT` (ours; 0 = no limit, the default): bcrypt jobs allowed to
    /// wait for a hashing thread. Past it a password request fails at once with 429 and `Retry-After`
    /// instead of queueing for seconds during a login storm.</summary>
    public int HashQueueLimit { get; init; }
    /// <summary>`GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_CURRENT_PASSWORD`.</summary>
    public bool UpdateRequiresCurrentPassword { get; init; }
    /// <summary>`GOTRUE_PASSWORD_HIBP_*`: leaked-password protection.</summary>
    public HibpOptions Hibp { get; init; } = new();

    public static PasswordOptions Load(EnvReader env)
    {
        var minLength = env.Int("GOTRUE_PASSWORD_MIN_LENGTH", 6);
        // GoTrue has no upper bound, but refuses every password over 72 bytes (bcrypt's limit).
        if (minLength > 72)
            env.Stricter($"GOTRUE_PASSWORD_MIN_LENGTH: {minLength} is above 72, the longest password accepted, so no password can be set");
        return new PasswordOptions
        {
            MinLength = Math.Max(6, minLength),
            RequiredCharacters = SplitGroups(env.String("GOTRUE_PASSWORD_REQUIRED_CHARACTERS")),
            HashCost = env.Int("GOTRUE_PASSWORD_HASH_COST", 10, 4, 16),
            HashQueueLimit = env.Int("GOTRUE_PASSWORD_HASH_QUEUE_LIMIT", 0, 0, 1_000_000),
            UpdateRequiresCurrentPassword = env.Bool("GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_CURRENT_PASSWORD", false),
            Hibp = HibpOptions.Load(env),
        };
    }

    static List<string> SplitGroups(string? value)
    {
        var groups = new List<string>();
        if (value is null) return groups;
        var current = new System.Text.StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length && value[i + 1] == ':') { current.Append(':'); i++; }
            else if (value[i] == ':') { if (current.Length > 0) groups.Add(current.ToString()); current.Clear(); }
            else current.Append(value[i]);
        }
        if (current.Length > 0) groups.Add(current.ToString());
        return groups;
    }
}

/// <summary>Leaked-password protection: GoTrue's `HIBPConfiguration` (conf/configuration.go).</summary>
internal sealed class HibpOptions
{
    /// <summary>`GOTRUE_PASSWORD_HIBP_ENABLED`: new passwords are checked against Pwned Passwords.</summary>
    public bool Enabled { get; init; }
    /// <summary>`GOTRUE_PASSWORD_HIBP_FAIL_CLOSED`: when the API cannot answer, refuse (500) instead of allowing.</summary>
    public bool FailClosed { get; init; }
    /// <summary>`GOTRUE_PASSWORD_HIBP_USER_AGENT` (GoTrue's default).</summary>
    public string UserAgent { get; init; } = "https://github.com/supabase/gotrue";
    /// <summary>`GOTRUE_PASSWORD_HIBP_BLOOM_ENABLED`: remember pwned hashes seen in range answers.</summary>
    public bool BloomEnabled { get; init; }
    /// <summary>`GOTRUE_PASSWORD_HIBP_BLOOM_ITEMS` (default 100000): hashes the filter is sized for.</summary>
    public int BloomItems { get; init; } = 100_000;
    /// <summary>`GOTRUE_PASSWORD_HIBP_BLOOM_FALSE_POSITIVES` (default 0.0000099): the filter's target error rate.</summary>
    public double BloomFalsePositives { get; init; } = 0.0000099;
    /// <summary>`GOTRUE_PASSWORD_HIBP_API_URL` (ours; GoTrue hard-codes it): base of the `/range/{prefix}` API.</summary>
    public Uri ApiUrl { get; init; } = new("https://api.pwnedpasswords.com/");
    /// <summary>GoTrue's fixed 5 s per call, or `GOTRUE_INTERNAL_HTTP_TIMEOUT` when that is shorter.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    public static HibpOptions Load(EnvReader env)
    {
        var url = env.String("GOTRUE_PASSWORD_HIBP_API_URL") is { Length: > 0 } u ? u : "https://api.pwnedpasswords.com/";
        if (!Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var apiUrl) || apiUrl.Scheme is not ("http" or "https"))
            throw new ConfigException($"GOTRUE_PASSWORD_HIBP_API_URL: {url} is not an http(s) URL");
        var falsePositives = env.Double("GOTRUE_PASSWORD_HIBP_BLOOM_FALSE_POSITIVES", 0.0000099);
        if (falsePositives is <= 0 or >= 1)
        {
            env.Warn($"GOTRUE_PASSWORD_HIBP_BLOOM_FALSE_POSITIVES: {falsePositives} is not between 0 and 1; using 0.0000099");
            falsePositives = 0.0000099;
        }
        var timeout = TimeSpan.FromSeconds(5);
        if (env.Duration("GOTRUE_INTERNAL_HTTP_TIMEOUT") is { } t && t > TimeSpan.Zero && t < timeout) timeout = t;
        return new HibpOptions
        {
            Enabled = env.Bool("GOTRUE_PASSWORD_HIBP_ENABLED", false),
            FailClosed = env.Bool("GOTRUE_PASSWORD_HIBP_FAIL_CLOSED", false),
            UserAgent = env.String("GOTRUE_PASSWORD_HIBP_USER_AGENT") is { Length: > 0 } agent ? agent : "https://github.com/supabase/gotrue",
            BloomEnabled = env.Bool("GOTRUE_PASSWORD_HIBP_BLOOM_ENABLED", false),
            BloomItems = env.Int("GOTRUE_PASSWORD_HIBP_BLOOM_ITEMS", 100_000, 1, 10_000_000),
            BloomFalsePositives = falsePositives,
            ApiUrl = apiUrl,
            Timeout = timeout,
        };
    }
}

/// <summary>Sessions and refresh tokens (config.md §6).</summary>
internal sealed class RefreshOptions
{
    /// <summary>`GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED` (default true).</summary>
    public bool RotationEnabled { get; init; } = true;
    /// <summary>`GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`, seconds.</summary>
    public int ReuseIntervalSeconds { get; init; }
    /// <summary>`GOTRUE_SESSIONS_TIMEBOX`.</summary>
    public TimeSpan? Timebox { get; init; }
    /// <summary>`GOTRUE_SESSIONS_INACTIVITY_TIMEOUT`.</summary>
    public TimeSpan? InactivityTimeout { get; init; }

    /// <summary>`GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION`: 2 issues v2 (HMAC + counter) tokens for new sessions.</summary>
    public int AlgorithmVersion { get; init; }
    /// <summary>`GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE`: with v2, % of sessions whose v1 token is upgraded on refresh.</summary>
    public int UpgradePercentage { get; init; }
    /// <summary>`GOTRUE_SECURITY_REFRESH_TOKEN_ALLOW_REUSE`: v2 only, always accept a reused token.</summary>
    public bool AllowReuse { get; init; }

    /// <summary>`GOTRUE_SESSIONS_SINGLE_PER_USER`: only the user's most recently refreshed session may refresh.</summary>
    public bool SinglePerUser { get; init; }
    /// <summary>`GOTRUE_SESSIONS_TAGS`: groups for SINGLE_PER_USER (one newest session per tag).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>`GOTRUE_SESSIONS_ALLOW_LOW_AAL`: how long an aal1 session of a user with a verified factor
    /// lives (access tokens end by then, refreshes are refused after).</summary>
    public TimeSpan? AllowLowAal { get; init; }

    public bool IssuesV2 => AlgorithmVersion == 2;

    public static RefreshOptions Load(EnvReader env)
    {
        return new RefreshOptions
        {
            AlgorithmVersion = env.Int("GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION", 0, 0, 2),
            UpgradePercentage = env.Int("GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE", 0, 0, 100),
            AllowReuse = env.Bool("GOTRUE_SECURITY_REFRESH_TOKEN_ALLOW_REUSE", false),
            RotationEnabled = env.Bool("GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED", true),
            ReuseIntervalSeconds = env.Int("GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL", 0, 0),
            Timebox = Positive(env, "GOTRUE_SESSIONS_TIMEBOX", "session timebox duration"),
            InactivityTimeout = Positive(env, "GOTRUE_SESSIONS_INACTIVITY_TIMEOUT", "session inactivity timeout duration"),
            SinglePerUser = env.Bool("GOTRUE_SESSIONS_SINGLE_PER_USER", false),
            Tags = env.List("GOTRUE_SESSIONS_TAGS"),
            AllowLowAal = Positive(env, "GOTRUE_SESSIONS_ALLOW_LOW_AAL", "session allow low AAL duration"),
        };
    }

    /// GoTrue `SessionsConfiguration.Validate`: a duration that is set must be positive, or the boot stops.
    internal static TimeSpan? Positive(EnvReader env, string name, string what)
    {
        var value = env.Duration(name);
        if (value is { } v && v <= TimeSpan.Zero)
            throw new ConfigException($"{name}: {what} must be positive when set, was {v}");
        return value;
    }
}
