using AuthServer.Config;

namespace AuthServer.Mail;

/// `GOTRUE_SMTP_*`, `GOTRUE_MAILER_*`: templates, the PostgreSQL outbox and its sender, notification mails.
internal static class MailModule
{
    public static IServiceCollection AddMail(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(MailerOptions.Load(env)).AddSingleton(MailerNotificationOptions.Load(env))
            .AddSingleton<Notifications>().AddSingleton<Outbox>().AddSingleton<Mailer>().AddSingleton<MailTemplates>()
            .AddSingleton<SendEmailHook>().AddHostedService<MailSender>();
}
