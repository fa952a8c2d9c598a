using System.Net;
using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// Catalogue E2★ (mail endpoints do not reveal who has an account) and R2★ (one address asked for from many
/// IPs is throttled per address). Compared on the wire: status, body and headers except Date.
/// </summary>
public sealed class MailEnumerationTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    static async Task<string> WireAsync(HttpResponseMessage response)
    {
        var headers = response.Headers.Concat(response.Content.Headers)
            .Where(h => !h.Key.Equals("Date", StringComparison.OrdinalIgnoreCase))
            .Select(h => $"{h.Key.ToLowerInvariant()}: {string.Join(",", h.Value)}")
            .Order(StringComparer.Ordinal);
        return $"{(int)response.StatusCode}\n{string.Join('\n', headers)}\n\n{await response.Content.ReadAsStringAsync()}";
    }

    /// <summary>The wire form with the seconds of a "only request this after N seconds" message blanked.</summary>
    static async Task<string> WireWithoutSecondsAsync(HttpResponseMessage response) =>
        System.Text.RegularExpressions.Regex.Replace(await WireAsync(response), "after [0-9]+ seconds", "after N seconds");

    async Task<string> ConfirmedAsync()
    {
        var (email, _) = await server.ConfirmedUserAsync("known");
        return email;
    }

    [Theory]
    [Trait("catalogue", "E2")]
    [InlineData("/recover", null)]
    [InlineData("/recover", AuthServerFixture.ApiVersion2024)]
    [InlineData("/otp", null)]
    [InlineData("/magiclink", null)]
    [InlineData("/otp", AuthServerFixture.ApiVersion2024)]
    public async Task MailRoute_KnownAndUnknownEmail_SameStatusBodyAndHeaders(string path, string? apiVersion)
    {
        var known = await ConfirmedAsync();
        var unknown = AuthServerFixture.NewEmail("unknown");
        using var client = server.CreateClient(apiVersion);

        var forKnown = await WireAsync(await client.PostAsJsonAsync(path, new { email = known }));
        var forUnknown = await WireAsync(await client.PostAsJsonAsync(path, new { email = unknown }));

        Assert.StartsWith("200\n", forKnown);
        Assert.Equal(forKnown, forUnknown);
    }

    [Fact]
    [Trait("catalogue", "E2")]
    public async Task Recover_UnknownEmail_QueuesAndSendsNoMail()
    {
        var known = await ConfirmedAsync();
        var unknown = AuthServerFixture.NewEmail("unknown");
        using var client = server.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/recover", new { email = unknown })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/recover", new { email = known })).StatusCode);
        await server.Mail.LatestAsync(known, 2); // the outbox has delivered what was queued before it

        Assert.Empty(server.Mail.To(unknown));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.mail_outbox where recipient = @unknown", new { unknown }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @unknown", new { unknown }));
    }

    [Theory]
    [Trait("catalogue", "E2")]
    [InlineData("/recover")]
    [InlineData("/resend")]
    public async Task MailRoute_SecondRequestWithinAMinute_Known429AndUnknown429Alike(string path)
    {
        var known = await ConfirmedAsync();
        var unknown = AuthServerFixture.NewEmail("unknown");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        object Body(string email) => path == "/resend" ? new { type = "signup", email } : new { email };

        var firstKnown = await WireAsync(await client.PostAsJsonAsync(path, Body(known)));
        var firstUnknown = await WireAsync(await client.PostAsJsonAsync(path, Body(unknown)));
        var secondKnown = await client.PostAsJsonAsync(path, Body(known));
        var secondUnknown = await client.PostAsJsonAsync(path, Body(unknown));

        Assert.Equal(firstKnown, firstUnknown);
        if (path == "/recover")
            await ApiAssert.ErrorAsync(secondKnown, 429, "over_email_send_rate_limit",
                messagePrefix: "For security purposes, you can only request this after");
        Assert.Equal(await WireWithoutSecondsAsync(secondKnown), await WireWithoutSecondsAsync(secondUnknown));
    }

    [Fact]
    [Trait("catalogue", "E2")]
    public async Task Recover_UnknownEmailAfterAMinute_AllowedAgain()
    {
        var unknown = AuthServerFixture.NewEmail("unknown");
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/recover", new { email = unknown })).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsJsonAsync("/recover", new { email = unknown })).StatusCode);

        server.Clock.Advance(TimeSpan.FromSeconds(61));

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/recover", new { email = unknown })).StatusCode);
    }

    [Theory]
    [Trait("catalogue", "R2")]
    [Trait("catalogue", "E2")]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Recover_OneEmailFromTenIps_OneMailAndNine429(bool exists)
    {
        var email = exists ? await ConfirmedAsync() : AuthServerFixture.NewEmail("unknown");
        var clients = Enumerable.Range(2, 10).Select(i => LoopbackClients.From($"127.0.0.{i}", server.BaseAddress)).ToList();

        var responses = await Task.WhenAll(clients.Select(c => c.PostAsJsonAsync("/recover", new { email })));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        foreach (var limited in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
            await ApiAssert.ErrorAsync(limited, 429, "over_email_send_rate_limit");
        if (exists)
        {
            await server.Mail.LatestAsync(email, 2); // confirmation + one recovery
            Assert.Equal(1, server.Mail.To(email).Count(m => m.Subject == "Reset your password"));
        }
        clients.ForEach(c => c.Dispose());
    }
}
