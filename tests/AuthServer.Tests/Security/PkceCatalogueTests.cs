using System.Net;
using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// Catalogue P1★/P2★ beyond PkceTests (wrong verifier, used code, expiry, 10 racers, short challenge):
/// unknown codes, challenge length and charset edges, plain vs S256.
/// </summary>
public sealed class PkceCatalogueTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    static string Verifier(int length, char fill = 'a') => new(fill, length);

    /// <summary>A magic link sent with this challenge, clicked; returns the auth code from the redirect.</summary>
    async Task<string> CodeAsync(string challenge, string method)
    {
        var (email, _) = await server.ConfirmedUserAsync("pkce");
        using var client = server.CreateClient();
        var sent = await client.PostAsJsonAsync("/otp", new { email, code_challenge = challenge, code_challenge_method = method });
        Assert.True(sent.StatusCode == HttpStatusCode.OK, await sent.Content.ReadAsStringAsync());
        var mail = await server.Mail.LatestAsync(email, 2);
        var clicked = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        return clicked.Headers.NonValidated["Location"].ToString().Split("code=")[1];
    }

    async Task<HttpResponseMessage> ExchangeAsync(string code, string verifier)
    {
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        return await client.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = verifier });
    }

    [Theory]
    [Trait("catalogue", "P1")]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    [InlineData("not-a-uuid")]
    [InlineData("' or 1=1 --")]
    public async Task Pkce_UnknownCode_Returns404FlowStateNotFound(string code)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = Verifier(43) }),
            404, "flow_state_not_found", "invalid flow state, no valid flow state found");
    }

    [Fact]
    [Trait("catalogue", "P1")]
    public async Task Pkce_WrongVerifierThenRightOne_RightOneStillWorksOnce()
    {
        var (verifier, challenge) = EmailFixture.NewPkcePair();
        var code = await CodeAsync(challenge, "s256");

        await ApiAssert.ErrorAsync(await ExchangeAsync(code, verifier + "x"), 400, "bad_code_verifier");

        await server.OkJsonAsync(await ExchangeAsync(code, verifier));
        await ApiAssert.ErrorAsync(await ExchangeAsync(code, verifier), 404, "flow_state_not_found");
    }

    [Theory]
    [Trait("catalogue", "P2")]
    [InlineData(42, "code challenge has to be between 43 and 128 characters")]
    [InlineData(129, "code challenge has to be between 43 and 128 characters")]
    public async Task Pkce_ChallengeLengthOutside43To128_Returns400(int length, string message)
    {
        foreach (var path in new[] { "/otp", "/recover", "/magiclink" })
            await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync(path,
                new { email = AuthServerFixture.NewEmail(), code_challenge = Verifier(length), code_challenge_method = "s256" }),
                400, "validation_failed", message);
    }

    [Theory]
    [Trait("catalogue", "P2")]
    [InlineData("+")]
    [InlineData("/")]
    [InlineData("=")]
    [InlineData(" ")]
    [InlineData("é")]
    public async Task Pkce_ChallengeWithCharacterOutsideUnreserved_Returns400(string bad)
    {
        var challenge = Verifier(42) + bad;
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/recover",
            new { email = AuthServerFixture.NewEmail(), code_challenge = challenge, code_challenge_method = "s256" }),
            400, "validation_failed", "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes");
    }

    [Theory]
    [Trait("catalogue", "P2")]
    [InlineData(43)]
    [InlineData(128)]
    public async Task Pkce_PlainChallengeAtTheLengthEdges_ExchangesWithTheSameVerifier(int length)
    {
        var verifier = Verifier(length, 'p');
        var code = await CodeAsync(verifier, "plain");

        await ApiAssert.ErrorAsync(await ExchangeAsync(code, Verifier(length, 'q')), 400, "bad_code_verifier");
        await server.OkJsonAsync(await ExchangeAsync(code, verifier));
    }

    [Fact]
    [Trait("catalogue", "P2")]
    public async Task Pkce_S256Flow_RefusesTheChallengeItselfAsVerifier()
    {
        // Downgrade attempt: presenting the S256 challenge as if the flow were plain.
        var (_, challenge) = EmailFixture.NewPkcePair();
        var code = await CodeAsync(challenge, "S256");

        await ApiAssert.ErrorAsync(await ExchangeAsync(code, challenge), 400, "bad_code_verifier");
    }

    [Fact]
    [Trait("catalogue", "P2")]
    public async Task Pkce_UnknownMethod_Returns400()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/recover",
            new { email = AuthServerFixture.NewEmail(), code_challenge = Verifier(43), code_challenge_method = "S512" }),
            400, "validation_failed", "unsupported code_challenge method \"S512\"");
    }
}

/// <summary>GOTRUE_SECURITY_PKCE_PLAIN_ENABLED=false: S256 only.</summary>
public sealed class PkcePlainDisabledFixture : EmailFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings) =>
        settings["GOTRUE_SECURITY_PKCE_PLAIN_ENABLED"] = "false";
}

public sealed class PkcePlainDisabledTests(PkcePlainDisabledFixture server) : IClassFixture<PkcePlainDisabledFixture>
{
    async Task<(string Code, HttpClient Client)> CodeAsync(string challenge, string method, string email)
    {
        var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp",
            new { email, code_challenge = challenge, code_challenge_method = method })).StatusCode);
        var mail = await server.Mail.LatestAsync(email, 2);
        var clicked = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        return (clicked.Headers.NonValidated["Location"].ToString().Split("code=")[1], client);
    }

    [Fact]
    [Trait("catalogue", "P2")]
    public async Task Pkce_PlainFlowWhenPlainIsDisabled_Returns400EvenWithTheRightVerifier()
    {
        var verifier = new string('p', 64);
        var (email, session) = await server.ConfirmedUserAsync("pkce-plain");
        var (code, client) = await CodeAsync(verifier, "plain", email);
        using (client)
        {
            var response = await client.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = verifier });

            await ApiAssert.ErrorAsync(response, 400, "bad_code_verifier", "code challenge method plain is not allowed");
        }
        // Only the session from confirming the sign-up.
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id::uuid",
            new { id = (string)session["user"]!["id"]! }));
    }

    [Fact]
    [Trait("catalogue", "P2")]
    public async Task Pkce_S256FlowWhenPlainIsDisabled_Exchanges()
    {
        var (verifier, challenge) = EmailFixture.NewPkcePair();
        var (email, _) = await server.ConfirmedUserAsync("pkce-s256");
        var (code, client) = await CodeAsync(challenge, "s256", email);
        using (client)
            await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = verifier }));
    }
}
