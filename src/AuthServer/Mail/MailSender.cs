using AuthServer.Config;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace AuthServer.Mail;

/// Delivers the outbox over SMTP (MailKit) in the background: claim a batch (short transaction), close the
/// connection, talk SMTP, then delete each sent row or schedule a retry with exponential backoff. An SMTP
/// outage only delays mail; requests never wait for SMTP. With no `GOTRUE_SMTP_HOST`, messages are
/// dropped as GoTrue's no-op mailer does. With the Send Email hook on, messages carrying its input go to the
/// hook instead of SMTP, with the same retry and backoff.
internal sealed class MailSender(NpgsqlDataSource db, Outbox outbox, MailTemplates templates, MailerOptions options,
    ApiOptions api, SendEmailHook hook, TimeProvider clock, ILogger<MailSender> log) : BackgroundService
{
    static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);
    static readonly TimeSpan Lease = TimeSpan.FromMinutes(3);
    static readonly TimeSpan SmtpTimeout = TimeSpan.FromSeconds(30);
    static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(10);
    static readonly TimeSpan GiveUpAfter = TimeSpan.FromDays(3);
    const int BatchSize = 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var batch = await outbox.ClaimAsync(db, clock.GetUtcNow().UtcDateTime, Lease, BatchSize, stoppingToken);
                if (batch.Count == 0)
                {
                    await outbox.WaitAsync(Poll, stoppingToken);
                    continue;
                }
                await DeliverAsync(batch, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Never let the sender die (an unhandled BackgroundService exception stops the host).
                log.LogWarning("Mail outbox unavailable ({Reason}); retrying", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    async Task DeliverAsync(List<OutboxMessage> batch, CancellationToken ct)
    {
        foreach (var unreadable in batch.Where(m => m.Data is null))
        {
            log.LogError("Dropping {Kind} mail {MessageId}: its payload cannot be decrypted (GOTRUE_JWT_SECRET changed?)",
                unreadable.Kind, unreadable.Id);
            await Outbox.DeleteAsync(db, unreadable.Id, ct);
        }
        batch = batch.Where(m => m.Data is not null).ToList();
        if (hook.Enabled)
        {
            foreach (var message in batch.Where(m => m.Hook is not null)) await CallHookAsync(message, ct);
            batch = batch.Where(m => m.Hook is null).ToList(); // queued before the hook was turned on: SMTP
        }
        if (batch.Count == 0) return;
        if (options.SmtpHost.Length == 0)
        {
            foreach (var message in batch) await Outbox.DeleteAsync(db, message.Id, ct);
            return;
        }

        using var client = new SmtpClient { Timeout = (int)SmtpTimeout.TotalMilliseconds };
        try
        {
            using (var connect = Deadline(ct))
            {
                await client.ConnectAsync(options.SmtpHost, options.SmtpPort,
                    options.SmtpPort == 465 ? SecureSocketOptions.SslOnConnect : SecureSocketOptions.StartTlsWhenAvailable,
                    connect.Token);
                if (options.SmtpUser.Length > 0)
                    await client.AuthenticateAsync(options.SmtpUser, options.SmtpPass, connect.Token);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            log.LogWarning("SMTP server {Host}:{Port} unavailable ({Reason}); {Count} messages will be retried",
                options.SmtpHost, options.SmtpPort, e.Message, batch.Count);
            foreach (var message in batch) await FailedAsync(message, e.Message, ct);
            return;
        }

        foreach (var message in batch)
        {
            try
            {
                var mime = await BuildAsync(message, ct);
                using var send = Deadline(ct);
                await client.SendAsync(mime, send.Token);
                await Outbox.DeleteAsync(db, message.Id, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                log.LogWarning("Sending {Kind} mail {MessageId} failed ({Reason}); will retry", message.Kind, message.Id, e.Message);
                await FailedAsync(message, e.Message, ct);
                if (!client.IsConnected) break; // the rest keep their lease and are retried after it expires
            }
        }
        try { await client.DisconnectAsync(true, ct); }
        catch (Exception e) when (e is not OperationCanceledException) { /* the messages are already accounted for */ }
    }

    async Task CallHookAsync(OutboxMessage message, CancellationToken ct)
    {
        try
        {
            await hook.DeliverAsync(message.Hook!, clock.GetUtcNow(), ct);
            await Outbox.DeleteAsync(db, message.Id, ct);
        }
        catch (Http.ApiError e) when (e.Status is >= 400 and < 500 and not 429)
        {
            // The hook answered `{"error": {"http_code": 4xx}}`: a decision, not an outage. GoTrue would fail
            // the request with it; the request has long succeeded here, and retrying would not change the answer.
            log.LogError("Send email hook refused {Kind} mail {MessageId} ({Status}: {Reason}); dropped", message.Kind,
                message.Id, e.Status, e.Message);
            await Outbox.DeleteAsync(db, message.Id, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            log.LogWarning("Send email hook failed for {Kind} mail {MessageId} ({Reason}); will retry", message.Kind,
                message.Id, e.Message);
            await FailedAsync(message, e.Message, ct);
        }
    }

    CancellationTokenSource Deadline(CancellationToken ct)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(SmtpTimeout);
        return cts;
    }

    async Task FailedAsync(OutboxMessage message, string error, CancellationToken ct)
    {
        Observability.AuthMetrics.MailSendFailures.Add(1);
        var now = clock.GetUtcNow().UtcDateTime;
        if (now - message.CreatedAt > GiveUpAfter)
        {
            log.LogError("Giving up on {Kind} mail {MessageId} after {Attempts} attempts: {Reason}",
                message.Kind, message.Id, message.Attempts, error);
            await Outbox.DeleteAsync(db, message.Id, ct);
            return;
        }
        var backoff = TimeSpan.FromSeconds(Math.Min(MaxBackoff.TotalSeconds, 5 * Math.Pow(2, Math.Max(0, message.Attempts - 1))));
        await Outbox.RetryLaterAsync(db, message.Id, now + backoff, error.Length > 500 ? error[..500] : error, ct);
    }

    async Task<MimeMessage> BuildAsync(OutboxMessage message, CancellationToken ct)
    {
        var (subject, body) = await templates.RenderAsync(message.Kind, message.Data!, ct);
        var mime = new MimeMessage();
        var from = options.AdminEmail.Length > 0 ? options.AdminEmail : "no-reply@" + api.ExternalUrl.Host;
        mime.From.Add(new MailboxAddress(options.SenderName, from));
        mime.To.Add(MailboxAddress.Parse(message.Recipient));
        mime.Subject = subject;
        // GoTrue sends "reauthenticate" as the message type of reauthentication mails.
        var messageType = message.Kind == "reauthentication" ? "reauthenticate" : message.Kind;
        foreach (var (name, values) in options.Headers)
            foreach (var value in values.Where(v => v.Length > 0))
                mime.Headers.Add(name, value.Replace("$messageType", messageType));
        mime.Body = new TextPart("html") { Text = body, ContentTransferEncoding = ContentEncoding.QuotedPrintable };
        return mime;
    }
}
