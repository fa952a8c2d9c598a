namespace AuthServer.Config;

/// <summary>Multi-factor authentication (config.md §10, GoTrue `MFAConfiguration`).</summary>
internal sealed class MfaOptions
{
    /// <summary>`GOTRUE_MFA_TOTP_ENROLL_ENABLED` (default true).</summary>
    public bool TotpEnrollEnabled { get; init; } = true;
    /// <summary>`GOTRUE_MFA_TOTP_VERIFY_ENABLED` (default true).</summary>
    public bool TotpVerifyEnabled { get; init; } = true;
    /// <summary>`GOTRUE_MFA_PHONE_ENROLL_ENABLED` / `_VERIFY_ENABLED`: phone factors are not built, so only false.</summary>
    public bool PhoneEnrollEnabled { get; init; }
    /// <summary>`GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED` / `_VERIFY_ENABLED`: WebAuthn factors are not built, so only false.</summary>
    public bool WebAuthnEnrollEnabled { get; init; }
    /// <summary>`GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION`: seconds a challenge stays verifiable (values below 300 become 300).</summary>
    public TimeSpan ChallengeExpiry { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>`GOTRUE_MFA_FACTOR_EXPIRY_DURATION`: an unverified factor that was never challenged is deleted after this.</summary>
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
        foreach (var name in new[]
                 {
                     "GOTRUE_MFA_PHONE_ENROLL_ENABLED", "GOTRUE_MFA_PHONE_VERIFY_ENABLED",
                     "GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED", "GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED",
                 })
            if (env.Bool(name, false))
                throw new ConfigException($"{name}: phone and WebAuthn MFA factors are not supported yet (only TOTP)");

        var challengeSeconds = env.Double("GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION", 300);
        return new MfaOptions
        {
            TotpEnrollEnabled = env.Bool("GOTRUE_MFA_TOTP_ENROLL_ENABLED", true),
            TotpVerifyEnabled = env.Bool("GOTRUE_MFA_TOTP_VERIFY_ENABLED", true),
            // GoTrue conf: a challenge expiry below the default is raised to it.
            ChallengeExpiry = TimeSpan.FromSeconds(Math.Max(300, challengeSeconds)),
            FactorExpiry = env.Duration("GOTRUE_MFA_FACTOR_EXPIRY_DURATION") ?? TimeSpan.FromSeconds(300),
            MaxEnrolledFactors = env.Int("GOTRUE_MFA_MAX_ENROLLED_FACTORS", 10, 0),
            MaxVerifiedFactors = env.Int("GOTRUE_MFA_MAX_VERIFIED_FACTORS", 10, 0),
            VerifyAttemptsPerMinute = env.Int("GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY", 15, 1),
        };
    }
}

/// <summary>Optional GoTrue features this server does not implement; each must stay off (config.md §10 †).</summary>
internal static class UnbuiltFeatures
{
    /// GoTrue answers requests to these with its "disabled" errors; turning one on would promise
    /// something we would not deliver, so the boot stops instead.
    public static void EnsureOff(EnvReader env)
    {
        foreach (var name in new[]
                 {
                     "GOTRUE_SAML_ENABLED", "GOTRUE_PASSKEY_ENABLED", "GOTRUE_OAUTH_SERVER_ENABLED",
                     "GOTRUE_EXTERNAL_WEB3_SOLANA_ENABLED", "GOTRUE_EXTERNAL_WEB3_ETHEREUM_ENABLED", "GOTRUE_EXTERNAL_WEB3_KASPA_ENABLED",
                     "GOTRUE_EXPERIMENTAL_SCIM_ENABLED",
                 })
            if (env.Bool(name, false))
                throw new ConfigException($"{name}: this feature is not supported yet; remove the setting or set it to false");
    }
}
