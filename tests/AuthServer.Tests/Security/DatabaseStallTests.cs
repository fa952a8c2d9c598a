using System.Net;
using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;
using Npgsql;

namespace AuthServer.Tests.Security;

/// <summary>2 s database timeouts and a pool of 2 connections.</summary>
public sealed class SmallPoolFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_DB_CONNECT_TIMEOUT"] = "2s";
        settings["GOTRUE_DB_COMMAND_TIMEOUT"] = "2s";
        settings["GOTRUE_DB_MAX_POOL_SIZE"] = "2";
    }
}

/// <summary>Catalogue F1★ (stalls): a hung database (`LOCK TABLE`) and an exhausted pool give a bounded 503.</summary>
[Trait("catalogue", "F")]
public sealed class DatabaseStallTests(SmallPoolFixture server) : IClassFixture<SmallPoolFixture>
{
    [Fact]
    public async Task Refresh_TableLockedByAnotherTransaction_Returns503AfterCommandTimeoutAndWritesNothing()
    {
        var (_, _, session) = await server.NewUserAsync();
        await using var locker = new NpgsqlConnection(server.Db.ConnectionString);
        await locker.OpenAsync();
        await using var tx = await locker.BeginTransactionAsync();
        await new NpgsqlCommand("lock table auth.refresh_tokens in access exclusive mode", locker, tx).ExecuteNonQueryAsync();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        // Bounded: GOTRUE_DB_COMMAND_TIMEOUT=2s ends the wait long before Npgsql's 30 s default would.
        client.Timeout = TimeSpan.FromSeconds(20);

        var response = await client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = (string)session["refresh_token"]! });

        await ApiAssert.ErrorAsync(response, 503, "unexpected_failure", "Service temporarily unavailable, please retry");
        await tx.RollbackAsync();
        // The timed-out request changed nothing: the token is still the live one and refreshes.
        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = (string)session["refresh_token"]! }));
        await Invariants.AssertHoldAsync(server.Db);
    }

    [Fact]
    public async Task Signup_PoolExhaustedByStalledRequests_Returns503ThenServesAgain()
    {
        await using var locker = new NpgsqlConnection(server.Db.ConnectionString);
        await locker.OpenAsync();
        await using var tx = await locker.BeginTransactionAsync();
        await new NpgsqlCommand("lock table auth.users in access exclusive mode", locker, tx).ExecuteNonQueryAsync();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        client.Timeout = TimeSpan.FromSeconds(20);

        // Three sign-ups, two pooled connections: all stall on the lock or wait for a connection.
        var responses = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
            client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password = "correct-horse-battery" })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode));
        await tx.RollbackAsync();
        await server.NewUserAsync();
        await Invariants.AssertHoldAsync(server.Db);
    }
}

/// <summary>Catalogue F2★ on the shared cluster: the server's backend is killed mid-transaction.</summary>
[Trait("catalogue", "F")]
public sealed class BackendKilledTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Fact] // F2★ all-or-nothing; retrying the uncertain refresh works and revokes nothing
    public async Task Refresh_BackendTerminatedMidTransaction_Returns503AndRetryRefreshes()
    {
        var (_, _, session) = await server.NewUserAsync();
        var r0 = (string)session["refresh_token"]!;
        await using var locker = new NpgsqlConnection(server.Db.ConnectionString);
        await locker.OpenAsync();
        await using var tx = await locker.BeginTransactionAsync();
        await new NpgsqlCommand("lock table auth.refresh_tokens in access exclusive mode", locker, tx).ExecuteNonQueryAsync();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        var refresh = client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = r0 });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var killed = false;
        while (!killed && DateTime.UtcNow < deadline)
        {
            killed = await server.Db.ScalarAsync<bool>(
                """
                select coalesce(bool_or(pg_terminate_backend(pid)), false) from pg_stat_activity
                where application_name = 'authserver' and datname = current_database() and wait_event_type = 'Lock'
                """);
            if (!killed) await Task.Delay(20);
        }
        Assert.True(killed, "the refresh never blocked on the lock");
        await tx.RollbackAsync();

        await ApiAssert.ErrorAsync(await refresh, 503, "unexpected_failure");
        var rows = await server.Db.QueryAsync<bool>("select revoked from auth.refresh_tokens where session_id = @sid::uuid",
            new { sid = (string)Jwt.Payload((string)session["access_token"]!)["session_id"]! });
        Assert.Equal([false], rows); // nothing half-done: still one live token, not revoked
        var retried = await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = r0 }));
        Assert.NotEqual(r0, (string)retried["refresh_token"]!);
        await Invariants.AssertHoldAsync(server.Db);
    }
}
