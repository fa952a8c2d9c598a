using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Features.Sso;

namespace AuthServer.Features.Health;

/// `GET /health` and `GET /settings`, public and shaped like GoTrue's.
internal static class HealthEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/health", () => Results.Json(new JsonObject
        {
            ["version"] = typeof(HealthEndpoints).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
            ["name"] = "GoTrue",
            ["description"] = "GoTrue is a user registration and authentication API",
        }));
        app.MapGet("/settings", (AuthOptions auth, ExternalOptions external, WebAuthnOptions webAuthn, SamlOptions saml) =>
            Results.Json(Settings(auth, external, webAuthn, saml)));
    }

    static readonly string[] OAuthProviders =
    [
        "apple", "azure", "bitbucket", "discord", "facebook", "snapchat", "figma", "fly", "github", "gitlab",
        "google", "keycloak", "kakao", "linkedin", "linkedin_oidc", "notion", "spotify", "slack", "slack_oidc",
        "workos", "twitch", "twitter", "vercel_marketplace", "x",
    ];

    static JsonObject Settings(AuthOptions auth, ExternalOptions external, WebAuthnOptions webAuthn, SamlOptions saml)
    {
        var externalJson = new JsonObject { ["anonymous_users"] = auth.AnonymousEnabled };
        foreach (var provider in OAuthProviders) externalJson[provider] = external.IsEnabled(provider);
        externalJson["email"] = auth.EmailEnabled;
        externalJson["phone"] = auth.PhoneEnabled;
        externalJson["zoom"] = external.IsEnabled("zoom");
        return new JsonObject
        {
            ["external"] = externalJson,
            ["disable_signup"] = auth.DisableSignup,
            ["mailer_autoconfirm"] = auth.MailerAutoconfirm,
            ["phone_autoconfirm"] = auth.SmsAutoconfirm,
            ["sms_provider"] = auth.SmsProvider,
            ["saml_enabled"] = saml.Enabled,
            ["saml_private_key_next_configured"] = saml.NextKey is not null,
            ["passkeys_enabled"] = webAuthn.PasskeyEnabled,
        };
    }
}
