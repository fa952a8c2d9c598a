using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Token;

internal static class IdTokenQueries
{
    /// Records the token as used; false if it was used before (security-tests I5, beyond GoTrue). Inside the
    /// grant's transaction, so a sign-in that fails later does not burn the token. Expired rows are swept here.
    public static async Task<bool> TryUseAsync(NpgsqlConnection conn, string idToken, DateTime expiresAt, DateTime now,
        CancellationToken ct)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(idToken)));
        await conn.ExecuteAsync(new CommandDefinition(
            "delete from authserver.used_id_tokens where expires_at < @now", new { now }, cancellationToken: ct));
        return await conn.ExecuteAsync(new CommandDefinition(
            """
            insert into authserver.used_id_tokens (token_sha256, expires_at) values (@hash, @expiresAt)
            on conflict (token_sha256) do nothing
            """, new { hash, expiresAt, now }, cancellationToken: ct)) == 1;
    }
}
