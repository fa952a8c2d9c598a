namespace AuthServer.Config;

/// <summary>Multi-factor authentication (config.md §10, GoTrue `MFAConfiguration`).</summary>
internal sealed class MfaOptions
{
    /// <summary>`GOTRUE_MFA_TOTP_ENROLL_ENABLED` (default true).</summary>
    public bool TotpEnrollEnabled { get; init; } = true;
    /// <summary>`GOTRUE_MFA_TOTP_VERIFY_ENABLED` (default true).</summary>
    public bool TotpVerifyEnabled { get; init; } = true;
    /// <summary>`GOTRUE_MFA_PHONE_ENROLL_ENABLED` (default false).</summary>
    public bool PhoneEnrollEnabled { get; init; }
    /// <summary>`GOTRUE_MFA_PHONE_VERIFY_ENABLED` (default false): challenge and verify of phone factors.</summary>
    public bool PhoneVerifyEnabled { get; init; }
    /// <summary>`GOTRUE_MFA_PHONE_OTP_LENGTH` (default 6; a value outside 6–10 becomes 6, as in GoTrue).</summary>
    public int PhoneOtpLength { get; init; } = 6;
    /// <summary>`GOTRUE_MFA_PHONE_TEMPLATE` (default "Your code is {{ .Code }}"); a template that does not parse stops the boot.</summary>
    public string PhoneTemplate { get; init; } = SmsOptions.DefaultTemplate;
    /// <summary>`GOTRUE_MFA_PHONE_MAX_FREQUENCY`: minimum interval between two challenges of one phone factor (default 1m).</summary>
    public TimeSpan PhoneMaxFrequency { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>`GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED` (default false); the relying party is GOTRUE_WEBAUTHN_*.</summary>
    public bool WebAuthnEnrollEnabled { get; init; }
    /// <summary>`GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED` (default false): challenge and verify of WebAuthn factors.</summary>
    public bool WebAuthnVerifyEnabled { get; init; }
    /// <summary>`GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION`: seconds a challenge stays verifiable (values below 300 become 300).</summary>
    public TimeSpan ChallengeExpiry { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>`GOTRUE_MFA_FACTOR_EXPIRY_DURATION`: an unverified factor that was never challenged is deleted after this
    /// (values below 300s become 300s, as in GoTrue).</summary>
    public TimeSpan FactorExpiry { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>`GOTRUE_MFA_MAX_ENROLLED_FACTORS` (default 10).</summary>
    public int MaxEnrolledFactors { get; init; } = 10;
    /// <summary>`GOTRUE_MFA_MAX_VERIFIED_FACTORS` (default 10).</summary>
    public int MaxVerifiedFactors { get; init; } = 10;
    /// <summary>
    /// `GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY` (default 15): GoTrue's per-IP requests per minute. Here
    /// also the number of failed TOTP verifications a factor may have per minute, enforced in the database.
    /// </summary>
    public int VerifyAttemptsPerMinute { get; init; } = 15;

    public static MfaOptions Load(EnvReader env)
    {
        var challengeSeconds = env.Double("GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION", 300);
        // GoTrue conf ApplyDefaults: an OTP length outside 6–10 becomes 6, a zero frequency one minute.
        var otpLength = env.Int("GOTRUE_MFA_PHONE_OTP_LENGTH", 6);
        var phoneEnroll = env.Bool("GOTRUE_MFA_PHONE_ENROLL_ENABLED", false);
        var phoneVerify = env.Bool("GOTRUE_MFA_PHONE_VERIFY_ENABLED", false);
        var template = env.String("GOTRUE_MFA_PHONE_TEMPLATE") is { Length: > 0 } t ? t : SmsOptions.DefaultTemplate;
        // GoTrue parses the template only when phone MFA is on, and a parse error stops its boot.
        if (phoneEnroll || phoneVerify)
        {
            try { AuthServer.Mail.GoTemplate.Parse(template); }
            catch (AuthServer.Mail.TemplateException e)
            {
                throw new ConfigException($"GOTRUE_MFA_PHONE_TEMPLATE: {e.Message}");
            }
        }
        return new MfaOptions
        {
            TotpEnrollEnabled = env.Bool("GOTRUE_MFA_TOTP_ENROLL_ENABLED", true),
            TotpVerifyEnabled = env.Bool("GOTRUE_MFA_TOTP_VERIFY_ENABLED", true),
            PhoneEnrollEnabled = phoneEnroll,
            WebAuthnEnrollEnabled = env.Bool("GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED", false),
            WebAuthnVerifyEnabled = env.Bool("GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED", false),
            PhoneVerifyEnabled = phoneVerify,
            PhoneOtpLength = otpLength is < 6 or > 10 ? 6 : otpLength,
            PhoneTemplate = template,
            PhoneMaxFrequency = env.Duration("GOTRUE_MFA_PHONE_MAX_FREQUENCY") is { } f && f != TimeSpan.Zero ? f : TimeSpan.FromMinutes(1),
            // GoTrue conf: a challenge expiry below the default is raised to it.
            ChallengeExpiry = TimeSpan.FromSeconds(Math.Max(300, challengeSeconds)),
            // GoTrue conf ApplyDefaults: a factor expiry below 300s is raised to 300s.
            FactorExpiry = env.Duration("GOTRUE_MFA_FACTOR_EXPIRY_DURATION") is { } fe && fe > TimeSpan.FromSeconds(300)
                ? fe : TimeSpan.FromSeconds(300),
            MaxEnrolledFactors = env.Int("GOTRUE_MFA_MAX_ENROLLED_FACTORS", 10, 0),
            MaxVerifiedFactors = env.Int("GOTRUE_MFA_MAX_VERIFIED_FACTORS", 10, 0),
            VerifyAttemptsPerMinute = env.Int("GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY", 15, 1),
        };
    }
}

/// <summary>Optional GoTrue features this server does not implement (config.md §10 †).</summary>
internal static class UnbuiltFeatures
{
    /// Switching one on never stops the boot (GoTrue boots with them): one warning names it, and its
    /// routes keep GoTrue's answers for the feature switched off (Features/Disabled).
    public static void WarnIfOn(EnvReader env)
    {
        foreach (var name in new[]
                 {
                     "GOTRUE_EXTERNAL_WEB3_KASPA_ENABLED",
                     "GOTRUE_EXPERIMENTAL_SCIM_ENABLED",
                 })
            if (env.Bool(name, false))
                env.Warn($"{name} is on, but this feature is not built yet: its routes answer as with the feature off");
    }
}
