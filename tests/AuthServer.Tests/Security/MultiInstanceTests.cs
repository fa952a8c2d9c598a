using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Features;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>A configured server; B joins its database as a second replica.</summary>
public sealed class ConfiguredServer(Action<IDictionary<string, string>> configure) : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) => configure(settings);
}

/// <summary>Two replicas A and B on one database (harness "2X"); OTP buckets at burst 30, no refill to speak of,
/// keyed by socket address (ours, opt-in).</summary>
public sealed class TwoServersFixture : IAsyncLifetime
{
    static void Settings(IDictionary<string, string> s)
    {
        s["GOTRUE_RATE_LIMIT_OTP"] = "0.3";
        s["GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS"] = "true"; // loopback source addresses play the clients
    }

    public AuthServerFixture A { get; private set; } = null!;
    public AuthServerFixture B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        A = new ConfiguredServer(Settings);
        await A.InitializeAsync();
        B = new SameDatabaseServer(A.Db.ConnectionString, Settings);
        await B.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await B.DisposeAsync();
        await A.DisposeAsync();
    }
}

/// <summary>Catalogue M1★, M2★, M3, M4★: requests alternate between replicas and get one server's answers.</summary>
[Trait("catalogue", "M")]
public sealed class MultiInstanceTests(TwoServersFixture servers) : IClassFixture<TwoServersFixture>
{
    AuthServerFixture A => servers.A;
    AuthServerFixture B => servers.B;

    [Fact] // M1★ with S1★
    public async Task Refresh_RotationAlternatingReplicas_ReuseOfOldTokenRevokesSessionOnBoth()
    {
        var (_, _, signup) = await A.NewUserAsync();
        var r0 = Refresh.Token(signup);
        var r1 = Refresh.Token(await Refresh.OkAsync(B, r0));
        var r2 = Refresh.Token(await Refresh.OkAsync(A, r1));
        var last = await Refresh.OkAsync(B, r2);
        var r3 = Refresh.Token(last);
        A.Clock.Advance(TimeSpan.FromSeconds(1));
        B.Clock.Advance(TimeSpan.FromSeconds(1));

        using var onA = A.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await Refresh.PostAsync(onA, r0), 400, "refresh_token_already_used");

        using var onB = B.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await Refresh.PostAsync(onB, r3), 400, "refresh_token_already_used");
        Assert.All(await Refresh.RowsAsync(A, Refresh.SessionId(signup)), r => Assert.True(r.Revoked));
    }

    [Fact] // M1★ with S2★
    public async Task Refresh_ParentReplayedOnOtherReplica_ReturnsTheActiveChild()
    {
        var (_, _, signup) = await A.NewUserAsync();
        var r0 = Refresh.Token(signup);
        var r1 = Refresh.Token(await Refresh.OkAsync(A, r0));

        var replay = await Refresh.OkAsync(B, r0);

        Assert.Equal(r1, Refresh.Token(replay));
        Assert.Equal(2, (await Refresh.RowsAsync(A, Refresh.SessionId(signup))).Count);
    }

    [Fact] // M1★ with C2★
    public async Task Refresh_TwentyConcurrentSplitAcrossReplicas_AllGetTheSameSuccessor()
    {
        var (_, _, signup) = await A.NewUserAsync();
        var r0 = Refresh.Token(signup);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var racers = Enumerable.Range(0, 20).Select(async i =>
        {
            using var client = (i % 2 == 0 ? A : B).CreateClient();
            await start.Task;
            var response = await Refresh.PostAsync(client, r0);
            return (Status: (int)response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }).ToList();
        start.SetResult();
        var results = await Task.WhenAll(racers);

        Assert.All(results, r => Assert.True(r.Status == 200, $"{r.Status} {r.Body}\n{A.ServerLog}{B.ServerLog}"));
        var successor = Assert.Single(results.Select(r => (string)JsonNode.Parse(r.Body)!["refresh_token"]!).Distinct());
        var rows = await Refresh.RowsAsync(A, Refresh.SessionId(signup));
        Assert.Equal([r0, successor], rows.Select(r => r.Token));
        await Invariants.AssertHoldAsync(A.Db);
    }

    [Fact] // M4★
    public async Task Logout_OnA_BRejectsTheJwtAndTheRefreshTokenAtOnce()
    {
        var (_, _, session) = await A.NewUserAsync();
        var jwt = (string)session["access_token"]!;
        using var onA = A.CreateClient(bearer: jwt);
        await ApiAssert.NoContentAsync(await onA.PostAsync("/logout", null));

        using var onB = B.CreateClient(AuthServerFixture.ApiVersion2024, bearer: jwt);
        await ApiAssert.ErrorAsync(await onB.GetAsync("/user"), 403, "session_not_found");
        using var anonB = B.CreateClient(AuthServerFixture.ApiVersion2024);
        var refresh = await Refresh.PostAsync(anonB, Refresh.Token(session));
        Assert.Equal(HttpStatusCode.BadRequest, refresh.StatusCode);
    }

    [Fact] // M2★ M3: one per-IP limit across replicas, not one per replica
    public async Task Recover_RequestsAlternatingReplicas_ShareOneBucket()
    {
        using var onA = LoopbackClients.From("127.0.0.30", A.BaseAddress);
        using var onB = LoopbackClients.From("127.0.0.30", B.BaseAddress);
        var allowed = 0;
        for (var i = 0; i < 60; i++)
            if ((await (i % 2 == 0 ? onA : onB).PostAsJsonAsync("/recover", new { })).StatusCode != HttpStatusCode.TooManyRequests)
                allowed++;

        Assert.Equal(30, allowed);
    }

    [Fact] // M2★ atomic across replicas: 60 racing requests split over A and B
    public async Task Signup_ConcurrentRequestsOnBothReplicas_ExactlyOneBurstAllowed()
    {
        using var onA = LoopbackClients.From("127.0.0.31", A.BaseAddress);
        using var onB = LoopbackClients.From("127.0.0.31", B.BaseAddress);

        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(i =>
            (i % 2 == 0 ? onA : onB).PostAsJsonAsync("/signup", new { email = "bad", password = "x" })));

        Assert.Equal(30, responses.Count(r => r.StatusCode != HttpStatusCode.TooManyRequests));
        Assert.DoesNotContain(responses, r => (int)r.StatusCode >= 500);
    }
}
