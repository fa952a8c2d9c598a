using AuthServer.Config;
using AuthServer.Features.Captcha;
using AuthServer.Http;
using AuthServer.Security;

namespace AuthServer.Features.Passkeys;

internal static class PasskeysModule
{
    /// GOTRUE_PASSKEY_*, GOTRUE_WEBAUTHN_* (shared with WebAuthn MFA factors) and the relying party.
    public static IServiceCollection AddPasskeys(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(WebAuthnOptions.Load(env)).AddSingleton<RelyingParty>();

    public static void MapPasskeys(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<WebAuthnOptions>();
        if (!options.PasskeyEnabled)
        {
            // GoTrue `requirePasskeyEnabled` guards the whole /passkeys subrouter, before authentication.
            app.Map("/passkeys", PasskeysDisabled);
            app.Map("/passkeys/{**rest}", PasskeysDisabled);
            return;
        }
        // Rate limit (GOTRUE_RATE_LIMIT_PASSKEY) in RateLimitMiddleware, then captcha, as GoTrue's router.
        app.MapPost("/passkeys/authentication/options", PasskeyEndpoints.AuthenticationOptionsAsync).RequireCaptcha();
        app.MapPost("/passkeys/authentication/verify", PasskeyEndpoints.AuthenticationVerifyAsync);
        app.MapPost("/passkeys/registration/options", PasskeyEndpoints.RegistrationOptionsAsync);
        app.MapPost("/passkeys/registration/verify", PasskeyEndpoints.RegistrationVerifyAsync);
        app.MapGet("/passkeys", PasskeyEndpoints.ListAsync);
        app.MapPatch("/passkeys/{passkeyId}", PasskeyEndpoints.UpdateAsync);
        app.MapDelete("/passkeys/{passkeyId}", PasskeyEndpoints.DeleteAsync);
    }

    static IResult PasskeysDisabled() =>
        throw ApiError.NotFound(ErrorCode.PasskeyDisabled, "Passkeys are disabled");
}
