using System.Net;
using System.Net.Http.Json;
using AuthServer.Config;
using AuthServer.RateLimits;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace AuthServer.Tests.Features;

/// <summary>
/// GoTrue's burst of 30 with a refill so slow (one request per 1000 s) that nothing refills during a test,
/// so counts are exact. Keyed by our opt-in trusted-proxy rule: 127.0.0.2 is the trusted proxy, every other
/// peer is keyed by its socket address.
/// </summary>
public class SlowRefillFixture : AuthServerFixture
{
    public const string Proxy = "127.0.0.2";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_RATE_LIMIT_OTP"] = "0.3";            // burst 30, 0.3 per 5 min
        settings["GOTRUE_RATE_LIMIT_TOKEN_REFRESH"] = "0.3";
        settings["GOTRUE_RATE_LIMIT_VERIFY"] = "0.3";
        settings["GOTRUE_RATE_LIMIT_ANONYMOUS_USERS"] = "3";  // burst 3 per hour
        settings["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = "true";
        settings["GOTRUE_RATE_LIMIT_TRUSTED_PROXIES"] = Proxy;
        settings.Remove("GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT"); // default 10/10m per (account, client)
        settings["GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT"] = "10/1h";
    }
}

[Trait("catalogue", "R")]
public sealed class RateLimitTests(SlowRefillFixture server) : IClassFixture<SlowRefillFixture>
{
    const int Burst = 30;

    /// <summary>Sends POSTs to <paramref name="path"/> until the first 429; returns how many got through.</summary>
    static async Task<int> CountUntilLimitedAsync(HttpClient client, string path, int max = 60, Action<HttpRequestMessage>? edit = null)
    {
        for (var i = 0; i < max; i++)
        {
            // Not an anonymous sign-up (own, smaller bucket) and never a valid request.
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(new { email = "not-an-email" }) };
            edit?.Invoke(request);
            using var response = await client.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) return i;
        }
        return max;
    }

    [Fact] // R1★
    public async Task Recover_OverBurstFromOneIp_Returns429WithRetryAfterInBothShapes()
    {
        // /recover does not exist on this branch (404): the bucket comes from the route table alone.
        using var client = LoopbackClients.From("127.0.0.10", server.BaseAddress);
        Assert.Equal(Burst, await CountUntilLimitedAsync(client, "/recover"));

        foreach (var version in new[] { AuthServerFixture.ApiVersion2024, null })
        {
            using var c = LoopbackClients.From("127.0.0.10", server.BaseAddress, version);
            var response = await c.PostAsJsonAsync("/recover", new { email = "a@example.com" });
            var retryAfter = response.Headers.RetryAfter?.Delta;
            await ApiAssert.ErrorAsync(response, 429, "over_request_rate_limit", "Request rate limit reached");
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter!.Value.TotalSeconds, 1, 1000);
        }
    }

    [Fact] // a browser can read the 429 and its Retry-After (supabase-js runs cross-origin)
    public async Task Recover_LimitedCrossOriginRequest_CarriesCorsHeadersAndExposesRetryAfter()
    {
        using var client = LoopbackClients.From("127.0.0.21", server.BaseAddress);
        Assert.Equal(Burst, await CountUntilLimitedAsync(client, "/recover"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/recover") { Content = JsonContent.Create(new { }) };
        request.Headers.Add("Origin", "https://app.example.com");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("https://app.example.com", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("Retry-After", response.Headers.GetValues("Access-Control-Expose-Headers").Single());
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact] // R1★ buckets recover after the window
    public async Task Signup_AfterRetryAfterElapses_IsAllowedAgain()
    {
        using var client = LoopbackClients.From("127.0.0.11", server.BaseAddress);
        Assert.Equal(Burst, await CountUntilLimitedAsync(client, "/signup"));
        var limited = await client.PostAsJsonAsync("/signup", new { email = "not-an-email" });
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);

        server.Clock.Advance(limited.Headers.RetryAfter!.Delta!.Value);

        var again = await client.PostAsJsonAsync("/signup", new { email = "not-an-email", password = "x" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, again.StatusCode); // through the limiter, refused by validation
    }

    [Fact] // R1★ separate buckets per route and per IP
    public async Task Otp_BucketsArePerRouteAndPerIp()
    {
        using var a = LoopbackClients.From("127.0.0.12", server.BaseAddress);
        using var b = LoopbackClients.From("127.0.0.13", server.BaseAddress);
        Assert.Equal(Burst, await CountUntilLimitedAsync(a, "/magiclink"));

        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await a.PostAsJsonAsync("/otp", new { })).StatusCode);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await b.PostAsJsonAsync("/magiclink", new { })).StatusCode);
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from authserver.rate_limit_buckets where key = 'magiclink:127.0.0.12'"));
    }

    [Fact] // R1★ path variants share the bucket
    public async Task Resend_PathVariants_ShareOneBucket()
    {
        using var client = LoopbackClients.From("127.0.0.14", server.BaseAddress);
        var paths = new[] { "/resend", "/RESEND", "/resend/", "/auth/v1/resend" };
        var allowed = 0;
        for (var i = 0; i < 40; i++)
            if ((await client.PostAsJsonAsync(paths[i % paths.Length], new { })).StatusCode != HttpStatusCode.TooManyRequests)
                allowed++;
        Assert.Equal(Burst, allowed);
    }

    [Fact] // R1★ the upsert is atomic: 60 racing requests, exactly a burst gets through
    public async Task Verify_SixtyConcurrentRequests_ExactlyBurstAllowed()
    {
        using var client = LoopbackClients.From("127.0.0.15", server.BaseAddress);
        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => client.PostAsJsonAsync("/verify", new { })));
        Assert.Equal(Burst, responses.Count(r => r.StatusCode != HttpStatusCode.TooManyRequests));
    }

    [Fact] // R3★
    public async Task Recover_SpoofedForwardedForFromUntrustedPeer_DoesNotResetTheBucket()
    {
        using var client = LoopbackClients.From("127.0.0.16", server.BaseAddress);
        var n = 0;
        var allowed = await CountUntilLimitedAsync(client, "/recover", edit: r => r.Headers.Add("X-Forwarded-For", $"198.51.100.{++n % 250}"));
        Assert.Equal(Burst, allowed);
    }

    [Fact] // R3★
    public async Task Recover_ThroughTrustedProxy_KeysByForwardedClientNotProxy()
    {
        using var proxy = LoopbackClients.From(SlowRefillFixture.Proxy, server.BaseAddress);
        Assert.Equal(Burst, await CountUntilLimitedAsync(proxy, "/recover", edit: r => r.Headers.Add("X-Forwarded-For", "203.0.113.1")));

        // Another client behind the same proxy has its own bucket…
        using var other = new HttpRequestMessage(HttpMethod.Post, "/recover") { Content = JsonContent.Create(new { }) };
        other.Headers.Add("X-Forwarded-For", "203.0.113.2");
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await proxy.SendAsync(other)).StatusCode);
        // …and a client that prepends spoofed hops is still keyed by the address the proxy saw.
        var n = 0;
        Assert.Equal(0, await CountUntilLimitedAsync(proxy, "/recover", max: 5,
            edit: r => r.Headers.Add("X-Forwarded-For", $"10.9.9.{++n}, 203.0.113.1")));
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from authserver.rate_limit_buckets where key = 'recover:203.0.113.1'"));
        Assert.Equal(0, await server.Db.ScalarAsync<long>($"select count(*) from authserver.rate_limit_buckets where key = 'recover:{SlowRefillFixture.Proxy}'"));
    }

    [Fact] // R3★ the same rule for sessions.ip and audit rows: a client can't write its own IP into them
    public async Task Signup_SpoofedForwardedFor_SessionAndAuditKeepTheSocketOrProxiedAddress()
    {
        using var direct = LoopbackClients.From("127.0.0.22", server.BaseAddress);
        using var viaProxy = LoopbackClients.From(SlowRefillFixture.Proxy, server.BaseAddress);
        var ids = new List<(string Expected, string UserId)>();
        foreach (var (client, expected) in new[] { (direct, "127.0.0.22"), (viaProxy, "203.0.113.9") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/signup")
            {
                Content = JsonContent.Create(new { email = AuthServerFixture.NewEmail("ip"), password = "correct-horse-battery" }),
            };
            request.Headers.Add("X-Forwarded-For", "6.6.6.6, 203.0.113.9");
            var session = await server.OkJsonAsync(await client.SendAsync(request));
            ids.Add((expected, (string)session["user"]!["id"]!));
        }

        foreach (var (expected, userId) in ids)
        {
            Assert.Equal(expected, await server.Db.ScalarAsync<string>("select host(ip) from auth.sessions where user_id = @id::uuid", new { id = userId }));
            Assert.All(await server.Db.QueryAsync<string>("select ip_address from auth.audit_log_entries where payload->>'actor_id' = @userId", new { userId }),
                ip => Assert.Equal(expected, ip));
        }
    }

    [Fact] // R5★ 20 tabs refreshing together at the defaults' burst
    public async Task Token_TwentyTabsRefreshingTogether_NoneLimited()
    {
        // A fresh IP: its token bucket holds GoTrue's burst of 30.
        var sessions = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var email = AuthServerFixture.NewEmail("tab");
            await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
            sessions.Add(email);
        }
        using var signIn = LoopbackClients.From("127.0.0.17", server.BaseAddress);
        var refreshTokens = new List<string>();
        foreach (var email in sessions)
            refreshTokens.Add((string)(await server.OkJsonAsync(await signIn.PostAsJsonAsync("/token?grant_type=password",
                new { email, password = "correct-horse-battery" })))["refresh_token"]!);

        using var tabs = LoopbackClients.From("127.0.0.18", server.BaseAddress);
        var refreshes = await Task.WhenAll(refreshTokens.Select(t =>
            tabs.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = t })));
        Assert.All(refreshes, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
    }

    [Fact] // R4★ one account attacked from many IPs: bounded by the failure ceiling, and it tells nothing (M-1 policy:
    // Security/PasswordLockoutTests, which also pins that the owner is not locked out)
    public async Task Token_WrongPasswordsFromManyIps_BoundedPerAccountAndTellNothing()
    {
        var email = AuthServerFixture.NewEmail("stuffed");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        var nobody = AuthServerFixture.NewEmail("nobody");
        foreach (var account in new[] { email, nobody })
            for (var i = 0; i < 10; i++)
            {
                using var attacker = LoopbackClients.From($"127.0.1.{i + 1}", server.BaseAddress);
                await ApiAssert.ErrorAsync(await attacker.PostAsJsonAsync("/token?grant_type=password", new { email = account, password = $"guess-{i}" }),
                    400, "invalid_credentials");
            }

        // The ceiling (10 here) is spent: a new client's attempts, right password or not, existing account or not, alike.
        using var fresh = LoopbackClients.From("127.0.1.200", server.BaseAddress);
        foreach (var account in new[] { email.ToUpperInvariant(), nobody })
        {
            var throttled = await fresh.PostAsJsonAsync("/token?grant_type=password", new { email = account, password = "correct-horse-battery" });
            Assert.True(throttled.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 and <= 360 });
            await ApiAssert.ErrorAsync(throttled, 429, "over_request_rate_limit", "Request rate limit reached");
        }
        // Never a permanent lock: once a failure has refilled, the owner gets in.
        server.Clock.Advance(TimeSpan.FromSeconds(360));
        await server.OkJsonAsync(await fresh.PostAsJsonAsync("/token?grant_type=password", new { email, password = "correct-horse-battery" }));
    }

    [Fact] // R4★ the owner's own sign-ins never count
    public async Task Token_RepeatedSuccessfulSignIns_NeverThrottledPerAccount()
    {
        var email = AuthServerFixture.NewEmail("owner");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        for (var i = 0; i < 15; i++)
        {
            using var device = LoopbackClients.From($"127.0.2.{i + 1}", server.BaseAddress);
            await server.OkJsonAsync(await device.PostAsJsonAsync("/token?grant_type=password", new { email, password = "correct-horse-battery" }));
        }
    }

    [Fact] // R6 anonymous sign-ins per IP per hour
    public async Task Signup_AnonymousOverHourlyLimit_Returns429()
    {
        using var client = LoopbackClients.From("127.0.0.19", server.BaseAddress);
        for (var i = 0; i < 3; i++)
            await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { }));

        var response = await client.PostAsJsonAsync("/signup", new { });

        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        await ApiAssert.ErrorAsync(response, 429, "over_request_rate_limit", "Request rate limit reached");
    }

    [Fact]
    public async Task Token_RefreshAndPasswordShareTheTokenBucket()
    {
        using var client = LoopbackClients.From("127.0.0.20", server.BaseAddress);
        var allowed = 0;
        for (var i = 0; i < 40; i++)
        {
            var path = i % 2 == 0 ? "/token?grant_type=refresh_token" : "/token?grant_type=password";
            if ((await client.PostAsJsonAsync(path, new { })).StatusCode != HttpStatusCode.TooManyRequests) allowed++;
        }
        Assert.Equal(Burst, allowed);
    }

    [Fact]
    public async Task Janitor_DeletesOnlyRefilledBuckets()
    {
        var now = DateTime.UtcNow;
        await server.Db.ExecuteAsync(
            """
            insert into authserver.rate_limit_buckets (key, tokens, allowed, updated_at, expires_at) values
              ('test:expired', 0, false, @now - interval '2 hours', @now - interval '1 second'),
              ('test:live', 0, false, @now, @now + interval '1 hour')
            """, new { now });

        await using var conn = new NpgsqlConnection(server.Db.ConnectionString);
        await conn.OpenAsync();
        await RateLimitQueries.DeleteExpiredAsync(conn, now, CancellationToken.None);

        var keys = await server.Db.QueryAsync<string>("select key from authserver.rate_limit_buckets where key like 'test:%'");
        Assert.Equal(["test:live"], keys);
    }

    [Fact]
    public void Options_Defaults_AreGoTrues()
    {
        var options = RateLimitOptions.Load(new EnvReader(new ConfigurationBuilder().Build()));

        Assert.Equal(new Bucket("token", 30, 150 / 300.0), options.Token);
        Assert.Equal(new Bucket("verify", 30, 30 / 300.0), options.Verify);
        Assert.Equal(new Bucket("signup", 30, 30 / 300.0), options.OtpBucket("signup"));
        Assert.Equal(new Bucket("anonymous", 30, 30 / 3600.0), options.Anonymous);
        Assert.Equal(new Bucket("email_sent", 30, 30 / 3600.0), options.EmailSent);
        Assert.Equal(new Bucket("password_account", 10, 10 / 600.0), options.PasswordPerAccount);
        Assert.Equal(new Bucket("password_failures", 100, 100 / 3600.0), options.PasswordFailuresPerAccount);
        // As GoTrue: no header, no Sb-Forwarded-For, so no per-client request limits; our keyings are opt-in.
        Assert.Null(options.Header);
        Assert.False(options.SbForwardedFor);
        Assert.Empty(options.TrustedProxies);
        Assert.False(options.BySocketAddress);
    }

    [Theory]
    [InlineData("10/1m", 10, 10 / 60.0)]
    [InlineData("100", 100, 100 / 3600.0)]
    public void Options_EmailSentRate_ParsesGoTrueForms(string value, double capacity, double refill)
    {
        var env = new EnvReader(new ConfigurationBuilder().AddInMemoryCollection([new("GOTRUE_RATE_LIMIT_EMAIL_SENT", value)]).Build());

        var bucket = RateLimitOptions.Load(env).EmailSent;

        Assert.Equal(capacity, bucket.Capacity);
        Assert.Equal(refill, bucket.RefillPerSecond, 9);
    }

    [Theory]
    [InlineData("GOTRUE_RATE_LIMIT_TRUSTED_PROXIES", "not-an-ip")]
    [InlineData("GOTRUE_RATE_LIMIT_OTP", "-1")]
    [InlineData("GOTRUE_RATE_LIMIT_EMAIL_SENT", "10/never")]
    [InlineData("GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT", "10/never")]
    [InlineData("GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS", "maybe")]
    public void Options_BadValue_StopsTheBoot(string name, string value)
    {
        var env = new EnvReader(new ConfigurationBuilder().AddInMemoryCollection([new(name, value)]).Build());

        var error = Assert.Throws<ConfigException>(() => RateLimitOptions.Load(env));
        Assert.Contains(name, error.Message);
    }
}
