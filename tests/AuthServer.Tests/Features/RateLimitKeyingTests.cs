using System.Net;
using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GoTrue's defaults: no GOTRUE_RATE_LIMIT_HEADER, so no per-client request limits; OTP buckets that
/// would stop the 31st request if they applied.</summary>
public sealed class NoHeaderFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_RATE_LIMIT_OTP"] = "0.3"; // burst 30, 0.3 per 5 min
    }
}

/// <summary>GOTRUE_RATE_LIMIT_HEADER=X-Forwarded-For (as behind Kong or nginx) and Sb-Forwarded-For on.</summary>
public sealed class HeaderKeyedFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_RATE_LIMIT_OTP"] = "0.3";
        settings["GOTRUE_RATE_LIMIT_HEADER"] = "X-Forwarded-For";
        settings["GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED"] = "true";
        settings.Remove("GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT"); // default 10/10m per (account, client)
    }
}

/// <summary>Ours: GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS=true, no header.</summary>
public sealed class SocketKeyedFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_RATE_LIMIT_OTP"] = "0.3";
        settings["GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS"] = "true";
    }
}

static class Keying
{
    public const int Burst = 30;

    public static HttpRequestMessage Signup(object body, string? forwardedFor = null, string? sbForwardedFor = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/signup") { Content = JsonContent.Create(body) };
        if (forwardedFor is not null) request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        if (sbForwardedFor is not null) request.Headers.TryAddWithoutValidation("Sb-Forwarded-For", sbForwardedFor);
        return request;
    }

    /// <summary>Invalid sign-ups (refused by validation, cheap) until the first 429; returns how many got through.</summary>
    public static async Task<int> CountUntilLimitedAsync(HttpClient client, Func<int, (string? Xff, string? Sbff)> headers, int max = 45)
    {
        for (var i = 0; i < max; i++)
        {
            var (xff, sbff) = headers(i);
            using var response = await client.SendAsync(Signup(new { email = "not-an-email", password = "x" }, xff, sbff));
            if (response.StatusCode == HttpStatusCode.TooManyRequests) return i;
        }
        return max;
    }
}

/// <summary>Issue 14 item 2: with no header configured the per-client request limits do not apply (GoTrue).</summary>
[Trait("catalogue", "R")]
public sealed class RateLimitNoHeaderTests(NoHeaderFixture server) : IClassFixture<NoHeaderFixture>
{
    [Fact]
    public async Task Signup_TwoHundredFromOneAddressWithoutHeader_NoneIs429()
    {
        using var client = server.CreateClient();
        for (var i = 0; i < 200; i++)
        {
            var response = await client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail("bulk"), password = "correct-horse-battery" });
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"sign-up {i + 1}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from authserver.rate_limit_buckets where key like 'signup:%'"));
    }

    [Fact] // a forwarding header a client sends is not a key either: nothing is configured to read it
    public async Task Recover_ForwardedForWithoutConfiguredHeader_NotLimited()
    {
        using var client = server.CreateClient();
        Assert.Equal(45, await Keying.CountUntilLimitedAsync(client, _ => ("203.0.113.1", null)));
    }
}

/// <summary>Issue 14 item 2: GOTRUE_RATE_LIMIT_HEADER and Sb-Forwarded-For key the limits as in GoTrue's
/// internal/api/middleware.go (`performRateLimiting`).</summary>
[Trait("catalogue", "R")]
public sealed class RateLimitHeaderTests(HeaderKeyedFixture server) : IClassFixture<HeaderKeyedFixture>
{
    [Fact]
    public async Task Signup_ThirtyFirstFromOneHeaderValue_Returns429WithRetryAfter_AnotherValueGets200()
    {
        using var client = server.CreateClient();
        for (var i = 0; i < Keying.Burst; i++)
            await server.OkJsonAsync(await client.SendAsync(Keying.Signup(
                new { email = AuthServerFixture.NewEmail("hdr"), password = "correct-horse-battery" }, "203.0.113.10")));

        var limited = await client.SendAsync(Keying.Signup(new { email = AuthServerFixture.NewEmail("hdr"), password = "correct-horse-battery" }, "203.0.113.10"));

        // Integer seconds until one request refills (0.3 per 5 min: at most 1000 s).
        Assert.InRange(int.Parse(limited.Headers.GetValues("Retry-After").Single()), 1, 1000);
        await ApiAssert.ErrorAsync(limited, 429, "over_request_rate_limit", "Request rate limit reached");
        await server.OkJsonAsync(await client.SendAsync(Keying.Signup(
            new { email = AuthServerFixture.NewEmail("hdr"), password = "correct-horse-battery" }, "203.0.113.11")));
    }

    [Theory] // GoTrue's two warnings, one per request
    [InlineData("", "request does not have a value for the rate limiting header")]   // header sent without a value
    [InlineData(null, "request does not have a value for the rate limiting header")] // header missing
    [InlineData(" ,198.51.100.1", "first rate limit header value is empty")]          // first value blank
    public async Task Signup_EmptyFirstHeaderValue_NotLimitedAndWarned(string? value, string warning)
    {
        using var client = server.CreateClient();
        Assert.Equal(45, await Keying.CountUntilLimitedAsync(client, _ => (value, null)));
        Assert.Contains(warning, server.ServerLog);
    }

    [Fact] // the first comma-separated value, trimmed: what the proxy nearest the client wrote
    public async Task Signup_HeaderLists_KeyedByTheirTrimmedFirstValue()
    {
        using var client = server.CreateClient();
        var n = 0;
        Assert.Equal(Keying.Burst, await Keying.CountUntilLimitedAsync(client, _ => (++n % 2 == 0 ? " 203.0.113.20 , 10.0.0.1" : "203.0.113.20,10.0.0.2", null)));
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from authserver.rate_limit_buckets where key = 'signup:203.0.113.20'"));
    }

    [Fact] // GoTrue internal/api/sbff: a valid Sb-Forwarded-For address wins over the rate-limit header
    public async Task Signup_SbForwardedFor_KeysOverTheHeader()
    {
        using var client = server.CreateClient();
        Assert.Equal(Keying.Burst, await Keying.CountUntilLimitedAsync(client, i => ($"203.0.113.{100 + i}", "198.51.100.7, 10.0.0.1")));

        var other = await client.SendAsync(Keying.Signup(new { email = "not-an-email", password = "x" }, "203.0.113.100", "198.51.100.8"));
        Assert.NotEqual(HttpStatusCode.TooManyRequests, other.StatusCode);
    }

    [Fact] // an invalid Sb-Forwarded-For value is reported and the rate-limit header keys the request
    public async Task Signup_InvalidSbForwardedFor_FallsBackToTheHeader()
    {
        using var client = server.CreateClient();
        var n = 0;
        Assert.Equal(Keying.Burst, await Keying.CountUntilLimitedAsync(client, _ => ("203.0.113.30", $"not-an-ip-{++n}")));
        Assert.Contains("invalid Sb-Forwarded-For header value", server.ServerLog);
    }

    [Fact] // M-1 behind a proxy: the client of the per-account password limit is the header value, not the proxy
    public async Task Token_PasswordBudgetIsPerAccountAndHeaderValue()
    {
        var email = AuthServerFixture.NewEmail("behind-proxy");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        using var proxy = server.CreateClient();
        HttpRequestMessage SignIn(string client, string password)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/token?grant_type=password") { Content = JsonContent.Create(new { email, password }) };
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", client);
            return request;
        }
        for (var i = 0; i < 10; i++)
            await ApiAssert.ErrorAsync(await proxy.SendAsync(SignIn("203.0.113.66", "guess")), 400, "invalid_credentials");
        await ApiAssert.ErrorAsync(await proxy.SendAsync(SignIn("203.0.113.66", "correct-horse-battery")), 429, "over_request_rate_limit");

        await server.OkJsonAsync(await proxy.SendAsync(SignIn("203.0.113.67", "correct-horse-battery")));
    }
}

/// <summary>Ours, opt-in: GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS keys the limits by the socket address.</summary>
[Trait("catalogue", "R")]
public sealed class RateLimitSocketTests(SocketKeyedFixture server) : IClassFixture<SocketKeyedFixture>
{
    [Fact]
    public async Task Signup_OverBurstFromOneSocketAddress_Returns429_OtherAddressesAndHeadersDoNotMatter()
    {
        using var a = LoopbackClients.From("127.0.0.40", server.BaseAddress);
        var n = 0;
        Assert.Equal(Keying.Burst, await Keying.CountUntilLimitedAsync(a, _ => ($"203.0.113.{++n}", null)));

        using var b = LoopbackClients.From("127.0.0.41", server.BaseAddress);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await b.SendAsync(Keying.Signup(new { email = "not-an-email" }))).StatusCode);
    }
}
