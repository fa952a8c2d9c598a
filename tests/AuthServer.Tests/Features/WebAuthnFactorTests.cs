using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

public sealed class WebAuthnMfaFixture : AuthServerFixture
{
    public const string Origin = "http://localhost:5173";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED"] = "true";
        settings["GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED"] = "true";
        settings["GOTRUE_WEBAUTHN_RP_ID"] = "localhost";
        settings["GOTRUE_WEBAUTHN_RP_DISPLAY_NAME"] = "AuthServer tests";
        settings["GOTRUE_WEBAUTHN_RP_ORIGINS"] = Origin;
    }
}

/// <summary>WebAuthn MFA factors (GoTrue mfa.go webauthn paths): enroll, challenge (create/request options), verify to aal2.</summary>
public sealed class WebAuthnFactorTests(WebAuthnMfaFixture server) : IClassFixture<WebAuthnMfaFixture>
{
    const string Origin = WebAuthnMfaFixture.Origin;

    HttpClient Client(string token) => server.CreateClient(AuthServerFixture.ApiVersion2024, token);

    async Task<(string Email, string Password, string Token, string FactorId)> EnrolledAsync()
    {
        var (email, password, session) = await server.NewUserAsync("webauthn");
        var token = (string)session["access_token"]!;
        using var client = Client(token);
        var factor = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors", new { factor_type = "webauthn", friendly_name = "key" }));
        Assert.Equal(["id", "type", "friendly_name"], factor.Select(p => p.Key));
        Assert.Equal("webauthn", (string?)factor["type"]);
        return (email, password, token, (string)factor["id"]!);
    }

    async Task<JsonObject> ChallengeAsync(string token, string factorId)
    {
        using var client = Client(token);
        return await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge",
            new { webauthn = new { rpId = "localhost", rpOrigins = new[] { Origin } } }));
    }

    async Task<HttpResponseMessage> VerifyAsync(string token, string factorId, string challengeId, string type, JsonObject credential)
    {
        using var client = Client(token);
        return await client.PostAsJsonAsync($"/factors/{factorId}/verify", new JsonObject
        {
            ["challenge_id"] = challengeId,
            ["webauthn"] = new JsonObject { ["type"] = type, ["credential_response"] = credential.DeepClone() },
        });
    }

    /// A user whose WebAuthn factor is verified with <paramref name="authenticator"/>.
    async Task<(string Email, string Password, string FactorId)> VerifiedAsync(SoftAuthenticator authenticator)
    {
        var (email, password, token, factorId) = await EnrolledAsync();
        var challenge = await ChallengeAsync(token, factorId);
        await server.OkJsonAsync(await VerifyAsync(token, factorId, (string)challenge["id"]!, "create",
            authenticator.Create(challenge["webauthn"]!["credential_options"]!["publicKey"]!, Origin)));
        return (email, password, factorId);
    }

    Task<string> StatusAsync(string factorId) =>
        server.Db.ScalarAsync<string>("select status::text from auth.mfa_factors where id = @id", new { id = Guid.Parse(factorId) });

    [Fact]
    public async Task Challenge_UnverifiedFactor_CreateOptions()
    {
        var (email, _, token, factorId) = await EnrolledAsync();

        var challenge = await ChallengeAsync(token, factorId);

        Assert.Equal(["id", "type", "expires_at", "webauthn"], challenge.Select(p => p.Key));
        Assert.Equal("create", (string?)challenge["webauthn"]!["type"]);
        var options = challenge["webauthn"]!["credential_options"]!["publicKey"]!;
        Assert.Equal("localhost", (string?)options["rp"]!["id"]);
        Assert.Equal(email, (string?)options["user"]!["name"]);
    }

    [Fact]
    public async Task Verify_CreateWithValidAttestation_VerifiesFactorAndRaisesSessionToAal2()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, _, token, factorId) = await EnrolledAsync();
        var challenge = await ChallengeAsync(token, factorId);

        var session = await server.OkJsonAsync(await VerifyAsync(token, factorId, (string)challenge["id"]!, "create",
            authenticator.Create(challenge["webauthn"]!["credential_options"]!["publicKey"]!, Origin, "packed")));

        var claims = Jwt.Payload((string)session["access_token"]!);
        Assert.Equal("aal2", (string?)claims["aal"]);
        Assert.Contains(claims["amr"]!.AsArray(), a => (string?)a!["method"] == "mfa/webauthn");
        Assert.Equal("verified", await StatusAsync(factorId));
        Assert.Equal(Convert.ToBase64String(authenticator.CredentialId), await server.Db.ScalarAsync<string>(
            "select web_authn_credential->>'id' from auth.mfa_factors where id = @id", new { id = Guid.Parse(factorId) }));
    }

    [Fact]
    public async Task Verify_RequestWithRegisteredCredential_RaisesNewSessionToAal2()
    {
        using var authenticator = new SoftAuthenticator();
        var (email, password, factorId) = await VerifiedAsync(authenticator);
        var token = (string)(await server.SignInAsync(email, password))["access_token"]!;
        var challenge = await ChallengeAsync(token, factorId);
        Assert.Equal("request", (string?)challenge["webauthn"]!["type"]);
        var options = challenge["webauthn"]!["credential_options"]!["publicKey"]!;
        Assert.Equal(authenticator.Id, (string?)Assert.Single(options["allowCredentials"]!.AsArray())!["id"]);

        var session = await server.OkJsonAsync(await VerifyAsync(token, factorId, (string)challenge["id"]!, "request",
            authenticator.Get(options, Origin)));

        Assert.Equal("aal2", (string?)Jwt.Payload((string)session["access_token"]!)["aal"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select (web_authn_credential->'authenticator'->>'signCount')::bigint from auth.mfa_factors where id = @id",
            new { id = Guid.Parse(factorId) }));
    }

    [Theory]
    [InlineData("http://evil.example.com", null)]
    [InlineData(Origin, "evil.example.com")]
    public async Task Verify_CreateWithWrongOriginOrRpId_Returns400AndFactorStaysUnverified(string origin, string? rpId)
    {
        using var authenticator = new SoftAuthenticator();
        var (_, _, token, factorId) = await EnrolledAsync();
        var challenge = await ChallengeAsync(token, factorId);

        await ApiAssert.ErrorAsync(await VerifyAsync(token, factorId, (string)challenge["id"]!, "create",
            authenticator.Create(challenge["webauthn"]!["credential_options"]!["publicKey"]!, origin, rpId: rpId)),
            400, "webauthn_verification_failed");
        Assert.Equal("unverified", await StatusAsync(factorId));
    }

    [Fact]
    public async Task Verify_RequestWithCounterGoingBackwards_Returns400()
    {
        using var authenticator = new SoftAuthenticator();
        var (email, password, factorId) = await VerifiedAsync(authenticator);
        var token = (string)(await server.SignInAsync(email, password))["access_token"]!;
        authenticator.Counter = 7;
        var first = await ChallengeAsync(token, factorId);
        await server.OkJsonAsync(await VerifyAsync(token, factorId, (string)first["id"]!, "request",
            authenticator.Get(first["webauthn"]!["credential_options"]!["publicKey"]!, Origin)));
        authenticator.Counter = 2;
        var second = await ChallengeAsync(token, factorId);

        await ApiAssert.ErrorAsync(await VerifyAsync(token, factorId, (string)second["id"]!, "request",
            authenticator.Get(second["webauthn"]!["credential_options"]!["publicKey"]!, Origin)), 400, "webauthn_verification_failed");
    }

    [Fact]
    public async Task Verify_ReplayedChallenge_Returns422FactorNotFound()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, _, token, factorId) = await EnrolledAsync();
        var challenge = await ChallengeAsync(token, factorId);
        var credential = authenticator.Create(challenge["webauthn"]!["credential_options"]!["publicKey"]!, Origin);
        var session = await server.OkJsonAsync(await VerifyAsync(token, factorId, (string)challenge["id"]!, "create", credential));

        await ApiAssert.ErrorAsync(await VerifyAsync((string)session["access_token"]!, factorId, (string)challenge["id"]!, "create", credential),
            422, "mfa_factor_not_found");
    }

    [Fact]
    public async Task Verify_TwoParallelVerificationsOfOneChallenge_OneSucceeds()
    {
        using var authenticator = new SoftAuthenticator();
        var (email, password, factorId) = await VerifiedAsync(authenticator);
        var token = (string)(await server.SignInAsync(email, password))["access_token"]!;
        var challenge = await ChallengeAsync(token, factorId);
        var assertion = authenticator.Get(challenge["webauthn"]!["credential_options"]!["publicKey"]!, Origin);

        var responses = await Task.WhenAll(
            VerifyAsync(token, factorId, (string)challenge["id"]!, "request", assertion),
            VerifyAsync(token, factorId, (string)challenge["id"]!, "request", assertion));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        await ApiAssert.ErrorAsync(Assert.Single(responses, r => r.StatusCode != HttpStatusCode.OK), 422, "mfa_factor_not_found");
    }

    [Theory]
    [InlineData("""{"challenge_id":"8b6f4c5e-8c1e-4c1e-9a59-3a4f5e6d7c8b"}""", "WebAuthn config required")]
    [InlineData("""{"challenge_id":"8b6f4c5e-8c1e-4c1e-9a59-3a4f5e6d7c8b","webauthn":{"type":"other","credential_response":{}}}""", "WebAuthn type must be create or request")]
    [InlineData("""{"challenge_id":"8b6f4c5e-8c1e-4c1e-9a59-3a4f5e6d7c8b","webauthn":{"type":"create"}}""", "credential_response required")]
    public async Task Verify_MissingWebAuthnParams_Returns400ValidationFailed(string json, string message)
    {
        var (_, _, token, factorId) = await EnrolledAsync();
        using var client = Client(token);

        await ApiAssert.ErrorAsync(await client.PostAsync($"/factors/{factorId}/verify",
            new StringContent(json, System.Text.Encoding.UTF8, "application/json")), 400, "validation_failed", message);
    }
}
