using System.Security.Cryptography;
using System.Text;
using AuthServer.Config;
using Dapper;
using Npgsql;

namespace AuthServer.Mail;

/// The per-address mail interval for requests that send nothing (an unknown address, nothing pending): they
/// answer 429 exactly when a request for a known address would (security-tests E2★). GoTrue keeps the interval
/// only in `auth.users.*_sent_at`, so a second `/recover` within a minute tells an account (429) from none (200).
/// Runs in the caller's transaction, which must commit for the request to count.
internal static class AddressThrottle
{
    public static async Task EnsureAsync(NpgsqlConnection conn, Mailer mailer, MailerOptions options, string kind,
        string email, DateTime now, CancellationToken ct)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(kind + ":" + email)));
        var cutoff = now - options.MaxFrequency;
        // The upsert locks the row, so of concurrent requests for one address exactly one is allowed.
        var allowed = await conn.ExecuteScalarAsync<bool?>(new CommandDefinition(
            """
            insert into authserver.mail_address_throttle (key, sent_at) values (@key, @now)
            on conflict (key) do update set sent_at = excluded.sent_at
            where authserver.mail_address_throttle.sent_at <= @cutoff
            returning true
            """, new { key, now, cutoff }, cancellationToken: ct));
        if (allowed != true)
        {
            var sentAt = await conn.ExecuteScalarAsync<DateTime>(new CommandDefinition(
                "select sent_at from authserver.mail_address_throttle where key = @key", new { key }, cancellationToken: ct));
            mailer.EnsureFrequency(sentAt, now);
        }
        // Rows past the interval decide nothing any more. After the upsert and skipping locked rows, so two
        // requests never wait on each other here.
        await conn.ExecuteAsync(new CommandDefinition(
            """
            delete from authserver.mail_address_throttle where key in (
                select key from authserver.mail_address_throttle where sent_at < @cutoff limit 100 for update skip locked)
            """, new { cutoff }, cancellationToken: ct));
    }
}
