namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// Security-tests harness "INV": what must hold after any fault, whatever was in flight.
/// </summary>
public static class Invariants
{
    public static async Task AssertHoldAsync(Db db)
    {
        // user ⇔ identity: every email/phone user has its identity, every identity its user.
        var orphanUsers = await db.QueryAsync<string>(
            """
            select u.id::text from auth.users u
            where not u.is_anonymous and (u.email is not null or u.phone is not null)
              and not exists (select 1 from auth.identities i where i.user_id = u.id)
            """);
        Assert.True(orphanUsers.Count == 0, "users without identity: " + string.Join(", ", orphanUsers));
        var orphanIdentities = await db.ScalarAsync<long>(
            "select count(*) from auth.identities i where not exists (select 1 from auth.users u where u.id = i.user_id)");
        Assert.Equal(0, orphanIdentities);

        // At most one live refresh token per session, and none for a session that is gone.
        var sessionsWithTwoLive = await db.QueryAsync<string>(
            """
            select session_id::text from auth.refresh_tokens
            where not revoked group by session_id having count(*) > 1
            """);
        Assert.True(sessionsWithTwoLive.Count == 0, "sessions with >1 live refresh token: " + string.Join(", ", sessionsWithTwoLive));
        var liveWithoutSession = await db.ScalarAsync<long>(
            """
            select count(*) from auth.refresh_tokens rt
            where not rt.revoked and not exists (select 1 from auth.sessions s where s.id = rt.session_id)
            """);
        Assert.Equal(0, liveWithoutSession);

        // Unique normalised email among password users.
        var duplicates = await db.QueryAsync<string>(
            """
            select lower(email) from auth.users
            where email is not null and not is_sso_user
            group by lower(email) having count(*) > 1
            """);
        Assert.True(duplicates.Count == 0, "duplicate emails: " + string.Join(", ", duplicates));

        // An audit row for every sign-up that committed.
        var unaudited = await db.ScalarAsync<long>(
            """
            select count(*) from auth.users u
            where not exists (select 1 from auth.audit_log_entries a where a.payload->>'actor_id' = u.id::text)
            """);
        Assert.Equal(0, unaudited);
    }
}

/// <summary>A second (third…) server on another fixture's database: two replicas, one database (harness "2X").</summary>
public sealed class SameDatabaseServer(string connectionString, Action<IDictionary<string, string>>? configure = null)
    : AuthServerFixture
{
    protected override Task<string> CreateDatabaseAsync() => Task.FromResult(connectionString);

    protected override void Configure(IDictionary<string, string> settings) => configure?.Invoke(settings);
}
