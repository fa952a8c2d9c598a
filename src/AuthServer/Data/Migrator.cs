using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace AuthServer.Data;

/// A migration file changed after it was applied, or the `auth` schema is not one we can use: the boot
/// stops rather than guess.
internal sealed class MigrationException(string message) : Exception(message);

/// Applies the embedded `migrations/NNNN_*.sql` before Kestrel listens: one transaction holding an
/// advisory lock, so replicas starting together apply each file once. Each file is recorded with its
/// SHA-256 in our own table, leaving GoTrue's `auth.schema_migrations` alone. On a database where GoTrue
/// already created `auth`, 0001 is adopted instead of run (SchemaAdoption).
internal static class Migrator
{
    const long LockKey = 0x4155_5448_5352_56; // "AUTHSRV"

    public static async Task MigrateAsync(string connectionString, ILogger log, CancellationToken ct)
    {
        await using var db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false });
        await MigrateAsync(db, log, ct);
    }

    /// The server passes its own data source: the connection goes back to the pool for the first requests, and the
    /// database's types are loaded once instead of twice at start-up (bench/RESULTS.md §7).
    public static async Task MigrateAsync(NpgsqlDataSource db, ILogger log, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        conn.Notice += (_, e) => log.LogInformation("Migration notice: {Notice}", e.Notice.MessageText);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition(
            """
            select pg_advisory_xact_lock(@LockKey);
            create schema if not exists authserver;
            create table if not exists authserver.migrations (
                name text primary key,
                sha256 text not null,
                applied_at timestamptz not null default now()
            );
            """, new { LockKey }, cancellationToken: ct));

        var applied = (await conn.QueryAsync<(string Name, string Sha256)>(new CommandDefinition(
            "select name, sha256 from authserver.migrations", cancellationToken: ct)))
            .ToDictionary(r => r.Name, r => r.Sha256);

        var count = 0;
        foreach (var (name, sql) in EmbeddedMigrations())
        {
            var sha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            if (applied.TryGetValue(name, out var appliedSha))
            {
                if (appliedSha != sha)
                    throw new MigrationException(
                        $"Migration {name} was changed after it was applied (recorded sha256 {appliedSha}, file {sha}). " +
                        "Applied migrations are immutable: restore the file and add a new migration instead.");
                continue;
            }
            if (name.StartsWith("0001_", StringComparison.Ordinal)
                && await SchemaAdoption.ShouldAdoptAsync(conn, sql, log, ct))
            {
                await conn.ExecuteAsync(new CommandDefinition(
                    "insert into authserver.migrations (name, sha256) values (@name, @sha)", new { name, sha },
                    cancellationToken: ct));
                continue;
            }
            log.LogInformation("Applying migration {Migration}", name);
            await using (var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 300 })
                await cmd.ExecuteNonQueryAsync(ct);
            await conn.ExecuteAsync(new CommandDefinition(
                "insert into authserver.migrations (name, sha256) values (@name, @sha)", new { name, sha },
                cancellationToken: ct));
            count++;
        }
        await tx.CommitAsync(ct);
        // The data source loaded the database's types when this connection opened: learn the enums just created.
        if (count > 0) await conn.ReloadTypesAsync(ct);
        log.LogInformation("Database schema up to date ({Applied} migrations applied now)", count);
    }

    /// Replicas often start before the database accepts connections: retry transient failures for a minute.
    public static async Task MigrateWithRetryAsync(NpgsqlDataSource db, ILogger log, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            try
            {
                await MigrateAsync(db, log, ct);
                return;
            }
            catch (NpgsqlException e) when (e.IsTransient && DateTime.UtcNow < deadline)
            {
                log.LogWarning("Database not reachable yet ({Reason}); retrying", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
        }
    }

    static IEnumerable<(string Name, string Sql)> EmbeddedMigrations()
    {
        var assembly = Assembly.GetExecutingAssembly();
        foreach (var resource in assembly.GetManifestResourceNames()
                     .Where(n => n.StartsWith("migrations/", StringComparison.Ordinal) && n.EndsWith(".sql"))
                     .Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            yield return (resource["migrations/".Length..], reader.ReadToEnd().Replace("\r\n", "\n"));
        }
    }
}
