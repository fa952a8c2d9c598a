using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// As `scripts/start.sh` runs (no rate-limit header): the per-account password limit at its default
/// (10 per (account, client) at once, then one a minute) and a failure ceiling of 20 per hour per account.
/// Clients are loopback source addresses (the client key without a header is the socket address).
/// </summary>
public sealed class PasswordLockoutFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings.Remove("GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT");
        settings["GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT"] = "20/1h";
    }
}

/// <summary>Security review 2026-12, M-1: the per-account password limiter must not be a lockout tool.</summary>
[Trait("catalogue", "M-1")]
public sealed class PasswordLockoutTests(PasswordLockoutFixture server) : IClassFixture<PasswordLockoutFixture>
{
    const string Password = "correct-horse-battery";

    Task<HttpResponseMessage> SignInAsync(HttpClient client, string email, string password) =>
        client.PostAsJsonAsync("/token?grant_type=password", new { email, password });

    [Fact] // the report's reproduction: 10 wrong guesses, then one a minute, must not keep the owner out
    public async Task M1_AttackerElsewhereCannotLockOutOwner()
    {
        var email = AuthServerFixture.NewEmail("alice");
        await server.Db.InsertEmailUserAsync(email, Password);
        using var attacker = LoopbackClients.From("127.0.3.1", server.BaseAddress);
        using var owner = LoopbackClients.From("127.0.3.2", server.BaseAddress);

        for (var i = 0; i < 10; i++)
            await ApiAssert.ErrorAsync(await SignInAsync(attacker, email, "wrong-guess"), 400, "invalid_credentials");
        var throttled = await SignInAsync(attacker, email, "wrong-guess");
        Assert.True(throttled.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 and <= 60 });
        await ApiAssert.ErrorAsync(throttled, 429, "over_request_rate_limit", "Request rate limit reached");

        await server.OkJsonAsync(await SignInAsync(owner, email, Password));
        // Kept up at one wrong attempt a minute, as in the report: the owner still gets in every round.
        for (var round = 0; round < 2; round++)
        {
            server.Clock.Advance(TimeSpan.FromSeconds(61));
            await ApiAssert.ErrorAsync(await SignInAsync(attacker, email, "wrong-guess"), 400, "invalid_credentials");
            await server.OkJsonAsync(await SignInAsync(owner, email, Password));
        }
    }

    [Fact] // many clients: guesses per account stop at the ceiling; only a client that signed in before gets through
    public async Task M1_GuessesPerAccountAcrossClientsStayBounded()
    {
        var email = AuthServerFixture.NewEmail("target");
        await server.Db.InsertEmailUserAsync(email, Password);
        using var ownersLaptop = LoopbackClients.From("127.0.4.1", server.BaseAddress);
        await server.OkJsonAsync(await SignInAsync(ownersLaptop, email, Password));

        // Ten clients with ten guesses each: only the ceiling's 20 are ever checked.
        var checkedGuesses = 0;
        for (var c = 0; c < 10; c++)
        {
            using var attacker = LoopbackClients.From($"127.0.4.{10 + c}", server.BaseAddress);
            for (var i = 0; i < 10; i++)
            {
                var response = await SignInAsync(attacker, email, $"guess-{c}-{i}");
                if (response.StatusCode == System.Net.HttpStatusCode.BadRequest) checkedGuesses++;
                else await ApiAssert.ErrorAsync(response, 429, "over_request_rate_limit");
            }
        }
        Assert.Equal(20, checkedGuesses);

        // Past the ceiling even the right password from a new client is refused unchecked: guessing gains nothing…
        using var fresh = LoopbackClients.From("127.0.4.99", server.BaseAddress);
        var refused = await SignInAsync(fresh, email, Password);
        Assert.True(refused.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 and <= 180 });
        await ApiAssert.ErrorAsync(refused, 429, "over_request_rate_limit");
        // …while the owner's known client is let through to the check.
        await server.OkJsonAsync(await SignInAsync(ownersLaptop, email, Password));

        // An unknown account answers alike once attacked (the limiter tells nothing about existence).
        var nobody = AuthServerFixture.NewEmail("nobody");
        for (var c = 0; c < 2; c++)
        {
            using var attacker = LoopbackClients.From($"127.0.5.{10 + c}", server.BaseAddress);
            for (var i = 0; i < 10; i++)
                await ApiAssert.ErrorAsync(await SignInAsync(attacker, nobody, "x"), 400, "invalid_credentials");
        }
        await ApiAssert.ErrorAsync(await SignInAsync(fresh, nobody, "x"), 429, "over_request_rate_limit");

        // The ceiling refills (20 per hour): three minutes later a new client is checked again.
        server.Clock.Advance(TimeSpan.FromMinutes(3));
        await server.OkJsonAsync(await SignInAsync(fresh, email, Password));
    }

    [Fact] // the owner's own sign-ins, from any number of clients, never count
    public async Task M1_SuccessfulSignInsNeverCount()
    {
        var email = AuthServerFixture.NewEmail("owner");
        await server.Db.InsertEmailUserAsync(email, Password);
        using var device = LoopbackClients.From("127.0.6.1", server.BaseAddress);
        for (var i = 0; i < 30; i++)
            await server.OkJsonAsync(await SignInAsync(device, email, Password));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.rate_limit_buckets where key = @key", new { key = "password_failures:" + email }));
    }
}
