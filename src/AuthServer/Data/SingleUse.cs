using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace AuthServer.Data;

/// Credentials we accept once although GoTrue accepts them again while they are valid (ID tokens,
/// security-tests I5; signed Web3 messages; SAML assertions): each kind has a table keyed by the SHA-256 of the credential.
internal static class SingleUse
{
    public sealed record Kind(string Table, string KeyColumn);

    public static readonly Kind IdToken = new("authserver.used_id_tokens", "token_sha256");
    public static readonly Kind Web3Message = new("authserver.used_web3_messages", "message_sha256");
    public static readonly Kind SamlAssertion = new("authserver.used_saml_assertions", "assertion_sha256");

    /// Records the credential as used; false if it was used before. Call it inside the grant's transaction:
    /// a sign-in that fails later does not burn the credential, and a concurrent second use waits on the
    /// primary key and then sees the first one's row. Rows past their expiry are swept here.
    public static async Task<bool> TryUseAsync(NpgsqlConnection conn, Kind kind, string credential, DateTime expiresAt,
        DateTime now, CancellationToken ct)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(credential)));
        await conn.ExecuteAsync(new CommandDefinition(
            $"delete from {kind.Table} where expires_at < @now", new { now }, cancellationToken: ct));
        return await conn.ExecuteAsync(new CommandDefinition(
            $"""
            insert into {kind.Table} ({kind.KeyColumn}, expires_at) values (@hash, @expiresAt)
            on conflict ({kind.KeyColumn}) do nothing
            """, new { hash, expiresAt }, cancellationToken: ct)) == 1;
    }
}
