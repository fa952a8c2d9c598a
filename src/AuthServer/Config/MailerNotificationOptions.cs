namespace AuthServer.Config;

/// <summary>`GOTRUE_MAILER_NOTIFICATIONS_*_ENABLED` (all off by default, as GoTrue's): a mail to the user after a
/// change to their account. Subjects and bodies via `GOTRUE_MAILER_SUBJECTS_<KIND>_NOTIFICATION` /
/// `GOTRUE_MAILER_TEMPLATES_<KIND>_NOTIFICATION` (<see cref="MailerOptions.Kinds"/>).</summary>
internal sealed class MailerNotificationOptions
{
    public bool PasswordChanged { get; init; }
    public bool EmailChanged { get; init; }
    public bool PhoneChanged { get; init; }
    public bool IdentityLinked { get; init; }
    public bool IdentityUnlinked { get; init; }
    public bool MfaFactorEnrolled { get; init; }
    public bool MfaFactorUnenrolled { get; init; }

    public static MailerNotificationOptions Load(EnvReader env) => new()
    {
        PasswordChanged = env.Bool("GOTRUE_MAILER_NOTIFICATIONS_PASSWORD_CHANGED_ENABLED", false),
        EmailChanged = env.Bool("GOTRUE_MAILER_NOTIFICATIONS_EMAIL_CHANGED_ENABLED", false),
        PhoneChanged = env.Bool("GOTRUE_MAILER_NOTIFICATIONS_PHONE_CHANGED_ENABLED", false),
        IdentityLinked = env.Bool("GOTRUE_MAILER_NOTIFICATIONS_IDENTITY_LINKED_ENABLED", false),
        IdentityUnlinked = env.Bool("GOTRUE_MAILER_NOTIFICATIONS_IDENTITY_UNLINKED_ENABLED", false),
        MfaFactorEnrolled = env.Bool("GOTRUE_MAILER_NOTIFICATIONS_MFA_FACTOR_ENROLLED_ENABLED", false),
        MfaFactorUnenrolled = env.Bool("GOTRUE_MAILER_NOTIFICATIONS_MFA_FACTOR_UNENROLLED_ENABLED", false),
    };
}
