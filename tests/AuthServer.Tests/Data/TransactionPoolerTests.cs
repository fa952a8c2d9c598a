using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace AuthServer.Tests.Data;

/// Behind a transaction-mode pooler each transaction may run on another server connection: no prepared
/// statements, no session state. A fresh database is migrated through PgBouncer, then the password, refresh,
/// user and logout flows run concurrently through it.
public sealed class TransactionPoolerTests
{
    static async Task<(PgBouncer Bouncer, string Database)> BouncerOverEmptyDatabaseAsync(string hint)
    {
        var cluster = await PostgresCluster.GetAsync();
        var database = new NpgsqlConnectionStringBuilder(await cluster.CreateEmptyDatabaseAsync(hint)).Database!;
        return (await PgBouncer.StartAsync(cluster.Port), database);
    }

    static async Task ExerciseAsync(ServerProcess server)
    {
        using var client = server.CreateClient();
        var emails = Enumerable.Range(0, 16).Select(i => AuthServerFixture.NewEmail("pooler" + i)).ToList();
        var signups = await Task.WhenAll(emails.Select(email =>
            client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" })));
        Assert.All(signups, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        await Task.WhenAll(emails.Select(async email =>
        {
            var signin = await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = "correct-horse-battery" });
            Assert.Equal(HttpStatusCode.OK, signin.StatusCode);
            var session = JsonNode.Parse(await signin.Content.ReadAsStringAsync())!;
            for (var i = 0; i < 3; i++)
            {
                var refresh = await client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = (string)session["refresh_token"]! });
                Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
                session = JsonNode.Parse(await refresh.Content.ReadAsStringAsync())!;
            }
            using var user = new HttpRequestMessage(HttpMethod.Get, "/user");
            user.Headers.Authorization = new("Bearer", (string)session["access_token"]!);
            var me = await client.SendAsync(user);
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
            Assert.Equal(email, (string)JsonNode.Parse(await me.Content.ReadAsStringAsync())!["email"]!);
            using var logout = new HttpRequestMessage(HttpMethod.Post, "/logout");
            logout.Headers.Authorization = new("Bearer", (string)session["access_token"]!);
            Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(logout)).StatusCode);
        }));
    }

    [Fact]
    public async Task WithTransactionPoolerSetting_MigratesAndServesEveryFlowThroughPgBouncer()
    {
        var (bouncer, database) = await BouncerOverEmptyDatabaseAsync("pooler_setting");
        await using (bouncer)
        {
            var viaBouncer = $"Host=127.0.0.1;Port={bouncer.Port};Username=postgres;Database={database}";
            await using var server = await ServerProcess.StartAsync(viaBouncer, new Dictionary<string, string> { ["GOTRUE_DB_TRANSACTION_POOLER"] = "true" });
            await using var second = await ServerProcess.StartAsync(viaBouncer, new Dictionary<string, string> { ["GOTRUE_DB_TRANSACTION_POOLER"] = "true" });
            await Task.WhenAll(ExerciseAsync(server), ExerciseAsync(second));
            Assert.DoesNotContain("prepared statement", server.Output + second.Output, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task PgxStyleUrl_SimpleProtocol_IsHonouredWithoutOurSetting()
    {
        var (bouncer, database) = await BouncerOverEmptyDatabaseAsync("pooler_pgx_url");
        await using (bouncer)
        {
            // How GoTrue's users already point it at a transaction pooler (pgx reads these).
            await using var server = await ServerProcess.StartAsync(
                $"postgres://postgres@127.0.0.1:{bouncer.Port}/{database}?default_query_exec_mode=simple_protocol");
            await ExerciseAsync(server);
        }
    }

    static NpgsqlConnectionStringBuilder Parsed(string url, bool pooler = false) =>
        new(DbOptions.Load(new EnvReader(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["GOTRUE_DB_DRIVER"] = "postgres",
                ["DATABASE_URL"] = url,
                ["GOTRUE_DB_TRANSACTION_POOLER"] = pooler ? "true" : null,
            }).Build())).ConnectionString);

    [Theory]
    [InlineData("postgres://u@h/db", false, 50)]
    [InlineData("postgres://u@h/db", true, 0)]
    [InlineData("postgres://u@h/db?default_query_exec_mode=simple_protocol", false, 0)]
    [InlineData("postgres://u@h/db?default_query_exec_mode=cache_statement", false, 50)]
    [InlineData("postgres://u@h/db?statement_cache_mode=describe", false, 0)]
    [InlineData("postgres://u@h/db?statement_cache_capacity=0", false, 0)]
    [InlineData("Host=h;Username=u;Database=db", false, 50)]
    [InlineData("Host=h;Username=u;Database=db;Max Auto Prepare=0", false, 0)]
    [InlineData("Host=h;Username=u;Database=db;Max Auto Prepare=10", false, 10)]
    [InlineData("Host=h;Username=u;Database=db", true, 0)]
    public void PreparedStatements_OnlyWhereNoPoolerIsSaid(string url, bool pooler, int maxAutoPrepare)
    {
        var builder = Parsed(url, pooler);
        Assert.Equal(maxAutoPrepare, builder.MaxAutoPrepare);
        Assert.Equal(pooler, builder.NoResetOnClose);
    }
}
