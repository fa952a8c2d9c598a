using System.Net;
using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>Email templates with codes, and the client key taken from X-Forwarded-For (the test client is the proxy).</summary>
public sealed class ClientKeyEmailFixture : EmailFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings)
    {
        settings["GOTRUE_RATE_LIMIT_HEADER"] = "X-Forwarded-For";
        settings["GOTRUE_RATE_LIMIT_TRUSTED_PROXIES"] = "127.0.0.1/32";
    }
}

/// <summary>
/// Review M-2 (shared/security/review-2026-12.md): five wrong codes to POST /verify voided the victim's
/// pending link. Now a wrong code never voids a token; the code path closes for one client after 5 wrong
/// codes and for everyone after 10, and the mailed link keeps working.
/// </summary>
public sealed class OtpLinkVoidingTests(ClientKeyEmailFixture server) : IClassFixture<ClientKeyEmailFixture>
{
    const string Attacker = "203.0.113.66";

    static string Wrong(string code) => code == "000000" ? "000001" : "000000";

    static string NewIp() => $"198.51.{Random.Shared.Next(1, 255)}.{Random.Shared.Next(1, 255)}";

    async Task<HttpResponseMessage> VerifyAsync(string ip, string type, string email, string token)
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/verify") { Content = JsonContent.Create(new { type, email, token }) };
        request.Headers.Add("X-Forwarded-For", ip);
        return await client.SendAsync(request);
    }

    /// A confirmed user (admin-created, so no mail) who then asks for a magic link.
    async Task<(string Email, ReceivedMail Mail)> MagicLinkAsync()
    {
        var email = AuthServerFixture.NewEmail("m2");
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);
        await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/users", new { email, password = "correct-horse-battery", email_confirm = true }));
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { email, create_user = false }));
        return (email, await server.Mail.LatestAsync(email));
    }

    async Task<string> ClickAsync(ReceivedMail mail)
    {
        using var client = server.CreateClient();
        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        return response.Headers.NonValidated["Location"].ToString();
    }

    [Fact]
    [Trait("catalogue", "M-2")]
    public async Task M2_WrongCodesDoNotVoidMailedLink()
    {
        // The report's reproduction: type=email with the victim's address and 000000, five times.
        var (email, mail) = await MagicLinkAsync();
        for (var i = 0; i < 5; i++)
            await ApiAssert.ErrorAsync(await VerifyAsync(Attacker, "email", email, Wrong(mail.Code)), 403, "otp_expired");

        var location = await ClickAsync(mail);

        Assert.Contains("#access_token=", location);
    }

    [Fact]
    [Trait("catalogue", "M-2")]
    public async Task M2_WrongCodesDoNotVoidConfirmationLink()
    {
        var email = AuthServerFixture.NewEmail("m2");
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" }));
        var mail = await server.Mail.LatestAsync(email);
        for (var i = 0; i < 5; i++)
            await ApiAssert.ErrorAsync(await VerifyAsync(Attacker, "signup", email, Wrong(mail.Code)), 403, "otp_expired");

        var location = await ClickAsync(mail);

        Assert.Contains("#access_token=", location);
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where lower(email) = @email", new { email }));
    }

    [Fact]
    [Trait("catalogue", "M-2")]
    public async Task M2_WrongCodesFromOneClient_OwnersCodeFromAnotherClientStillWorks()
    {
        var (email, mail) = await MagicLinkAsync();
        for (var i = 0; i < 5; i++)
            await ApiAssert.ErrorAsync(await VerifyAsync(Attacker, "email", email, Wrong(mail.Code)), 403, "otp_expired");

        var session = await server.OkJsonAsync(await VerifyAsync(NewIp(), "email", email, mail.Code));

        Assert.Equal(email, (string?)session["user"]!["email"]);
    }

    [Fact]
    [Trait("catalogue", "M-2")]
    public async Task M2_BruteForce_FiveGuessesPerClientAndTenInTotalPerCode()
    {
        var (email, mail) = await MagicLinkAsync();
        var hash = await server.Db.ScalarAsync<string>("select recovery_token from auth.users where lower(email) = @email", new { email });
        for (var i = 0; i < 6; i++)
            await ApiAssert.ErrorAsync(await VerifyAsync(Attacker, "magiclink", email, Wrong(mail.Code)), 403, "otp_expired");
        // Closed to this client: even the right code is not evaluated.
        await ApiAssert.ErrorAsync(await VerifyAsync(Attacker, "magiclink", email, mail.Code), 403, "otp_expired", "Token has expired or is invalid");

        // Many clients: at most 10 wrong codes are ever evaluated, then the code is closed to everyone.
        for (var i = 0; i < 15; i++)
            await ApiAssert.ErrorAsync(await VerifyAsync(NewIp(), "magiclink", email, Wrong(mail.Code)), 403, "otp_expired");
        await ApiAssert.ErrorAsync(await VerifyAsync(NewIp(), "magiclink", email, mail.Code), 403, "otp_expired");

        Assert.Equal(10, await server.Db.ScalarAsync<int>("select failures from authserver.otp_failures where token_hash = @hash", new { hash }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions s join auth.users u on u.id = s.user_id where lower(u.email) = @email", new { email }));
        Assert.Contains("#access_token=", await ClickAsync(mail)); // and still the link works for the owner
    }

    [Fact]
    [Trait("catalogue", "M-2")]
    public async Task M2_WrongCodesOfAnotherType_DoNotCountAgainstTheCode()
    {
        var (email, mail) = await MagicLinkAsync();
        for (var i = 0; i < 12; i++)
            await ApiAssert.ErrorAsync(await VerifyAsync(Attacker, "signup", email, Wrong(mail.Code)), 403, "otp_expired");

        await server.OkJsonAsync(await VerifyAsync(Attacker, "magiclink", email, mail.Code));
    }
}
