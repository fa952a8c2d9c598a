using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using AuthServer.Config;

namespace AuthServer.Mail;

/// GoTrue's default subjects and bodies (internal/mailer/templatemailer/templatemailer.go) and the
/// `GOTRUE_MAILER_SUBJECTS_*` / `GOTRUE_MAILER_TEMPLATES_*` overrides. A body override is an http(s) URL
/// (a bare path is fetched relative to the site URL, as GoTrue does) or a local file. Loaded templates are
/// cached for GOTRUE_MAILER_TEMPLATE_MAX_AGE (10m), a failed load retried after GOTRUE_MAILER_TEMPLATE_RETRY_INTERVAL
/// (10s); one that fails to load, parse or render is logged and the previous or default one is used.
internal sealed class MailTemplates(MailerOptions options, ApiOptions api, IHttpClientFactory http, ILogger<MailTemplates> log,
    TimeProvider clock)
{
    public static readonly IReadOnlyDictionary<string, string> DefaultSubjects = new Dictionary<string, string>
    {
        ["invite"] = "You've been invited",
        ["confirmation"] = "Confirm your email address",
        ["recovery"] = "Reset your password",
        ["magic_link"] = "Your sign-in link",
        ["email_change"] = "Confirm your new email address",
        ["reauthentication"] = "{{ .Token }} is your verification code",
        ["welcome"] = "Welcome",
        ["password_changed_notification"] = "Your password was changed",
        ["email_changed_notification"] = "Your email address was changed",
        ["phone_changed_notification"] = "Your phone number was changed",
        ["identity_linked_notification"] = "A new sign-in method was linked to your account",
        ["identity_unlinked_notification"] = "A sign-in method was removed from your account",
        ["mfa_factor_enrolled_notification"] = "A new verification method was added to your account",
        ["mfa_factor_unenrolled_notification"] = "A verification method was removed from your account",
    };

    public static readonly IReadOnlyDictionary<string, string> DefaultBodies = new Dictionary<string, string>
    {
        ["invite"] = """
            <h2>You've been invited</h2>

            <p>You've been invited to create an account. Follow the link below to accept.</p>
            <p><a href="{{ .ConfirmationURL }}">Accept invitation</a></p>
            """,
        ["confirmation"] = """
            <h2>Confirm your email address</h2>

            <p>Follow the link below to confirm this email address and finish signing up.</p>
            <p><a href="{{ .ConfirmationURL }}">Confirm email address</a></p>

            """,
        ["recovery"] = """
            <h2>Reset your password</h2>

            <p>We received a request to reset your password. Follow the link below to choose a new one.</p>
            <p><a href="{{ .ConfirmationURL }}">Reset password</a></p>
            <p>If you didn't request this, you can safely ignore this email.</p>
            """,
        ["magic_link"] = """
            <h2>Your sign-in link</h2>

            <p>Follow the link below to sign in. This link expires shortly and can only be used once.</p>
            <p><a href="{{ .ConfirmationURL }}">Sign in</a></p>
            """,
        ["email_change"] = """
            <h2>Confirm your new email address</h2>

            <p>Follow the link below to confirm {{ .NewEmail }} as your new email address.</p>
            <p><a href="{{ .ConfirmationURL }}">Confirm new email address</a></p>
            <p>If you didn't request this change, you can safely ignore this email.</p>
            """,
        ["reauthentication"] = """
            <h2>Your verification code</h2>

            <p>Use the code below to verify your identity. It expires shortly.</p>
            <p>{{ .Token }}</p>
            """,
        // Ours: not a GoTrue template (docs/beyond-gotrue.md "Database connections").
        ["welcome"] = """
            <h2>Welcome</h2>

            <p>Your account for {{ .Email }} has been created.</p>
            <p><a href="{{ .SiteURL }}">Get started</a></p>
            """,
        ["password_changed_notification"] = """
            <h2>Your password was changed</h2>

            <p>The password for your account was recently changed.</p>
            <p>If you didn't make this change, reset your password and contact support immediately.</p>

            """,
        ["email_changed_notification"] = """
            <h2>Your email address was changed</h2>

            <p>The email address for your account was changed from {{ .OldEmail }} to {{ .Email }}.</p>
            <p>If you didn't make this change, contact support immediately.</p>

            """,
        ["phone_changed_notification"] = """
            <h2>Your phone number was changed</h2>

            <p>The phone number for your account was changed from {{ .OldPhone }} to {{ .Phone }}.</p>
            <p>If you didn't make this change, contact support immediately.</p>

            """,
        ["identity_linked_notification"] = """
            <h2>A new sign-in method was linked</h2>

            <p>Your {{ .Provider }} account was linked as a new sign-in method for {{ .Email }}.</p>
            <p>If you didn't make this change, contact support immediately.</p>

            """,
        ["identity_unlinked_notification"] = """
            <h2>A sign-in method was removed</h2>

            <p>Your {{ .Provider }} account was removed as a sign-in method for {{ .Email }}.</p>
            <p>If you didn't make this change, contact support immediately.</p>

            """,
        ["mfa_factor_enrolled_notification"] = """
            <h2>A new verification method was added</h2>

            <p>Sign-in verification method {{ .FactorType }} was added to your account.</p>
            <p>If you didn't make this change, contact support immediately.</p>

            """,
        ["mfa_factor_unenrolled_notification"] = """
            <h2>A verification method was removed</h2>

            <p>Sign-in verification method {{ .FactorType }} was removed from your account.</p>
            <p>If you didn't make this change, contact support immediately.</p>

            """,
    };

    sealed record Entry(GoTemplate? Body, DateTimeOffset LoadedAt, bool Failed);

    readonly ConcurrentDictionary<string, Entry> bodies = new();

    /// Subject and HTML body for one message. Never throws for template problems: defaults instead.
    public async Task<(string Subject, string Body)> RenderAsync(string kind, JsonObject data, CancellationToken ct)
    {
        var values = new Dictionary<string, object?>();
        foreach (var (key, value) in data)
            values[key] = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value;

        string subject;
        try
        {
            subject = options.Subjects.TryGetValue(kind, out var custom)
                ? GoTemplate.Parse(custom).Render(values)
                : GoTemplate.Parse(DefaultSubjects[kind]).Render(values);
        }
        catch (TemplateException e)
        {
            log.LogError("GOTRUE_MAILER_SUBJECTS_{Kind} failed ({Reason}); using the default subject", kind.ToUpperInvariant(), e.Message);
            subject = GoTemplate.Parse(DefaultSubjects[kind]).Render(values);
        }

        var template = await BodyTemplateAsync(kind, ct);
        if (template is not null)
        {
            try { return (subject, template.Render(values)); }
            catch (TemplateException e)
            {
                log.LogError("GOTRUE_MAILER_TEMPLATES_{Kind} failed to render ({Reason}); using the default template",
                    kind.ToUpperInvariant(), e.Message);
            }
        }
        return (subject, GoTemplate.Parse(DefaultBodies[kind]).Render(values));
    }

    async Task<GoTemplate?> BodyTemplateAsync(string kind, CancellationToken ct)
    {
        if (!options.Templates.TryGetValue(kind, out var source)) return null;
        var now = clock.GetUtcNow();
        if (bodies.TryGetValue(kind, out var cached) &&
            now - cached.LoadedAt < (cached.Failed ? options.TemplateRetryInterval : options.TemplateMaxAge))
            return cached.Body;
        try
        {
            string text;
            if (source.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ||
                source.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                text = await FetchAsync(source, ct);
            else if (File.Exists(source))
                text = await File.ReadAllTextAsync(source, ct);
            else
                text = await FetchAsync(api.SiteUrl + source, ct);
            var parsed = GoTemplate.Parse(text);
            bodies[kind] = new Entry(parsed, now, false);
            return parsed;
        }
        catch (Exception e) when (e is HttpRequestException or TemplateException or IOException or TaskCanceledException
                                      or UriFormatException or UnauthorizedAccessException)
        {
            log.LogError("GOTRUE_MAILER_TEMPLATES_{Kind} could not be loaded ({Reason}); using the previous or default template",
                kind.ToUpperInvariant(), e.Message);
            var previous = cached?.Body;
            bodies[kind] = new Entry(previous, now, true);
            return previous;
        }
    }

    async Task<string> FetchAsync(string url, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        using var response = await http.CreateClient(nameof(MailTemplates)).GetAsync(url, timeout.Token);
        if (response.StatusCode != System.Net.HttpStatusCode.OK)
            throw new HttpRequestException($"GET {url}: status code {(int)response.StatusCode}");
        var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        return System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, options.TemplateMaxSize));
    }
}
