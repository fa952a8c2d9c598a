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
