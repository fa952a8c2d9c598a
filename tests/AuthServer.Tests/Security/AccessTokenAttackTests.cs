using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// Catalogue group T. Already covered in UserTests: T1 alg none / empty signature, T4 exp missing or past,
/// future nbf/iat, T6 tampered claims, T7 deleted user / logged-out session / banned; T9 in config tests.
/// Not on this branch: T2 public-key confusion and T6 retired keys (asymmetric keys, issue 5).
/// </summary>
[Trait("catalogue", "T")]
public sealed class AccessTokenAttackTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>, IAsyncLifetime
{
    CaptchaStub stub = null!;

    public async Task InitializeAsync() => stub = await CaptchaStub.StartAsync();

    public async Task DisposeAsync() => await stub.DisposeAsync();

    async Task<JsonObject> ClaimsAsync() => Jwt.Payload((string)(await server.NewUserAsync()).Session["access_token"]!);

    Task AssertBadJwtAsync(string token) =>
        server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "bad_jwt", bearer: token);

    [Fact] // T2★ an inline `jwk` naming the attacker's own key is not a key source
    [Trait("catalogue", "T2")]
    public async Task User_TokenWithInlineJwkOfAttackerKey_Returns403()
    {
        const string attacker = "attacker-secret-attacker-secret-0123456789";
        var header = new JsonObject
        {
            ["alg"] = "HS256",
            ["typ"] = "JWT",
            ["jwk"] = new JsonObject { ["kty"] = "oct", ["k"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(attacker)).TrimEnd('=') },
        };

        await AssertBadJwtAsync(Jwt.Sign(await ClaimsAsync(), attacker, header));
    }

    [Theory] // T3★ kid is never a lookup key: path, SQL, 10 KB
    [InlineData("../../../../../../dev/null", "")]
    [InlineData("' union select 'x' --", "x")]
    [InlineData("10k", "attacker-secret")]
    public async Task User_TokenWithHostileKid_Returns403(string kid, string signedWith)
    {
        if (kid == "10k") kid = new string('k', 10 * 1024);
        var header = new JsonObject { ["alg"] = "HS256", ["typ"] = "JWT", ["kid"] = kid };

        await AssertBadJwtAsync(Jwt.Sign(await ClaimsAsync(), signedWith, header));
    }

    [Fact] // T3★ jku/x5u are never fetched
    public async Task User_TokenWithJkuAndX5u_Returns403AndFetchesNothing()
    {
        var header = new JsonObject
        {
            ["alg"] = "HS256",
            ["typ"] = "JWT",
            ["kid"] = "k1",
            ["jku"] = new Uri(stub.VerifyUrl, "/jwks.json").ToString(),
            ["x5u"] = new Uri(stub.VerifyUrl, "/cert.pem").ToString(),
        };

        await AssertBadJwtAsync(Jwt.Sign(await ClaimsAsync(), "attacker-secret", header));

        Assert.Equal(0, stub.OtherHits);
    }

    [Fact] // T5★ a Google-style RS256 ID token is not an access token
    public async Task User_Rs256TokenFromAnotherIssuer_Returns403()
    {
        using var rsa = RSA.Create(2048);
        var claims = await ClaimsAsync();
        claims["iss"] = "https://accounts.google.com";
        claims["aud"] = "client-id.apps.googleusercontent.com";
        var head = B64(Encoding.UTF8.GetBytes("""{"alg":"RS256","typ":"JWT","kid":"g1"}"""));
        var body = B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = rsa.SignData(Encoding.ASCII.GetBytes($"{head}.{body}"), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

        await AssertBadJwtAsync($"{head}.{body}.{B64(signature)}");
    }

    [Theory] // T8 JWE (five segments) and oversized tokens are refused without work
    [InlineData(5)]
    [InlineData(2)]
    public async Task User_JweOrWrongSegmentCount_Returns403(int segments)
    {
        var token = string.Join('.', Enumerable.Repeat("eyJhbGciOiJSU0EtT0FFUCJ9", segments));

        await AssertBadJwtAsync(token);
    }

    [Fact] // T8 a 1 MB token is stopped at the header limit
    public async Task User_OneMegabyteToken_Returns431()
    {
        using var client = server.CreateClient(bearer: new string('a', 1 << 20));

        var response = await client.GetAsync("/user");

        Assert.Equal(System.Net.HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
    }

    static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
