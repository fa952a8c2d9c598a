using System.Text.Json.Nodes;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// POST /dbconnections/signup: autoconfirm off (new users stay unverified), one client id on the seeded
/// connection, an 8-character password minimum (seeded into the connection), and the rate limit keyed
/// on X-Forwarded-For so each test spends its own budget. Mails carry their kind in X-Mail-Kind; the welcome
/// subject is overridden (GOTRUE_MAILER_SUBJECTS_WELCOME).
/// </summary>
public sealed class DbConnectionFixture : AuthServerFixture
{
    public const string ClientId = "app-1";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_MAILER_AUTOCONFIRM"] = "false";
        settings["GOTRUE_DBCONNECTIONS_CLIENT_IDS"] = ClientId;
        settings["GOTRUE_RATE_LIMIT_HEADER"] = "X-Forwarded-For";
        // The test client is the proxy: its X-Forwarded-For picks the bucket.
        settings["GOTRUE_RATE_LIMIT_TRUSTED_PROXIES"] = "127.0.0.1/32";
        settings["GOTRUE_PASSWORD_MIN_LENGTH"] = "8";
        settings["GOTRUE_MAILER_SUBJECTS_WELCOME"] = "Welcome{{ if .Data.given_name }}, {{ .Data.given_name }}{{ end }}";
        settings["GOTRUE_SMTP_HEADERS"] = """{"X-Mail-Kind": ["$messageType"]}""";
    }
}

/// <summary>GOTRUE_PROFILE_AUTO_CREATE=false, anonymous sign-ins on.</summary>
public sealed class ProfileManualFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_PROFILE_AUTO_CREATE"] = "false";
        settings["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = "true";
    }
}

/// <summary>Cookie sessions on, cookie key `myapp`, site URL plain-http localhost (so not Secure). Trusted
/// origins besides the site URL's: `*.trusted.example` (allow-list glob) and `https://extra.example`
/// (GOTRUE_COOKIE_ALLOWED_ORIGINS). Manual linking on, so `/user/identities/authorize` gets past its gate.</summary>
public sealed class CookieFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_COOKIE_ENABLED"] = "true";
        settings["GOTRUE_COOKIE_KEY"] = "myapp";
        settings["GOTRUE_URI_ALLOW_LIST"] = "https://*.trusted.example/**";
        settings["GOTRUE_COOKIE_ALLOWED_ORIGINS"] = "https://extra.example";
        settings["GOTRUE_SECURITY_MANUAL_LINKING_ENABLED"] = "true";
    }
}

/// <summary>Cookie sessions on with an https site URL and a cookie domain/duration.</summary>
public sealed class SecureCookieFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_COOKIE_ENABLED"] = "true";
        settings["GOTRUE_SITE_URL"] = "https://app.example.com";
        settings["GOTRUE_COOKIE_DOMAIN"] = "example.com";
        settings["GOTRUE_COOKIE_DURATION"] = "3600";
    }
}

public static class ServiceRole
{
    /// <summary>A service_role API key as `supabase start` prints one (no sub, no session).</summary>
    public static string Key() => Jwt.Sign(new JsonObject
    {
        ["role"] = "service_role",
        ["iss"] = "supabase-demo",
        ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
    }, AuthServerFixture.JwtSecret);
}
