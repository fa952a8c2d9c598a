using System.Reflection;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Http;

namespace AuthServer.Features.Console;

/// <summary>The admin console (ours, not in GoTrue): `GOTRUE_ADMIN_CONSOLE_ENABLED`.</summary>
internal sealed class ConsoleOptions
{
    /// <summary>`GOTRUE_ADMIN_CONSOLE_ENABLED` (default false): serve the console at `/admin/console`.</summary>
    public bool Enabled { get; init; }

    public static ConsoleOptions Load(EnvReader env) => new() { Enabled = env.Bool("GOTRUE_ADMIN_CONSOLE_ENABLED", false) };
}

/// The admin console (issue 20, docs/console.md): a static page embedded in the server that drives the
/// public admin API from the browser. The page holds the only credential (a service_role key or an admin
/// user's access token, in sessionStorage); these routes serve files and need none, except the settings
/// summary, which is admin-only like the rest of the admin API.
internal static class ConsoleModule
{
    // Scripts and styles only from this server, no eval, no inline code, never framed: user-controlled data
    // rendered by mistake as markup still cannot run.
    const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    static readonly Dictionary<string, string> Files = new(StringComparer.Ordinal)
    {
        ["console.js"] = "text/javascript; charset=utf-8",
        ["console.css"] = "text/css; charset=utf-8",
    };

    public static IServiceCollection AddConsole(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(ConsoleOptions.Load(env));

    public static void MapConsole(this IEndpointRouteBuilder app)
    {
        // Off: the routes do not exist, so /admin/console is the fallback's 404.
        if (!app.ServiceProvider.GetRequiredService<ConsoleOptions>().Enabled) return;
        // The page and its files are not API: kept out of /openapi.json.
        app.MapGet("/admin/console", (HttpContext http) => Serve(http, "index.html", "text/html; charset=utf-8"))
            .ExcludeFromDescription();
        app.MapGet("/admin/console/{file}", (string file, HttpContext http) =>
            Files.TryGetValue(file, out var type) ? Serve(http, file, type) : Results.Text("404 page not found\n", "text/plain", statusCode: 404))
            .ExcludeFromDescription();
        app.MapGet("/admin/console/api/settings", ConsoleSettings.Get);
    }

    static IResult Serve(HttpContext http, string file, string contentType)
    {
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers.CacheControl = "no-cache";
        if (file != "index.html") return Results.Bytes(Read(file), contentType);
        // Asset URLs under the path the page was reached by (`/auth/v1` or none): the path base is the
        // server's own constant, never request text.
        var html = System.Text.Encoding.UTF8.GetString(Read(file)).Replace("{{base}}", http.Request.PathBase + "/admin/console");
        return Results.Text(html, contentType);
    }

    static readonly Dictionary<string, byte[]> Cache = new(StringComparer.Ordinal);

    static byte[] Read(string file)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(file, out var bytes)) return bytes;
            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("console/" + file)
                ?? throw new InvalidOperationException("console asset missing from the assembly: " + file);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return Cache[file] = copy.ToArray();
        }
    }
}

/// `GET /admin/console/api/settings` (admin): the effective configuration an operator looks up when a user
/// cannot sign in, without a secret (no JWT secret or keys, SMTP password, provider secrets, database URL).
internal static class ConsoleSettings
{
    public static IResult Get(AdminUser admin, ApiOptions api, JwtOptions jwt, AuthOptions auth, PasswordOptions passwords,
        RefreshOptions refresh, MailerOptions mailer)
    {
        var settings = new JsonObject
        {
            ["API_EXTERNAL_URL"] = api.ExternalUrl.ToString(),
            ["GOTRUE_SITE_URL"] = api.SiteUrl,
            ["GOTRUE_URI_ALLOW_LIST"] = string.Join(",", api.UriAllowList),
            ["GOTRUE_JWT_AUD"] = jwt.Aud,
            ["GOTRUE_JWT_EXP"] = jwt.ExpirySeconds,
            ["GOTRUE_JWT_DEFAULT_GROUP_NAME"] = jwt.DefaultGroupName,
            ["GOTRUE_JWT_ADMIN_ROLES"] = string.Join(",", jwt.AdminRoles),
            ["GOTRUE_JWT_ISSUER"] = jwt.Issuer,
            ["GOTRUE_DISABLE_SIGNUP"] = auth.DisableSignup,
            ["GOTRUE_EXTERNAL_EMAIL_ENABLED"] = auth.EmailEnabled,
            ["GOTRUE_EXTERNAL_PHONE_ENABLED"] = auth.PhoneEnabled,
            ["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = auth.AnonymousEnabled,
            ["GOTRUE_MAILER_AUTOCONFIRM"] = auth.MailerAutoconfirm,
            ["GOTRUE_SMS_AUTOCONFIRM"] = auth.SmsAutoconfirm,
            ["GOTRUE_SMS_PROVIDER"] = auth.SmsProvider,
            ["GOTRUE_PASSWORD_MIN_LENGTH"] = passwords.MinLength,
            ["GOTRUE_PASSWORD_REQUIRED_CHARACTERS"] = string.Join(":", passwords.RequiredCharacters),
            ["GOTRUE_PASSWORD_HIBP_ENABLED"] = passwords.Hibp.Enabled,
            ["GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED"] = refresh.RotationEnabled,
            ["GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL"] = refresh.ReuseIntervalSeconds,
            ["GOTRUE_SESSIONS_TIMEBOX"] = refresh.Timebox?.ToString() ?? "",
            ["GOTRUE_SESSIONS_INACTIVITY_TIMEOUT"] = refresh.InactivityTimeout?.ToString() ?? "",
            ["GOTRUE_SESSIONS_SINGLE_PER_USER"] = refresh.SinglePerUser,
            ["GOTRUE_SMTP_HOST"] = mailer.SmtpHost,
            ["GOTRUE_SMTP_PORT"] = mailer.SmtpPort,
            ["GOTRUE_SMTP_ADMIN_EMAIL"] = mailer.AdminEmail,
            ["GOTRUE_SMTP_MAX_FREQUENCY"] = mailer.MaxFrequency.ToString(),
            ["GOTRUE_MAILER_OTP_EXP"] = (int)mailer.OtpExpiry.TotalSeconds,
            ["GOTRUE_MAILER_OTP_LENGTH"] = mailer.OtpLength,
            ["GOTRUE_EXTERNAL_EMAIL_MAGIC_LINK_ENABLED"] = mailer.MagicLinkEnabled,
        };
        return Results.Json(settings, Json.Options);
    }
}
