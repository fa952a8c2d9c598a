using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Passkeys;

/// An `auth.webauthn_credentials` row (GoTrue models.WebAuthnCredential).
internal sealed class PasskeyRow
{
    public const string Columns = """
        id, user_id, credential_id, public_key, sign_count, friendly_name, created_at, last_used_at
        """;

    public Guid Id { get; init; }
    public Guid UserId { get; init; }
    public byte[] CredentialId { get; init; } = [];
    public byte[] PublicKey { get; init; } = [];
    public long SignCount { get; init; }
    public string FriendlyName { get; init; } = "";
    public DateTime CreatedAt { get; init; }
    public DateTime? LastUsedAt { get; init; }

    /// GoTrue `PasskeyListItem`: `friendly_name` and `last_used_at` omitted when empty.
    public JsonObject ToJson()
    {
        var json = new JsonObject { ["id"] = Id.ToString() };
        if (FriendlyName.Length > 0) json["friendly_name"] = FriendlyName;
        json["created_at"] = DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc);
        if (LastUsedAt is { } used) json["last_used_at"] = DateTime.SpecifyKind(used, DateTimeKind.Utc);
        return json;
    }
}

internal sealed class WebAuthnChallengeRow
{
    public Guid Id { get; init; }
    public string SessionData { get; init; } = "";
    public DateTime ExpiresAt { get; init; }
}

internal static class PasskeyQueries
{
    public static async Task<List<PasskeyRow>> OfUserAsync(NpgsqlConnection conn, Guid userId, CancellationToken ct) =>
        (await conn.QueryAsync<PasskeyRow>(new CommandDefinition(
            $"select {PasskeyRow.Columns} from auth.webauthn_credentials where user_id = @userId order by created_at, id",
            new { userId }, cancellationToken: ct))).AsList();

    public static Task<PasskeyRow?> FindOwnedAsync(NpgsqlConnection conn, Guid userId, Guid id, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<PasskeyRow>(new CommandDefinition(
            $"select {PasskeyRow.Columns} from auth.webauthn_credentials where id = @id and user_id = @userId",
            new { id, userId }, cancellationToken: ct));

    public static Task<int> CountAsync(NpgsqlConnection conn, Guid userId, CancellationToken ct) =>
        conn.ExecuteScalarAsync<int>(new CommandDefinition(
            "select count(*) from auth.webauthn_credentials where user_id = @userId", new { userId }, cancellationToken: ct));

    public static Task InsertChallengeAsync(NpgsqlConnection conn, Guid id, Guid? userId, string type, string sessionData,
        DateTime now, DateTime expiresAt, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.webauthn_challenges (id, user_id, challenge_type, session_data, created_at, expires_at)
            values (@id, @userId, @type, @sessionData::jsonb, @now, @expiresAt)
            """, new { id, userId, type, sessionData, now, expiresAt }, cancellationToken: ct));

    /// GoTrue `ConsumeWebAuthnChallengeByID`: one statement deletes and returns the row, so of two parallel
    /// verifications of one challenge only one gets it.
    public static Task<WebAuthnChallengeRow?> ConsumeChallengeAsync(NpgsqlConnection conn, Guid id, string type, Guid? userId,
        CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<WebAuthnChallengeRow>(new CommandDefinition(
            """
            delete from auth.webauthn_challenges
            where id = @id and challenge_type = @type
              and (user_id = @userId or (@userId::uuid is null and user_id is null))
            returning id, session_data::text as session_data, expires_at
            """, new { id, type, userId }, cancellationToken: ct));

    public static Task InsertAsync(NpgsqlConnection conn, Guid id, Guid userId, Fido2NetLib.Objects.RegisteredPublicKeyCredential c,
        string friendlyName, string transports, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.webauthn_credentials (id, user_id, credential_id, public_key, attestation_type, aaguid,
                sign_count, transports, backup_eligible, backed_up, friendly_name, created_at, updated_at)
            values (@id, @userId, @credentialId, @publicKey, @attestationType, @aaguid,
                @signCount, @transports::jsonb, @backupEligible, @backedUp, @friendlyName, @now, @now)
            """,
            new
            {
                id,
                userId,
                credentialId = c.Id,
                publicKey = c.PublicKey,
                attestationType = c.AttestationType ?? "",
                aaguid = c.AaGuid == Guid.Empty ? (Guid?)null : c.AaGuid,
                signCount = (long)c.SignCount,
                transports,
                backupEligible = c.IsBackupEligible,
                backedUp = c.IsBackedUp,
                friendlyName,
                now,
            }, cancellationToken: ct));

    public static Task<PasskeyRow?> FindByCredentialIdAsync(NpgsqlConnection conn, byte[] credentialId, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<PasskeyRow>(new CommandDefinition(
            $"select {PasskeyRow.Columns} from auth.webauthn_credentials where credential_id = @credentialId",
            new { credentialId }, cancellationToken: ct));

    /// GoTrue `UpdateLastUsedWithSignCount`. The counter only moves forward: a parallel assertion that
    /// verified against an older count cannot lower it.
    public static Task RecordUseAsync(NpgsqlConnection conn, Guid id, long signCount, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.webauthn_credentials
            set sign_count = greatest(sign_count, @signCount), last_used_at = @now, updated_at = @now
            where id = @id
            """, new { id, signCount, now }, cancellationToken: ct));

    public static Task RenameAsync(NpgsqlConnection conn, Guid id, string friendlyName, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.webauthn_credentials set friendly_name = @friendlyName, updated_at = @now where id = @id",
            new { id, friendlyName, now }, cancellationToken: ct));

    public static Task<int> DeleteAsync(NpgsqlConnection conn, Guid id, Guid userId, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "delete from auth.webauthn_credentials where id = @id and user_id = @userId", new { id, userId }, cancellationToken: ct));
}
