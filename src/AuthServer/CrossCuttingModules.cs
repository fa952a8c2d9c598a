namespace AuthServer;

/// The modules outside Features/ that every area builds on (Captcha too: several areas' routes require it),
/// in the order their options depend on each other.
internal static class CrossCuttingModules
{
    public static WebApplicationBuilder AddCrossCutting(this WebApplicationBuilder builder, EnvReader env)
    {
        builder.AddHttp(env);
        builder.Services.AddObservability(env).AddData(env).AddSecurity(env).AddSessions(env).AddMail(env)
            .AddSms(env).AddHooks(env).AddRateLimits(env).AddCaptcha(env);
        return builder;
    }
}
