using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;
using Npgsql;

namespace AuthServer.Tests.Security;

/// <summary>
/// Real server processes on one database: SIGTERM drains (F6), SIGKILL mid-transaction leaves nothing
/// half-written (F2★/F3★), and a replica dying leaves clients working through the other (M5★). Requests
/// are held "in flight" by a table lock the test owns, so no fault hook is compiled into the server.
/// </summary>
[Trait("catalogue", "F")]
public sealed class ProcessFaultTests : IAsyncLifetime
{
    Db db = null!;

    public async Task InitializeAsync() =>
        db = new Db(await (await PostgresCluster.GetAsync()).CloneTemplateAsync(nameof(ProcessFaultTests)));

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Waits until a server backend is blocked on a lock: the request is inside its transaction.</summary>
    async Task WaitForBlockedBackendAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await db.ScalarAsync<long>(
                    "select count(*) from pg_stat_activity where application_name = 'authserver' and wait_event_type = 'Lock' and datname = current_database()") > 0)
                return;
            await Task.Delay(50);
        }
        throw new TimeoutException("no server request blocked on the lock");
    }

    static async Task<NpgsqlTransaction> LockAsync(NpgsqlConnection conn, string table)
    {
        await conn.OpenAsync();
        var tx = await conn.BeginTransactionAsync();
        await new NpgsqlCommand($"lock table {table} in access exclusive mode", conn, tx).ExecuteNonQueryAsync();
        return tx;
    }

    [Fact] // F6: SIGTERM drains in-flight requests
    public async Task Sigterm_WithRequestInFlight_FinishesItThenExitsCleanly()
    {
        await using var server = await ServerProcess.StartAsync(db.ConnectionString);
        using var client = server.CreateClient();
        var email = AuthServerFixture.NewEmail("drain");
        await using var locker = new NpgsqlConnection(db.ConnectionString);
        var tx = await LockAsync(locker, "auth.users");

        var signup = client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" });
        await WaitForBlockedBackendAsync();
        server.Terminate();
        await Task.Delay(500); // the host is now stopping; the request is still waiting on the lock
        await tx.RollbackAsync();

        var response = await signup;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(1, await db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
        await Invariants.AssertHoldAsync(db);
    }

    [Fact] // F2★ F3★: kill -9 between the user and identity inserts of one sign-up transaction
    public async Task Sigkill_InsideSignupTransaction_LeavesNoHalfWrittenUserAndRetrySucceeds()
    {
        var email = AuthServerFixture.NewEmail("killed");
        await using (var server = await ServerProcess.StartAsync(db.ConnectionString))
        {
            using var client = server.CreateClient();
            await using var locker = new NpgsqlConnection(db.ConnectionString);
            var tx = await LockAsync(locker, "auth.identities");

            var signup = client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" });
            await WaitForBlockedBackendAsync(); // auth.users row inserted, identity insert waiting
            server.Kill();
            await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => signup);
            await tx.RollbackAsync();
        }

        // The orphaned backend notices its client is gone and rolls back.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && await db.ScalarAsync<long>(
                   "select count(*) from pg_stat_activity where application_name = 'authserver' and datname = current_database() and state <> 'idle'") > 0)
            await Task.Delay(50);
        Assert.Equal(0, await db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
        await Invariants.AssertHoldAsync(db);

        await using var restarted = await ServerProcess.StartAsync(db.ConnectionString);
        using var retry = restarted.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await retry.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" })).StatusCode);
        await Invariants.AssertHoldAsync(db);
    }

    [Fact] // M5★: a replica killed under load; clients carry on through the other, no session lost
    public async Task Sigkill_OneOfTwoReplicas_ClientsContinueOnTheOtherWithTheirSessions()
    {
        await using var a = await ServerProcess.StartAsync(db.ConnectionString);
        await using var b = await ServerProcess.StartAsync(db.ConnectionString);
        using var clientA = a.CreateClient();
        using var clientB = b.CreateClient();
        var sessions = new List<JsonObject>();
        for (var i = 0; i < 5; i++)
        {
            var response = await clientA.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail("m5"), password = "correct-horse-battery" });
            sessions.Add(JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
        }

        // Load on A while it dies.
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
                try { await clientA.GetAsync("/ready", stop.Token); } catch (Exception) { /* A is going away */ }
        });
        a.Kill();
        await a.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await load;

        foreach (var session in sessions)
        {
            var refreshed = await clientB.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = (string)session["refresh_token"]! });
            Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
            using var user = new HttpRequestMessage(HttpMethod.Get, "/user");
            user.Headers.Authorization = new("Bearer", (string)session["access_token"]!);
            Assert.Equal(HttpStatusCode.OK, (await clientB.SendAsync(user)).StatusCode);
        }
        await Invariants.AssertHoldAsync(db);
    }
}
