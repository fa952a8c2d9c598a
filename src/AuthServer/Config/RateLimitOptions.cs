using System.Net;

namespace AuthServer.Config;

/// <summary>
/// Rate limits (config.md §8), counted in PostgreSQL so every replica enforces one limit. A bucket holds
/// `Capacity` requests and refills continuously at `RefillPerSecond`, as GoTrue's tollbooth limiters do.
/// </summary>
internal sealed class RateLimitOptions
{
    /// <summary>`GOTRUE_RATE_LIMIT_HEADER`: the header whose first value keys the per-client request limits. As
    /// GoTrue, those limits apply only when it is set (or `Sb-Forwarded-For` is on): see `ClientAddress`.</summary>
    public string? Header { get; init; }
    /// <summary>`GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED`: a valid IP in `Sb-Forwarded-For` keys the limits and is
    /// recorded as the client's address (GoTrue: internal/api/sbff).</summary>
    public bool SbForwardedFor { get; init; }
    /// <summary>`GOTRUE_RATE_LIMIT_TRUSTED_PROXIES` (ours): IPs/CIDRs whose forwarding header is believed, read
    /// right to left past trusted hops; set, it keys every request (the socket address of untrusted peers).</summary>
    public IReadOnlyList<IPNetwork> TrustedProxies { get; init; } = [];
    /// <summary>`GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS` (ours): with no header configured, key the per-client request
    /// limits by the socket address instead of not applying them.</summary>
    public bool BySocketAddress { get; init; }

    /// <summary>`GOTRUE_RATE_LIMIT_TOKEN_REFRESH`: 150 per 5 min, burst 30: all `/token` grants.</summary>
    public Bucket Token { get; init; } = PerFiveMinutes("token", 150, 30);
    /// <summary>`GOTRUE_RATE_LIMIT_VERIFY`: 30 per 5 min, burst 30: `/verify`.</summary>
    public Bucket Verify { get; init; } = PerFiveMinutes("verify", 30, 30);
    /// <summary>`GOTRUE_RATE_LIMIT_OTP`: 30 per 5 min, burst 30, one bucket per route.</summary>
    public double Otp { get; init; } = 30;
    /// <summary>`GOTRUE_RATE_LIMIT_ANONYMOUS_USERS`: 30 per hour, burst 30.</summary>
    public Bucket Anonymous { get; init; } = PerHour("anonymous", 30);
    /// <summary>`GOTRUE_RATE_LIMIT_EMAIL_SENT`: global, 30 per hour (or `N/duration`).</summary>
    public Bucket EmailSent { get; init; } = PerHour("email_sent", 30);
    /// <summary>`GOTRUE_RATE_LIMIT_SMS_SENT`: global, 30 per hour (or `N/duration`).</summary>
    public Bucket SmsSent { get; init; } = PerHour("sms_sent", 30);
    /// <summary>`GOTRUE_RATE_LIMIT_SSO`: 30 per 5 min.</summary>
    public Bucket Sso { get; init; } = PerFiveMinutes("sso", 30, 30);
    /// <summary>`GOTRUE_RATE_LIMIT_WEB3`: 30 per 5 min.</summary>
    public Bucket Web3 { get; init; } = PerFiveMinutes("web3", 30, 30);
    /// <summary>`GOTRUE_RATE_LIMIT_PASSKEY`: 30 per 5 min: `POST /passkeys/authentication/options`.</summary>
    public Bucket Passkey { get; init; } = PerFiveMinutes("passkey", 30, 30);
    /// <summary>`GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT` (ours): password-grant attempts per email/phone, from any
    /// IP, `N/duration` (default `10/10m`: 10 at once, then one a minute). A successful sign-in gives its attempt back.</summary>
    public Bucket PasswordPerAccount { get; init; } = new("password_account", 10, 10 / 600.0);
    /// <summary>`GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT` (ours): failed password sign-ins per email/phone
    /// across all clients, `N/duration` (default `100/1h`, ASVS 4.0 §2.2.1); past it, only clients that signed in
    /// to the account before are let through to the password check.</summary>
    public Bucket PasswordFailuresPerAccount { get; init; } = new("password_failures", 100, 100 / 3600.0);
    /// <summary>`GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY`: 15 per minute, burst 30.</summary>
    public Bucket MfaChallengeAndVerify { get; init; } = new("mfa", 30, 15 / 60.0);

    /// <summary>One of the per-route OTP buckets (`otp`, `magiclink`, `recover`, `resend`, `signup`, `user`).</summary>
    public Bucket OtpBucket(string route) => PerFiveMinutes(route, Otp, 30);

    public static RateLimitOptions Load(EnvReader env)
    {
        var proxies = new List<IPNetwork>();
        foreach (var entry in env.List("GOTRUE_RATE_LIMIT_TRUSTED_PROXIES"))
        {
            if (IPNetwork.TryParse(entry, out var network)) proxies.Add(network);
            else if (IPAddress.TryParse(entry, out var address))
                proxies.Add(new IPNetwork(Normalize(address), address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            else throw new ConfigException($"GOTRUE_RATE_LIMIT_TRUSTED_PROXIES: '{entry}' is not an IP address or CIDR range");
        }
        return new RateLimitOptions
        {
            Header = env.String("GOTRUE_RATE_LIMIT_HEADER"),
            SbForwardedFor = env.Bool("GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED", false),
            TrustedProxies = proxies,
            BySocketAddress = env.Bool("GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS", false),
            Token = PerFiveMinutes("token", Positive(env, "GOTRUE_RATE_LIMIT_TOKEN_REFRESH", 150), 30),
            Verify = PerFiveMinutes("verify", Positive(env, "GOTRUE_RATE_LIMIT_VERIFY", 30), 30),
            Otp = Positive(env, "GOTRUE_RATE_LIMIT_OTP", 30),
            Anonymous = PerHour("anonymous", Positive(env, "GOTRUE_RATE_LIMIT_ANONYMOUS_USERS", 30)),
            EmailSent = Rate(env, "GOTRUE_RATE_LIMIT_EMAIL_SENT", "email_sent"),
            SmsSent = Rate(env, "GOTRUE_RATE_LIMIT_SMS_SENT", "sms_sent"),
            Sso = PerFiveMinutes("sso", Positive(env, "GOTRUE_RATE_LIMIT_SSO", 30), 30),
            Web3 = PerFiveMinutes("web3", Positive(env, "GOTRUE_RATE_LIMIT_WEB3", 30), 30),
            Passkey = PerFiveMinutes("passkey", Positive(env, "GOTRUE_RATE_LIMIT_PASSKEY", 30), 30),
            PasswordPerAccount = env.String("GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT") is null
                ? new("password_account", 10, 10 / 600.0)
                : Rate(env, "GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT", "password_account"),
            PasswordFailuresPerAccount = env.String("GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT") is null
                ? new("password_failures", 100, 100 / 3600.0)
                : Rate(env, "GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT", "password_failures"),
            MfaChallengeAndVerify = new("mfa", 30, Positive(env, "GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY", 15) / 60.0),
        };
    }

    public bool IsTrustedProxy(IPAddress address)
    {
        foreach (var network in TrustedProxies)
            if (network.Contains(address)) return true;
        return false;
    }

    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    // GoTrue: `tollbooth.NewLimiter(rate/(60*5)).SetBurst(30)` (internal/api/api.go).
    static Bucket PerFiveMinutes(string name, double events, double burst) => new(name, burst, events / 300.0);

    // GoTrue: anonymous and email/SMS limits are `rate/(60*60)` with burst = rate.
    static Bucket PerHour(string name, double events) => new(name, events, events / 3600.0);

    static double Positive(EnvReader env, string name, double fallback)
    {
        var value = env.Double(name, fallback);
        return value >= 0 && double.IsFinite(value) ? value : throw new ConfigException($"{name}: must be a number ≥ 0");
    }

    /// GoTrue's `conf.Rate`: `N` (per hour) or `N/duration` (e.g. `10/1m`).
    static Bucket Rate(EnvReader env, string name, string bucket)
    {
        var value = env.String(name);
        if (value is null) return PerHour(bucket, 30);
        var slash = value.IndexOf('/');
        if (slash < 0) return PerHour(bucket, Positive(env, name, 30));
        if (!double.TryParse(value[..slash], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var events) || events < 0)
            throw new ConfigException($"{name}: '{value}' is not N or N/duration");
        // EnvReader parses Go durations from configuration keys; feed it the duration part alone.
        var part = new ConfigurationBuilder().AddInMemoryCollection([new(name, value[(slash + 1)..])]).Build();
        var over = new EnvReader(part).Duration(name)
            ?? throw new ConfigException($"{name}: '{value}' is not N or N/duration");
        if (over <= TimeSpan.Zero) throw new ConfigException($"{name}: the duration must be positive");
        return new Bucket(bucket, events, events / over.TotalSeconds);
    }
}

/// A token bucket: up to <paramref name="Capacity"/> requests at once, refilled at <paramref name="RefillPerSecond"/>.
internal sealed record Bucket(string Name, double Capacity, double RefillPerSecond);
