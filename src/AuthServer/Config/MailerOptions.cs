using System.Text.Json;

namespace AuthServer.Config;

/// <summary>SMTP, mail templates, email OTPs and links, email-change and PKCE settings (config.md §4, §6, §7).</summary>
internal sealed class MailerOptions
{
    /// <summary>`GOTRUE_MAILER_TEMPLATE_MAX_AGE` (10m): a loaded `GOTRUE_MAILER_TEMPLATES_*` body is fetched again after this.</summary>
    public TimeSpan TemplateMaxAge { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>`GOTRUE_MAILER_TEMPLATE_RETRY_INTERVAL` (10s): after a failed load, the wait before trying again.</summary>
    public TimeSpan TemplateRetryInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>`GOTRUE_MAILER_TEMPLATE_MAX_SIZE` (1000000): bytes read from a template URL.</summary>
    public int TemplateMaxSize { get; init; } = 1_000_000;

    /// <summary>`GOTRUE_SMTP_HOST`: empty = no SMTP server; mail is queued but never delivered (GoTrue's no-op mailer).</summary>
    public string SmtpHost { get; init; } = "";
    /// <summary>`GOTRUE_SMTP_PORT` (587). Port 465 uses TLS on connect, others STARTTLS when offered.</summary>
    public int SmtpPort { get; init; } = 587;
    /// <summary>`GOTRUE_SMTP_USER`.</summary>
    public string SmtpUser { get; init; } = "";
    /// <summary>`GOTRUE_SMTP_PASS` (never logged).</summary>
    public string SmtpPass { get; init; } = "";
    /// <summary>`GOTRUE_SMTP_ADMIN_EMAIL`: the From address.</summary>
    public string AdminEmail { get; init; } = "";
    /// <summary>`GOTRUE_SMTP_SENDER_NAME`: the From display name.</summary>
    public string SenderName { get; init; } = "";
    /// <summary>`GOTRUE_SMTP_HEADERS`: JSON map of header → values; `$messageType` is replaced by the mail type.</summary>
    public IReadOnlyDictionary<string, string[]> Headers { get; init; } = new Dictionary<string, string[]>();
    /// <summary>`GOTRUE_SMTP_MAX_FREQUENCY` (1m; 0 → 1m): per user and kind, the minimum interval between mails.</summary>
    public TimeSpan MaxFrequency { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>`GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED` (true): an email change is confirmed from both addresses.</summary>
    public bool SecureEmailChangeEnabled { get; init; } = true;
    /// <summary>`GOTRUE_MAILER_OTP_EXP` (3600 s; 0 → 3600): lifetime of email OTPs and links. GoTrue defaults to
    /// 86400; we follow `supabase init`'s `otp_expiry = 3600` and OWASP ASVS 6.5.5 (security-tests O3).</summary>
    public TimeSpan OtpExpiry { get; init; } = TimeSpan.FromSeconds(DefaultOtpExpirySeconds);

    const int DefaultOtpExpirySeconds = 3600;
    /// <summary>`GOTRUE_MAILER_OTP_LENGTH` (6; outside 6–10 → 6).</summary>
    public int OtpLength { get; init; } = 6;
    /// <summary>`GOTRUE_MAILER_URLPATHS_CONFIRMATION` / `_INVITE` / `_RECOVERY` / `_EMAIL_CHANGE` (`/verify`), resolved against API_EXTERNAL_URL like Go's `URL.ResolveReference`.</summary>
    public string ConfirmationPath { get; init; } = "/verify";
    public string InvitePath { get; init; } = "/verify";
    public string RecoveryPath { get; init; } = "/verify";
    public string EmailChangePath { get; init; } = "/verify";
    /// <summary>`GOTRUE_MAILER_SUBJECTS_<KIND>` by template kind (`confirmation`, `invite`, `recovery`, `magic_link`, `email_change`, `reauthentication`, and our `welcome`).</summary>
    public IReadOnlyDictionary<string, string> Subjects { get; init; } = new Dictionary<string, string>();
    /// <summary>`GOTRUE_MAILER_TEMPLATES_<KIND>`: an http(s) URL (a path is relative to the site URL, as GoTrue) or a local file path.</summary>
    public IReadOnlyDictionary<string, string> Templates { get; init; } = new Dictionary<string, string>();
    /// <summary>`GOTRUE_MAILER_EXTERNAL_HOSTS`: hosts accepted from X-Forwarded-Host/Host as the base of email links.</summary>
    public IReadOnlyList<string> ExternalHosts { get; init; } = [];

    /// <summary>`GOTRUE_EXTERNAL_EMAIL_AUTHORIZED_ADDRESSES`: when set, only these recipients may be sent mail
    /// (`+labels` ignored, case-insensitive); others → 400 `email_address_not_authorized`.</summary>
    public IReadOnlyList<string> AuthorizedAddresses { get; init; } = [];
    /// <summary>`GOTRUE_EXTERNAL_EMAIL_MAGIC_LINK_ENABLED` (true).</summary>
    public bool MagicLinkEnabled { get; init; } = true;
    /// <summary>`GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION`: a password change from a session older than 24 h needs the reauthentication `nonce`.</summary>
    public bool UpdatePasswordRequireReauthentication { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION` (300 s, minimum 300 s): PKCE flow lifetime.</summary>
    public TimeSpan FlowStateExpiry { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>`GOTRUE_SECURITY_PKCE_PLAIN_ENABLED` (ours, true): whether a flow started with
    /// `code_challenge_method=plain` can be exchanged. GoTrue always allows it (auth-js falls back to plain
    /// without WebCrypto); false leaves S256 only (RFC 7636 §4.2, ASVS 10.4.6, security-tests P2).</summary>
    public bool PkcePlainEnabled { get; init; } = true;

    /// GoTrue templatemailer's account-change notifications (Mail/Notifications). Declared before
    /// <see cref="Kinds"/>: static initializers run in textual order.
    public static readonly string[] NotificationKinds = ["password_changed_notification", "email_changed_notification",
        "phone_changed_notification", "identity_linked_notification", "identity_unlinked_notification",
        "mfa_factor_enrolled_notification", "mfa_factor_unenrolled_notification"];

    /// `welcome` is ours (`/dbconnections/signup`): GOTRUE_MAILER_SUBJECTS_WELCOME / GOTRUE_MAILER_TEMPLATES_WELCOME.
    public static readonly string[] Kinds = ["confirmation", "invite", "recovery", "magic_link", "email_change", "reauthentication", "welcome",
        .. NotificationKinds];

    public static MailerOptions Load(EnvReader env)
    {
        var frequency = env.Duration("GOTRUE_SMTP_MAX_FREQUENCY");
        var otpExp = env.Int("GOTRUE_MAILER_OTP_EXP", DefaultOtpExpirySeconds, 0);
        var otpLength = env.Int("GOTRUE_MAILER_OTP_LENGTH", 6);
        var flowExpiry = env.Duration("GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION");
        var subjects = new Dictionary<string, string>();
        var templates = new Dictionary<string, string>();
        foreach (var kind in Kinds)
        {
            if (env.String("GOTRUE_MAILER_SUBJECTS_" + kind.ToUpperInvariant()) is { } subject) subjects[kind] = subject;
            if (env.String("GOTRUE_MAILER_TEMPLATES_" + kind.ToUpperInvariant()) is { } template) templates[kind] = template;
        }
        return new MailerOptions
        {
            SmtpHost = env.String("GOTRUE_SMTP_HOST") ?? "",
            SmtpPort = env.Int("GOTRUE_SMTP_PORT", 587, 1, 65535),
            SmtpUser = env.String("GOTRUE_SMTP_USER") ?? "",
            SmtpPass = env.String("GOTRUE_SMTP_PASS") ?? "",
            AdminEmail = env.String("GOTRUE_SMTP_ADMIN_EMAIL") ?? "",
            SenderName = env.String("GOTRUE_SMTP_SENDER_NAME") ?? "",
            Headers = ParseHeaders(env),
            MaxFrequency = frequency is { } f && f > TimeSpan.Zero ? f : TimeSpan.FromMinutes(1),
            SecureEmailChangeEnabled = env.Bool("GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED", true),
            OtpExpiry = TimeSpan.FromSeconds(otpExp == 0 ? DefaultOtpExpirySeconds : otpExp),
            OtpLength = otpLength is >= 6 and <= 10 ? otpLength : 6,
            ConfirmationPath = env.String("GOTRUE_MAILER_URLPATHS_CONFIRMATION") ?? "/verify",
            InvitePath = env.String("GOTRUE_MAILER_URLPATHS_INVITE") ?? "/verify",
            RecoveryPath = env.String("GOTRUE_MAILER_URLPATHS_RECOVERY") ?? "/verify",
            EmailChangePath = env.String("GOTRUE_MAILER_URLPATHS_EMAIL_CHANGE") ?? "/verify",
            Subjects = subjects,
            Templates = templates,
            ExternalHosts = env.List("GOTRUE_MAILER_EXTERNAL_HOSTS"),
            AuthorizedAddresses = env.List("GOTRUE_EXTERNAL_EMAIL_AUTHORIZED_ADDRESSES"),
            MagicLinkEnabled = env.Bool("GOTRUE_EXTERNAL_EMAIL_MAGIC_LINK_ENABLED", true),
            UpdatePasswordRequireReauthentication = env.Bool("GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION", false),
            FlowStateExpiry = flowExpiry is { } e && e > TimeSpan.FromSeconds(300) ? e : TimeSpan.FromSeconds(300),
            PkcePlainEnabled = env.Bool("GOTRUE_SECURITY_PKCE_PLAIN_ENABLED", true),
            TemplateMaxAge = env.Duration("GOTRUE_MAILER_TEMPLATE_MAX_AGE") is { } age && age > TimeSpan.Zero ? age : TimeSpan.FromMinutes(10),
            TemplateRetryInterval = env.Duration("GOTRUE_MAILER_TEMPLATE_RETRY_INTERVAL") is { } retry && retry > TimeSpan.Zero
                ? retry : TimeSpan.FromSeconds(10),
            TemplateMaxSize = env.Int("GOTRUE_MAILER_TEMPLATE_MAX_SIZE", 1_000_000) is var size and > 0 ? size : 1_000_000,
        };
    }

    /// GoTrue logs a warning for headers that are not a JSON object of string arrays and sends without
    /// them; ours GOTRUE_STRICT_CONFIG=true refuses the boot instead.
    static Dictionary<string, string[]> ParseHeaders(EnvReader env)
    {
        if (env.String("GOTRUE_SMTP_HEADERS") is not { } json) return [];
        try
        {
            if (JsonSerializer.Deserialize<Dictionary<string, string[]>>(json) is { } headers) return headers;
        }
        catch (JsonException)
        {
            // reported below
        }
        env.Stricter("GOTRUE_SMTP_HEADERS: not a JSON object of string arrays (e.g. {\"X-Tag\": [\"auth\"]}); ignored");
        return [];
    }
}
