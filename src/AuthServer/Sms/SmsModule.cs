using AuthServer.Config;

namespace AuthServer.Sms;

/// `GOTRUE_SMS_*`: the SMS providers (Twilio, MessageBird, Textlocal, Vonage) and the send-SMS hook.
internal static class SmsModule
{
    public static IServiceCollection AddSms(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(SmsOptions.Load(env)).AddSingleton<SmsSender>();
}
