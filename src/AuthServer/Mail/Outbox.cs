using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Config;
using Dapper;
using Npgsql;

namespace AuthServer.Mail;

/// A message waiting in `authserver.mail_outbox`: the template kind, the recipient and the template data
/// (which holds the live OTP, hence encrypted at rest).
/// <c>Data</c> is null when the payload cannot be decrypted (written under another GOTRUE_JWT_SECRET).
/// <c>Hook</c> is the Send Email hook's input when the hook was on at enqueue time (`SendEmailHook`).
internal sealed record OutboxMessage(long Id, string Kind, string Recipient, JsonObject? Data, int Attempts, DateTime CreatedAt,
    JsonObject? Hook = null);

/// The transactional outbox. `EnqueueAsync` runs inside the caller's transaction, so the message exists
/// exactly when the token it carries does; `MailSender` delivers it later.
internal sealed class Outbox
{
    readonly byte[] key;
    readonly SemaphoreSlim wake = new(0, 1);

    public Outbox(JwtOptions jwt) =>
        key = HKDF.DeriveKey(HashAlgorithmName.SHA256, jwt.Secret, 32, info: "authserver mail outbox v1"u8.ToArray());

    public async Task EnqueueAsync(NpgsqlConnection conn, string kind, string recipient, JsonObject data, DateTime now,
        CancellationToken ct, JsonObject? hook = null)
    {
        var sealedPayload = new JsonObject { ["data"] = data.DeepClone() };
        if (hook is not null) sealedPayload["hook"] = hook.DeepClone();
        var payload = Seal(sealedPayload.ToJsonString());
        await conn.ExecuteAsync(new CommandDefinition(
            """
            insert into authserver.mail_outbox (kind, recipient, payload, next_attempt_at, created_at)
            values (@kind, @recipient, @payload, @now, @now)
            """, new { kind, recipient, payload, now }, cancellationToken: ct));
    }

    /// Call after the enqueuing transaction commits: the sender starts at once instead of at its next poll.
    public void Notify()
    {
        try { wake.Release(); }
        catch (SemaphoreFullException) { /* already signalled */ }
    }

    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => wake.WaitAsync(timeout, ct);

    /// Leases up to <paramref name="limit"/> due messages (SKIP LOCKED + `locked_until`): another instance
    /// skips them while this one sends, and re-claims them only if this one died mid-send.
    public async Task<List<OutboxMessage>> ClaimAsync(NpgsqlDataSource db, DateTime now, TimeSpan lease, int limit,
        CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<(long Id, string Kind, string Recipient, byte[] Payload, int Attempts, DateTime CreatedAt)>(
            new CommandDefinition(
                """
                update authserver.mail_outbox o
                set locked_until = @until, attempts = o.attempts + 1
                from (
                    select id from authserver.mail_outbox
                    where next_attempt_at <= @now and (locked_until is null or locked_until < @now)
                    order by next_attempt_at, id
                    limit @limit
                    for update skip locked
                ) due
                where o.id = due.id
                returning o.id, o.kind, o.recipient, o.payload, o.attempts, o.created_at
                """, new { now, until = now + lease, limit }, cancellationToken: ct));
        var messages = new List<OutboxMessage>();
        foreach (var row in rows)
        {
            var json = Open(row.Payload);
            var payload = json is null ? null : JsonNode.Parse(json);
            messages.Add(new OutboxMessage(row.Id, row.Kind, row.Recipient, payload?["data"] as JsonObject, row.Attempts,
                DateTime.SpecifyKind(row.CreatedAt, DateTimeKind.Utc), payload?["hook"] as JsonObject));
        }
        return messages;
    }

    public static async Task DeleteAsync(NpgsqlDataSource db, long id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("delete from authserver.mail_outbox where id = @id", new { id },
            cancellationToken: ct));
    }

    public static async Task RetryLaterAsync(NpgsqlDataSource db, long id, DateTime next, string error, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition(
            "update authserver.mail_outbox set next_attempt_at = @next, locked_until = null, last_error = @error where id = @id",
            new { id, next, error }, cancellationToken: ct));
    }

    byte[] Seal(string plaintext)
    {
        var input = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[12 + 16 + input.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(output.AsSpan(0, 12), input, output.AsSpan(28), output.AsSpan(12, 16));
        return output;
    }

    string? Open(byte[] sealedBytes)
    {
        if (sealedBytes.Length < 28) return null;
        var plain = new byte[sealedBytes.Length - 28];
        try
        {
            using var aes = new AesGcm(key, 16);
            aes.Decrypt(sealedBytes.AsSpan(0, 12), sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), plain);
            return Encoding.UTF8.GetString(plain);
        }
        catch (CryptographicException)
        {
            return null; // written under another GOTRUE_JWT_SECRET: undeliverable, dropped by the sender
        }
    }
}
