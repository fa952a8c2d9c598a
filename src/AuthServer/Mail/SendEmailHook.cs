using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Hooks;
using Npgsql;

namespace AuthServer.Mail;

/// The Send Email hook (`GOTRUE_HOOK_SEND_EMAIL_*`): when on, it replaces SMTP for every auth email. GoTrue
/// (internal/api/mail.go `sendEmail`) calls it inside the request; we keep the outbox's guarantee instead:
/// the hook input is built and sealed with the message in the request's transaction, and `MailSender`
/// calls the hook in the background, retrying an outage with backoff like an SMTP outage.
internal sealed class SendEmailHook(HookRunner hooks)
{
    public bool Enabled => hooks.Options.SendEmail.Enabled;

    /// `{user, email_data}` as GoTrue's `v0hooks.SendEmailInput` (minus `metadata`, added at delivery), or
    /// null when the hook is off. The user is read inside the caller's transaction, so it shows the state
    /// the mail was queued with (e.g. `new_email` during an email change), as GoTrue passes it.
    public async Task<JsonObject?> PayloadAsync(NpgsqlConnection conn, Guid userId, string actionType, MailLinks links,
        CancellationToken ct, string token = "", string tokenHash = "", string tokenNew = "", string tokenHashNew = "",
        JsonObject? extra = null)
    {
        if (!Enabled) return null;
        var (user, identities) = (await UserQueries.FindWithIdentitiesAsync(conn, userId, ct))!.Value;
        // mailer.EmailData: the first seven keys always, the notification fields only when set (omitempty).
        var emailData = new JsonObject
        {
            ["token"] = token,
            ["token_hash"] = tokenHash,
            ["redirect_to"] = links.Referrer,
            ["email_action_type"] = actionType,
            // GoTrue sends `externalURL.String()` (API_EXTERNAL_URL), not GOTRUE_SITE_URL, despite the name.
            ["site_url"] = links.ExternalUrl.OriginalString,
            ["token_new"] = tokenNew,
            ["token_hash_new"] = tokenHashNew,
        };
        if (extra is not null)
            foreach (var (key, value) in extra)
                emailData[key] = value?.DeepClone();
        return new JsonObject { ["user"] = UserJson.From(user, identities), ["email_data"] = emailData };
    }

    /// Calls the hook for one queued message; throws as <see cref="HookRunner.RunAsync"/> does.
    public Task DeliverAsync(JsonObject payload, DateTimeOffset now, CancellationToken ct)
    {
        var input = new JsonObject
        {
            // v0hooks.Metadata (the request's IP is not kept with the message: `ip_address` is omitempty).
            ["metadata"] = new JsonObject
            {
                ["uuid"] = Guid.NewGuid().ToString(),
                ["time"] = now.UtcDateTime.ToString("O"),
                ["name"] = "send-email",
            },
            ["user"] = payload["user"]?.DeepClone(),
            ["email_data"] = payload["email_data"]?.DeepClone(),
        };
        return hooks.RunAsync(hooks.Options.SendEmail, null, input, ct);
    }
}
