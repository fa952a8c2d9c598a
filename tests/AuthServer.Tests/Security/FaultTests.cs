using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// The server on a PostgreSQL cluster of its own, which the tests stop and start (the shared cluster
/// serves every other class). Connect and command timeouts of 2 s bound every database wait.
/// </summary>
public sealed class PrivateClusterFixture : AuthServerFixture, IAsyncLifetime
{
    public PostgresCluster Cluster { get; private set; } = null!;

    protected override async Task<string> CreateDatabaseAsync()
    {
        Cluster = await PostgresCluster.StartPrivateAsync();
        return await Cluster.CloneTemplateAsync("faults");
    }

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_DB_CONNECT_TIMEOUT"] = "2s";
        settings["GOTRUE_DB_COMMAND_TIMEOUT"] = "2s";
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>Catalogue F1★, S8★: PostgreSQL stopped and restarted under the server.</summary>
[Trait("catalogue", "F")]
public sealed class DatabaseOutageTests(PrivateClusterFixture server) : IClassFixture<PrivateClusterFixture>
{
    [Theory] // F1★ S8★
    [InlineData("fast")]
    [InlineData("immediate")]
    public async Task DatabaseStopped_Requests503ReadyReports503_RecoversWithin10sOfRestart(string mode)
    {
        var (email, password, session) = await server.NewUserAsync();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        using var legacy = server.CreateClient();
        // Warm the pool, so the outage breaks pooled connections, not only new ones.
        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => client.GetAsync("/ready")));

        await server.Cluster.StopServerAsync(mode);
        try
        {
            // S8★: supabase-js keeps its session only on 502/503/504, so a refresh must never say 400/500.
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token",
                new { refresh_token = (string)session["refresh_token"]! }), 503, "unexpected_failure");
            var legacyBody = await ApiAssert503Async(await legacy.PostAsJsonAsync("/token?grant_type=password", new { email, password }));
            Assert.False(string.IsNullOrEmpty((string?)legacyBody["error_id"]));
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/signup",
                new { email = AuthServerFixture.NewEmail(), password }), 503, "unexpected_failure");
            await ApiAssert.ErrorAsync(await client.GetAsync("/user"), 401, "no_authorization"); // no DB needed
            await ApiAssert.ErrorAsync(await client.GetAsync("/ready"), 503, "unexpected_failure", "Database unavailable");
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode); // liveness: GoTrue's, no DB
            Assert.DoesNotContain("Npgsql", await (await legacy.GetAsync("/ready")).Content.ReadAsStringAsync());
        }
        finally
        {
            await server.Cluster.StartServerAsync();
        }

        // pg_ctl start -w has returned: PostgreSQL accepts connections. The server is back at once (well
        // within the 10 s allowed): the first failure dropped every pooled connection to the old server, so
        // none of these is handed a dead one.
        var first = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => client.PostAsJsonAsync("/token?grant_type=password", new { email, password })));
        Assert.All(first, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/ready")).StatusCode);
        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)session["refresh_token"]! }));
        // The test's own pooled connections died with the old server too.
        await using (var stale = new Npgsql.NpgsqlConnection(server.Db.ConnectionString)) Npgsql.NpgsqlConnection.ClearPool(stale);
        await Invariants.AssertHoldAsync(server.Db);
    }

    static async Task<JsonObject> ApiAssert503Async(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(503, (int?)body["code"]);
        Assert.Equal("unexpected_failure", (string?)body["error_code"]);
        Assert.Equal("Service temporarily unavailable, please retry", (string?)body["msg"]);
        return body;
    }
}
