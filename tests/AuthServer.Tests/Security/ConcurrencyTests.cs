using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Features;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// Catalogue group C (harness "PAR": requests released together behind a barrier). C2 (20 refreshes of one
/// token) is TokenRefreshTests.Token_TwentyConcurrentRefreshesOfOneToken_AllGetTheSameSuccessor and, across
/// replicas, MultiInstanceTests. C4 (O2, P1, I9) belongs to the OTP, PKCE and linking branches.
/// </summary>
[Trait("catalogue", "C")]
public sealed class ConcurrencyTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static async Task<T[]> TogetherAsync<T>(int n, Func<int, Task<T>> action)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, n).Select(async i =>
        {
            await start.Task;
            return await action(i);
        }).ToList();
        start.SetResult();
        return await Task.WhenAll(tasks);
    }

    [Fact] // C1★
    public async Task Signup_SameEmailTwentyTimesWithCaseVariants_OneUserOneIdentityNo500()
    {
        var local = $"race-{Guid.NewGuid():N}";
        var variants = new[] { $"{local}@example.com", $"{local.ToUpperInvariant()}@EXAMPLE.COM", $"{local}@Example.Com", $" {local}@example.com " };

        var results = await TogetherAsync(20, async i =>
        {
            using var client = server.CreateClient();
            var response = await client.PostAsJsonAsync("/signup", new { email = variants[i % variants.Length], password = "correct-horse-battery" });
            return (Status: (int)response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        });

        Assert.All(results, r => Assert.True(r.Status is 200 or 422, $"{r.Status} {r.Body}\n{server.ServerLog}"));
        Assert.Contains(results, r => r.Status == 200);
        var email = $"{local}@example.com";
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.users where lower(email) = @email", new { email }));
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.identities i join auth.users u on u.id = i.user_id where lower(u.email) = @email", new { email }));
        await Invariants.AssertHoldAsync(server.Db);
    }

    [Fact] // C3★ refresh racing logout
    public async Task Refresh_RacingLogout_LeavesNoLiveTokenForLoggedOutSessions()
    {
        var sessions = new List<JsonObject>();
        for (var i = 0; i < 25; i++) sessions.Add((await server.NewUserAsync("c3")).Session);

        var results = await TogetherAsync(sessions.Count * 2, async i =>
        {
            var session = sessions[i / 2];
            if (i % 2 == 0)
            {
                using var client = server.CreateClient();
                var response = await Refresh.PostAsync(client, Refresh.Token(session));
                return (Status: (int)response.StatusCode, Body: await response.Content.ReadAsStringAsync());
            }
            using var logout = server.CreateClient(bearer: (string)session["access_token"]!);
            var done = await logout.PostAsync("/logout", null);
            return (Status: (int)done.StatusCode, Body: await done.Content.ReadAsStringAsync());
        });

        Assert.All(results, r => Assert.True(r.Status is 200 or 204 or 400 or 403, $"{r.Status} {r.Body}\n{server.ServerLog}"));
        var ids = sessions.Select(Refresh.SessionId).ToArray();
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.sessions where id = any(@ids::uuid[])", new { ids }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.refresh_tokens where session_id = any(@ids::uuid[]) and not revoked", new { ids }));
        // A refresh that won the race got a token of a session that is gone: it must not work.
        foreach (var won in results.Where((r, i) => i % 2 == 0 && r.Status == 200))
        {
            using var client = server.CreateClient();
            var again = await Refresh.PostAsync(client, (string)JsonNode.Parse(won.Body)!["refresh_token"]!);
            Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
        }
        await Invariants.AssertHoldAsync(server.Db);
    }
}
