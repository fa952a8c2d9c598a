using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.Mail;

/// GoTrue's account-change notifications (internal/api/mail.go `send*Notification`, templatemailer
/// `*NotificationMail`), each behind its `GOTRUE_MAILER_NOTIFICATIONS_*_ENABLED`. Queued in the caller's
/// transaction, so a mail exists exactly when the change commits; with the Send Email hook on, the hook gets it
/// (`email_action_type` = the template name, plus `old_email`/`old_phone`/`provider`/`factor_type`). As in GoTrue,
/// a notification that cannot be sent (recipient not authorized, email budget spent) is logged and the change
/// still succeeds. Callers call <see cref="Outbox.Notify"/> after committing (the sender also polls each second).
internal sealed class Notifications(MailerNotificationOptions options, ApiOptions api, Outbox outbox, SendEmailHook hook,
    Mailer mailer, TimeProvider clock, ILogger<Notifications> log)
{
    public Task PasswordChangedAsync(NpgsqlConnection conn, Guid userId, CancellationToken ct) =>
        options.PasswordChanged ? QueueAsync(conn, userId, "password_changed_notification", null, [], ct) : Task.CompletedTask;

    /// To the old address, which is the one that may have lost the account.
    public Task EmailChangedAsync(NpgsqlConnection conn, Guid userId, string oldEmail, CancellationToken ct) =>
        options.EmailChanged && oldEmail.Length > 0
            ? QueueAsync(conn, userId, "email_changed_notification", oldEmail,
                [new("OldEmail", "old_email", oldEmail)], ct)
            : Task.CompletedTask;

    public Task PhoneChangedAsync(NpgsqlConnection conn, Guid userId, string oldPhone, CancellationToken ct) =>
        options.PhoneChanged ? QueueAsync(conn, userId, "phone_changed_notification", null,
            [new("OldPhone", "old_phone", oldPhone)], ct) : Task.CompletedTask;

    public Task IdentityLinkedAsync(NpgsqlConnection conn, Guid userId, string provider, CancellationToken ct) =>
        options.IdentityLinked ? QueueAsync(conn, userId, "identity_linked_notification", null,
            [new("Provider", "provider", provider)], ct) : Task.CompletedTask;

    /// To the address the user had before unlinking (GoTrue `recipientEmail`): unlinking may promote another one.
    public Task IdentityUnlinkedAsync(NpgsqlConnection conn, Guid userId, string provider, string? recipient, CancellationToken ct) =>
        options.IdentityUnlinked ? QueueAsync(conn, userId, "identity_unlinked_notification", string.IsNullOrEmpty(recipient) ? null : recipient,
            [new("Provider", "provider", provider)], ct) : Task.CompletedTask;

    public Task MfaFactorEnrolledAsync(NpgsqlConnection conn, Guid userId, string factorType, CancellationToken ct) =>
        options.MfaFactorEnrolled ? QueueAsync(conn, userId, "mfa_factor_enrolled_notification", null,
            [new("FactorType", "factor_type", factorType)], ct) : Task.CompletedTask;

    public Task MfaFactorUnenrolledAsync(NpgsqlConnection conn, Guid userId, string factorType, CancellationToken ct) =>
        options.MfaFactorUnenrolled ? QueueAsync(conn, userId, "mfa_factor_unenrolled_notification", null,
            [new("FactorType", "factor_type", factorType)], ct) : Task.CompletedTask;

    /// One template variable and its Send Email hook `email_data` field.
    sealed record Field(string TemplateName, string HookName, string Value);

    async Task QueueAsync(NpgsqlConnection conn, Guid userId, string kind, string? recipient, Field[] fields,
        CancellationToken ct)
    {
        var (user, _) = (await UserQueries.FindWithIdentitiesAsync(conn, userId, ct))!.Value;
        var to = recipient ?? user.Email ?? "";
        if (to.Length == 0) return; // GoTrue: only users with an email address are notified
        try
        {
            mailer.EnsureAuthorized(to);
        }
        catch (ApiError e)
        {
            log.LogWarning("Not sending {Kind} mail: {Reason}", kind, e.Message);
            return;
        }
        if (!await mailer.TrySpendBudgetAsync(ct))
        {
            log.LogWarning("Not sending {Kind} mail: email rate limit exceeded", kind);
            return;
        }
        var data = new JsonObject
        {
            ["SiteURL"] = api.SiteUrl,
            ["Email"] = user.Email ?? "",
            ["Data"] = user.UserMetadata,
        };
        if (kind == "phone_changed_notification") data["Phone"] = user.Phone ?? "";
        var extra = new JsonObject();
        foreach (var field in fields)
        {
            data[field.TemplateName] = field.Value;
            extra[field.HookName] = field.Value;
        }
        var payload = await hook.PayloadAsync(conn, userId, kind, new MailLinks(api.SiteUrl, api.ExternalUrl), ct, extra: extra);
        await outbox.EnqueueAsync(conn, kind, to, data, clock.GetUtcNow().UtcDateTime, ct, payload);
    }
}
