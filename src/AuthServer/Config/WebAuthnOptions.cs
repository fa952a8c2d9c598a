namespace AuthServer.Config;

/// <summary>
/// The WebAuthn relying party shared by passkeys and WebAuthn MFA factors, and the passkey switch (GoTrue
/// `WebAuthnConfiguration`, `PasskeyConfiguration`).
/// </summary>
internal sealed class WebAuthnOptions
{
    /// <summary>`GOTRUE_PASSKEY_ENABLED` (default false): the `/passkeys` routes.</summary>
    public bool PasskeyEnabled { get; init; }
    /// <summary>`GOTRUE_PASSKEY_MAX_PASSKEYS_PER_USER` (default 10).</summary>
    public int MaxPasskeysPerUser { get; init; } = 10;
    /// <summary>`GOTRUE_WEBAUTHN_RP_ID`: the relying party id (a registrable domain, e.g. `example.com`).</summary>
    public string RpId { get; init; } = "";
    /// <summary>`GOTRUE_WEBAUTHN_RP_DISPLAY_NAME`: the name authenticators show.</summary>
    public string RpDisplayName { get; init; } = "";
    /// <summary>`GOTRUE_WEBAUTHN_RP_ORIGINS`: comma-separated origins a ceremony may come from.</summary>
    public IReadOnlyList<string> RpOrigins { get; init; } = [];
    /// <summary>`GOTRUE_WEBAUTHN_CHALLENGE_EXPIRY_DURATION` (default 5m): how long a passkey challenge is usable.</summary>
    public TimeSpan ChallengeExpiry { get; init; } = TimeSpan.FromMinutes(5);

    public bool IsComplete => RpId.Length > 0 && RpDisplayName.Length > 0 && RpOrigins.Count > 0;

    public static WebAuthnOptions Load(EnvReader env)
    {
        var options = new WebAuthnOptions
        {
            PasskeyEnabled = env.Bool("GOTRUE_PASSKEY_ENABLED", false),
            MaxPasskeysPerUser = env.Int("GOTRUE_PASSKEY_MAX_PASSKEYS_PER_USER", 10),
            RpId = env.String("GOTRUE_WEBAUTHN_RP_ID", "RP_ID") ?? "",
            RpDisplayName = env.String("GOTRUE_WEBAUTHN_RP_DISPLAY_NAME") ?? "",
            RpOrigins = env.List("GOTRUE_WEBAUTHN_RP_ORIGINS"),
            ChallengeExpiry = env.Duration("GOTRUE_WEBAUTHN_CHALLENGE_EXPIRY_DURATION") ?? TimeSpan.FromMinutes(5),
        };
        // GoTrue conf Validate: an incomplete relying party only logs a warning; ceremonies then fail.
        var webAuthnMfa = env.Bool("GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED", false) || env.Bool("GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED", false);
        if ((options.PasskeyEnabled || webAuthnMfa) && !options.IsComplete)
            env.Warn("WebAuthn configuration is invalid: GOTRUE_WEBAUTHN_RP_ID, GOTRUE_WEBAUTHN_RP_DISPLAY_NAME and GOTRUE_WEBAUTHN_RP_ORIGINS are required when passkeys or WebAuthn MFA are enabled");
        return options;
    }
}
