using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace AuthServer.Tests.Features;

/// <summary>Captcha on, verified by <see cref="CaptchaStub"/> on 127.0.0.1, 2 s timeout.</summary>
public sealed class CaptchaFixture : AuthServerFixture, IAsyncLifetime
{
    public CaptchaStub Stub { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string> settings)
    {
        Stub = CaptchaStub.StartAsync().GetAwaiter().GetResult();
        settings["GOTRUE_SECURITY_CAPTCHA_ENABLED"] = "true";
        settings["GOTRUE_SECURITY_CAPTCHA_PROVIDER"] = "turnstile";
        settings["GOTRUE_SECURITY_CAPTCHA_SECRET"] = CaptchaStub.Secret;
        settings["GOTRUE_SECURITY_CAPTCHA_TIMEOUT"] = "2s";
        settings["GOTRUE_SECURITY_CAPTCHA_VERIFY_URL"] = Stub.VerifyUrl.ToString();
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Stub.DisposeAsync();
    }
}

[Trait("catalogue", "R6")]
public sealed class CaptchaTests(CaptchaFixture server) : IClassFixture<CaptchaFixture>
{
    const string Password = "correct-horse-battery";

    static object SignupBody(string email, string? captcha) => captcha is null
        ? new { email, password = Password }
        : new { email, password = Password, gotrue_meta_security = new { captcha_token = captcha } };

    [Fact]
    public async Task Signup_WithoutCaptchaToken_Returns400CaptchaFailedAndCreatesNoUser()
    {
        var email = AuthServerFixture.NewEmail();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", SignupBody(email, null)),
            400, "captcha_failed", "captcha protection: request disallowed (no captcha_token found)");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task Signup_RefusedCaptchaToken_Returns400WithProviderErrorCodes()
    {
        var email = AuthServerFixture.NewEmail();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", SignupBody(email, "forged")),
            400, "captcha_failed", "captcha protection: request disallowed (invalid-input-response)");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task Signup_GoodCaptchaToken_ReturnsSessionAndSendsSecretTokenAndClientIp()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();

        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", SignupBody(email, "good")));

        Assert.Equal(email, (string?)session["user"]!["email"]);
        var sent = server.Stub.Requests.Last(r => r.GetValueOrDefault("response") == "good");
        Assert.Equal(CaptchaStub.Secret, sent["secret"]);
        Assert.Equal("127.0.0.1", sent["remoteip"]);
    }

    [Fact]
    public async Task Token_PasswordGrantWithoutCaptcha_Returns400AndWithCaptchaReturnsSession()
    {
        var email = AuthServerFixture.NewEmail();
        await server.Db.InsertEmailUserAsync(email, Password);
        using var client = server.CreateClient();

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = Password }),
            400, "captcha_failed");
        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=password",
            new { email, password = Password, gotrue_meta_security = new { captcha_token = "good" } }));
    }

    [Theory]
    [InlineData("/recover")]
    [InlineData("/resend")]
    [InlineData("/otp")]
    [InlineData("/magiclink")]
    public async Task MailRoutes_WithoutCaptchaToken_Return400CaptchaFailed(string path)
    {
        // api.md §0: captcha guards /recover, /resend, /magiclink and /otp as well as /signup.
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync(path, new { email = AuthServerFixture.NewEmail(), type = "signup" });

        await ApiAssert.ErrorAsync(response, 400, "captcha_failed",
            "captcha protection: request disallowed (no captcha_token found)");
    }

    [Fact]
    public async Task Token_RefreshGrant_NeedsNoCaptcha()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", SignupBody(email, "good")));

        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)session["refresh_token"]! }));
    }

    [Fact]
    public async Task Signup_WithServiceRoleToken_SkipsCaptcha()
    {
        var admin = Jwt.Sign(new JsonObject { ["role"] = "service_role", ["iss"] = "supabase" }, AuthServerFixture.JwtSecret);
        using var client = server.CreateClient(bearer: admin);

        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", SignupBody(AuthServerFixture.NewEmail(), null)));
    }

    [Fact]
    public async Task Signup_WithUserTokenInsteadOfAdmin_StillNeedsCaptcha()
    {
        var user = Jwt.Sign(new JsonObject { ["role"] = "authenticated", ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() },
            AuthServerFixture.JwtSecret);
        using var client = server.CreateClient(bearer: user);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/signup", SignupBody(AuthServerFixture.NewEmail(), null)),
            400, "captcha_failed");
    }

    [Theory]
    [InlineData("hang")]
    [InlineData("garbage")]
    public async Task Signup_VerifierHangsOrAnswersGarbage_Returns500GenericAfterTimeout(string token)
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        var response = await client.PostAsJsonAsync("/signup", SignupBody(email, token));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("unexpected_failure", (string?)body["code"]);
        Assert.Equal("captcha verification process failed", (string?)body["message"]);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task Signup_MalformedJson_Returns400BadJsonBeforeVerifying()
    {
        using var client = server.CreateClient();
        var before = server.Stub.Requests.Count;

        var response = await client.PostAsync("/signup", new StringContent("{\"email\":", System.Text.Encoding.UTF8, "application/json"));

        await ApiAssert.ErrorAsync(response, 400, "bad_json");
        Assert.Equal(before, server.Stub.Requests.Count);
    }

    [Theory]
    [InlineData("hcaptcha", "https://api.hcaptcha.com/siteverify")]
    [InlineData("turnstile", "https://challenges.cloudflare.com/turnstile/v0/siteverify")]
    public void Options_Provider_SelectsItsVerifyUrl(string provider, string url)
    {
        var env = new EnvReader(new ConfigurationBuilder().AddInMemoryCollection([
            new("GOTRUE_SECURITY_CAPTCHA_ENABLED", "true"), new("GOTRUE_SECURITY_CAPTCHA_PROVIDER", provider),
            new("GOTRUE_SECURITY_CAPTCHA_SECRET", "s")]).Build());

        Assert.Equal(new Uri(url), CaptchaOptions.Load(env).VerifyUrl);
    }

    [Theory]
    [InlineData("GOTRUE_SECURITY_CAPTCHA_PROVIDER", "recaptcha")]
    [InlineData("GOTRUE_SECURITY_CAPTCHA_SECRET", "")]
    public void Options_EnabledWithBadProviderOrNoSecret_StopsTheBoot(string name, string value)
    {
        var values = new Dictionary<string, string?>
        {
            ["GOTRUE_SECURITY_CAPTCHA_ENABLED"] = "true",
            ["GOTRUE_SECURITY_CAPTCHA_PROVIDER"] = "hcaptcha",
            ["GOTRUE_SECURITY_CAPTCHA_SECRET"] = "s",
            [name] = value,
        };
        var env = new EnvReader(new ConfigurationBuilder().AddInMemoryCollection(values).Build());

        Assert.Throws<ConfigException>(() => CaptchaOptions.Load(env));
    }
}
