using AuthServer.Config;

namespace AuthServer.Features.Captcha;

/// `GOTRUE_SECURITY_CAPTCHA_*`: the verifier the captcha-protected routes call (RequireCaptcha). No routes.
internal static class CaptchaModule
{
    public static IServiceCollection AddCaptcha(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(CaptchaOptions.Load(env)).AddSingleton<CaptchaVerifier>();
}
