using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// Mailer autoconfirm off, and every template printing both the link and the OTP ("code: 123456"), as a
/// Supabase project's templates do, so tests read both from the received mail.
/// </summary>
public class EmailFixture : AuthServerFixture
{
    public const string SiteUrl = "http://localhost:3000";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_MAILER_AUTOCONFIRM"] = "false";
        settings["GOTRUE_URI_ALLOW_LIST"] = "https://app.example.com/**,myapp://callback";
        var dir = Directory.CreateTempSubdirectory("authserver-templates").FullName;
        foreach (var kind in new[] { "CONFIRMATION", "INVITE", "RECOVERY", "MAGIC_LINK", "EMAIL_CHANGE" })
        {
            var path = Path.Combine(dir, kind + ".html");
            File.WriteAllText(path, $$$"""<p>{{{kind}}} for {{ .Email }}</p><p>code: {{ .Token }}</p><a href="{{ .ConfirmationURL }}">go</a>""");
            settings["GOTRUE_MAILER_TEMPLATES_" + kind] = path;
        }
        ConfigureMore(settings);
    }

    protected virtual void ConfigureMore(IDictionary<string, string> settings)
    {
    }

    /// <summary>A service_role JWT for admin routes.</summary>
    public static string ServiceRoleKey => Jwt.Sign(new JsonObject
    {
        ["role"] = "service_role",
        ["iss"] = "supabase-demo",
        ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
    }, JwtSecret);

    /// <summary>A confirmed user with a session, created through sign-up + the confirmation mail.</summary>
    public async Task<(string Email, JsonObject Session)> ConfirmedUserAsync(string prefix = "user")
    {
        var email = NewEmail(prefix);
        using var client = CreateClient();
        await OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" }));
        var mail = await Mail.LatestAsync(email);
        var session = await OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code }));
        return (email, session);
    }

    public static (string Verifier, string Challenge) NewPkcePair()
    {
        var verifier = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var challenge = Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return (verifier, challenge);
    }
}

/// <summary>Single-confirmation email change (GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED=false).</summary>
public sealed class InsecureEmailChangeFixture : EmailFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings) =>
        settings["GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED"] = "false";
}

/// <summary>Password changes need the reauthentication nonce when the session is older than 24 h.</summary>
public sealed class ReauthenticationFixture : EmailFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings) =>
        settings["GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION"] = "true";
}

/// <summary>The SMTP server is down at start: GOTRUE_SMTP_PORT points at a port nobody listens on.</summary>
public sealed class SmtpDownFixture : EmailFixture
{
    public SmtpCatcher LateMail { get; } = new();
    public int DownPort { get; } = SmtpCatcher.FreePort();

    protected override void ConfigureMore(IDictionary<string, string> settings) =>
        settings["GOTRUE_SMTP_PORT"] = DownPort.ToString();
}

/// <summary>The SMTP server accepts connections and never answers.</summary>
public sealed class SmtpHangingFixture : EmailFixture
{
    public SmtpCatcher Hanging { get; } = new() { Hang = true };

    protected override void ConfigureMore(IDictionary<string, string> settings)
    {
        Hanging.Start();
        settings["GOTRUE_SMTP_PORT"] = Hanging.Port.ToString();
    }
}
