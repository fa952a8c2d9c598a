using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Web3;

internal static class Web3Queries
{
    /// Records the signed message as used; false if it was used before (beyond GoTrue). Inside the grant's
    /// transaction: a sign-in that fails later does not burn the message, and a concurrent second use waits on
    /// the primary key and then sees the first one's row. Rows past their expiry are swept here.
    public static async Task<bool> TryUseAsync(NpgsqlConnection conn, string message, DateTime expiresAt, DateTime now,
        CancellationToken ct)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(message)));
        await conn.ExecuteAsync(new CommandDefinition(
            "delete from authserver.used_web3_messages where expires_at < @now", new { now }, cancellationToken: ct));
        return await conn.ExecuteAsync(new CommandDefinition(
            """
            insert into authserver.used_web3_messages (message_sha256, expires_at) values (@hash, @expiresAt)
            on conflict (message_sha256) do nothing
            """, new { hash, expiresAt }, cancellationToken: ct)) == 1;
    }
}
