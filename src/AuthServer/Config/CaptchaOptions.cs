namespace AuthServer.Config;

/// <summary>Captcha (config.md §10; GoTrue internal/security/captcha.go).</summary>
internal sealed class CaptchaOptions
{
    /// <summary>`GOTRUE_SECURITY_CAPTCHA_ENABLED`.</summary>
    public bool Enabled { get; init; }
    /// <summary>`GOTRUE_SECURITY_CAPTCHA_PROVIDER`: `hcaptcha` (default) or `turnstile`.</summary>
    public string Provider { get; init; } = "hcaptcha";
    /// <summary>`GOTRUE_SECURITY_CAPTCHA_SECRET`: the provider's secret key.</summary>
    public string Secret { get; init; } = "";
    /// <summary>`GOTRUE_SECURITY_CAPTCHA_TIMEOUT`: bound on the verify call, default 10s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>`GOTRUE_SECURITY_CAPTCHA_VERIFY_URL` (ours): the provider's siteverify URL, for a proxy or tests.</summary>
    public Uri VerifyUrl { get; init; } = new("https://api.hcaptcha.com/siteverify");

    public static CaptchaOptions Load(EnvReader env)
    {
        var enabled = env.Bool("GOTRUE_SECURITY_CAPTCHA_ENABLED", false);
        var provider = (env.String("GOTRUE_SECURITY_CAPTCHA_PROVIDER") ?? "hcaptcha").ToLowerInvariant();
        // GoTrue: internal/security/captcha.go GetCaptchaURL.
        var defaultUrl = provider switch
        {
            "hcaptcha" => "https://api.hcaptcha.com/siteverify",
            "turnstile" => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
            _ => enabled
                ? throw new ConfigException($"GOTRUE_SECURITY_CAPTCHA_PROVIDER: '{provider}' is not hcaptcha or turnstile")
                : "https://api.hcaptcha.com/siteverify",
        };
        var url = env.String("GOTRUE_SECURITY_CAPTCHA_VERIFY_URL") ?? defaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var verifyUrl) || verifyUrl.Scheme is not ("https" or "http"))
            throw new ConfigException($"GOTRUE_SECURITY_CAPTCHA_VERIFY_URL: '{url}' is not an http(s) URL");
        var secret = env.String("GOTRUE_SECURITY_CAPTCHA_SECRET") ?? "";
        if (enabled && secret.Length == 0)
            throw new ConfigException("GOTRUE_SECURITY_CAPTCHA_SECRET is required when GOTRUE_SECURITY_CAPTCHA_ENABLED is true");
        var timeout = env.Duration("GOTRUE_SECURITY_CAPTCHA_TIMEOUT");
        return new CaptchaOptions
        {
            Enabled = enabled,
            Provider = provider,
            Secret = secret,
            // GoTrue: a zero timeout keeps the 10s default.
            Timeout = timeout is { } t && t > TimeSpan.Zero ? t : TimeSpan.FromSeconds(10),
            VerifyUrl = verifyUrl,
        };
    }
}
