using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;
using static AuthServer.Tests.Infrastructure.PwnedPasswordsStub;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_PASSWORD_HIBP_ENABLED, fail-open, no bloom cache; range API on <see cref="PwnedPasswordsStub"/>, 1 s timeout.</summary>
public class PwnedPasswordFixture : AuthServerFixture, IAsyncLifetime
{
    public const string Agent = "authserver-tests-hibp";
    public PwnedPasswordsStub Stub { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string> settings)
    {
        Stub = StartAsync().GetAwaiter().GetResult();
        settings["GOTRUE_PASSWORD_HIBP_ENABLED"] = "true";
        settings["GOTRUE_PASSWORD_HIBP_USER_AGENT"] = Agent;
        settings["GOTRUE_PASSWORD_HIBP_API_URL"] = Stub.BaseUrl.ToString();
        settings["GOTRUE_INTERNAL_HTTP_TIMEOUT"] = "1s";
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Stub.DisposeAsync();
    }
}

/// <summary>As <see cref="PwnedPasswordFixture"/> with GOTRUE_PASSWORD_HIBP_FAIL_CLOSED and the bloom cache on.</summary>
public sealed class PwnedPasswordFailClosedFixture : PwnedPasswordFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        base.Configure(settings);
        settings["GOTRUE_PASSWORD_HIBP_FAIL_CLOSED"] = "true";
        settings["GOTRUE_PASSWORD_HIBP_BLOOM_ENABLED"] = "true";
        settings["GOTRUE_PASSWORD_HIBP_BLOOM_ITEMS"] = "1000";
    }
}

/// <summary>Leaked-password protection as GoTrue's checkPasswordStrength (internal/api/password.go).</summary>
public sealed class PwnedPasswordTests(PwnedPasswordFixture server) : IClassFixture<PwnedPasswordFixture>
{
    internal const string PwnedMessage = "Password is known to be weak and easy to guess, please choose a different one.";
    static readonly string ServiceKey = TestKeys.ServiceRoleKey(withExp: false);

    internal static string NewPassword() => "pw-" + Guid.NewGuid().ToString("N");

    internal static void AssertPwnedReasons(JsonObject body, params string[] reasons) =>
        ApiAssert.JsonEqual(new JsonObject { ["reasons"] = new JsonArray(reasons.Select(r => (JsonNode?)r).ToArray()) }.ToJsonString(),
            body["weak_password"]);

    async Task<long> UsersWithEmailAsync(string email) =>
        await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email });

    [Fact]
    public async Task Signup_PwnedPassword_Returns422WeakPasswordPwnedAndCreatesNoUser()
    {
        var password = NewPassword();
        server.Stub.Pwned(password);
        var email = AuthServerFixture.NewEmail();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password }),
            422, "weak_password", PwnedMessage, inspect: body => AssertPwnedReasons(body, "pwned"));

        Assert.Equal(0, await UsersWithEmailAsync(email));
    }

    [Fact]
    public async Task Signup_PasswordListedOnlyAsPaddingLine_Returns200()
    {
        var password = NewPassword();
        server.Stub.Padded(password); // its suffix is in the answer, with count 0

        var session = await server.SignUpAsync(AuthServerFixture.NewEmail(), password);

        Assert.NotNull(session["access_token"]);
        Assert.Equal(1, server.Stub.RequestsFor(password));
    }

    [Fact]
    public async Task Signup_PwnedAndTooShort_ReportsBothReasonsInGoTrueOrder()
    {
        var password = "ab" + Random.Shared.Next(100, 999);
        server.Stub.Pwned(password);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password }),
            422, "weak_password", "Password should be at least 6 characters. " + PwnedMessage,
            inspect: body => AssertPwnedReasons(body, "length", "pwned"));
    }

    [Fact]
    public async Task UpdateUser_PwnedPassword_Returns422AndCleanPasswordReturns200()
    {
        var (_, _, session) = await server.NewUserAsync("hibp-put");
        var pwned = NewPassword();
        server.Stub.Pwned(pwned);
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)session["access_token"]!);

        var body = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync("/user", new { password = pwned }), 422, "weak_password", PwnedMessage);
        AssertPwnedReasons(body, "pwned");
        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { password = NewPassword() }));
    }

    [Fact]
    public async Task AdminUpdateUser_PwnedPassword_Returns422AndCleanPasswordReturns200()
    {
        var (_, _, session) = await server.NewUserAsync("hibp-admin");
        var pwned = NewPassword();
        server.Stub.Pwned(pwned);
        using var admin = server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);
        var path = $"/admin/users/{(string)session["user"]!["id"]!}";

        var body = await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync(path, new { password = pwned }), 422, "weak_password", PwnedMessage);
        AssertPwnedReasons(body, "pwned");
        await server.OkJsonAsync(await admin.PutAsJsonAsync(path, new { password = NewPassword() }));
    }

    [Fact]
    public async Task AdminCreateUser_PwnedPassword_IsAcceptedWithoutAskingAsGoTrue()
    {
        // GoTrue's adminUserCreate sets the password without checkPasswordStrength.
        var password = NewPassword();
        server.Stub.Pwned(password);
        using var admin = server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);

        await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/users",
            new { email = AuthServerFixture.NewEmail(), password, email_confirm = true }));

        Assert.Equal(0, server.Stub.RequestsFor(password));
    }

    [Fact]
    public async Task SignIn_PasswordPwnedSinceSignup_SucceedsWithWeakPasswordPwned()
    {
        var email = AuthServerFixture.NewEmail();
        var password = NewPassword();
        await server.SignUpAsync(email, password);
        server.Stub.Pwned(password);

        var session = await server.SignInAsync(email, password);

        ApiAssert.JsonEqual(new JsonObject { ["message"] = PwnedMessage, ["reasons"] = new JsonArray("pwned") }.ToJsonString(),
            session["weak_password"]);
    }

    [Fact]
    public async Task SignIn_CleanPassword_HasNoWeakPassword()
    {
        var (email, password, _) = await server.NewUserAsync("hibp-clean");

        var session = await server.SignInAsync(email, password);

        Assert.False(session.ContainsKey("weak_password"));
    }

    [Theory]
    [InlineData(Behaviour.Down)]
    [InlineData(Behaviour.Hang)]
    public async Task Signup_ApiUnavailableFailOpen_Returns200AndLogsWarning(Behaviour behaviour)
    {
        var password = NewPassword();
        server.Stub.Pwned(password);
        server.Stub.Behave(password, behaviour);

        await server.SignUpAsync(AuthServerFixture.NewEmail(), password);

        Assert.Equal(1, server.Stub.RequestsFor(password));
        Assert.Contains("pwned passwords are being allowed", server.ServerLog);
    }

    [Fact]
    public async Task Signup_GarbageAnswer_Returns200AsGoTrueSkipsUnparsedLines()
    {
        var password = NewPassword();
        server.Stub.Behave(password, Behaviour.Garbage);

        await server.SignUpAsync(AuthServerFixture.NewEmail(), password);

        Assert.Equal(1, server.Stub.RequestsFor(password));
    }

    [Fact]
    public async Task Signup_WithoutBloomCache_AsksTheApiEachTime()
    {
        var password = NewPassword();
        server.Stub.Pwned(password);
        using var client = server.CreateClient();

        for (var i = 0; i < 2; i++)
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password }),
                422, "weak_password");

        Assert.Equal(2, server.Stub.RequestsFor(password));
    }

    [Fact]
    public async Task OutboundRequestsAndLogs_CarryOnlyTheFiveCharacterPrefix()
    {
        var pwned = NewPassword();
        var down = NewPassword();
        server.Stub.Pwned(pwned);
        server.Stub.Behave(down, Behaviour.Down);
        using var client = server.CreateClient();

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password = pwned }),
            422, "weak_password");
        await server.SignUpAsync(AuthServerFixture.NewEmail(), down); // fail-open: logs a warning

        foreach (var password in new[] { pwned, down })
        {
            var hash = Sha1Hex(password);
            var request = Assert.Single(server.Stub.Requests, r => r.PathAndQuery == "/range/" + hash[..5]);
            Assert.Equal("", request.Body);
            Assert.Equal("true", request.Headers["Add-Padding"]);
            Assert.Equal(PwnedPasswordFixture.Agent, request.Headers["User-Agent"]);
            foreach (var secret in new[] { password, hash[5..], hash.ToLowerInvariant()[5..] })
            {
                Assert.DoesNotContain(secret, request.PathAndQuery);
                Assert.DoesNotContain(request.Headers.Values, v => v.Contains(secret, StringComparison.Ordinal));
                Assert.DoesNotContain(secret, server.ServerLog);
            }
        }
        Assert.Contains("HaveIBeenPwned", server.ServerLog); // the log was captured, and stays clean
    }
}

/// <summary>Fail-closed and the bloom cache (GoTrue HIBPConfiguration.FailClosed, HIBPBloomConfiguration).</summary>
public sealed class PwnedPasswordFailClosedTests(PwnedPasswordFailClosedFixture server) : IClassFixture<PwnedPasswordFailClosedFixture>
{
    const string Unavailable = "Unable to perform password strength check with HaveIBeenPwned.org.";

    [Theory]
    [InlineData(Behaviour.Down)]
    [InlineData(Behaviour.Hang)]
    public async Task Signup_ApiUnavailable_Returns500UnexpectedFailureAndCreatesNoUser(Behaviour behaviour)
    {
        var password = PwnedPasswordTests.NewPassword();
        server.Stub.Behave(password, behaviour);
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/signup", new { email, password }), 500, "unexpected_failure", Unavailable);

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task Signup_CleanPassword_Returns200()
    {
        var password = PwnedPasswordTests.NewPassword();
        server.Stub.Padded(password);

        await server.SignUpAsync(AuthServerFixture.NewEmail(), password);
    }

    [Fact]
    public async Task Signup_GarbageAnswer_Returns200EvenFailClosedAsGoTrue()
    {
        var password = PwnedPasswordTests.NewPassword();
        server.Stub.Behave(password, Behaviour.Garbage);

        await server.SignUpAsync(AuthServerFixture.NewEmail(), password);
    }

    [Fact]
    public async Task SignIn_ApiDown_StillSignsInWithoutWeakPassword()
    {
        var email = AuthServerFixture.NewEmail();
        var password = PwnedPasswordTests.NewPassword();
        await server.SignUpAsync(email, password);
        server.Stub.Behave(password, Behaviour.Down);

        var session = await server.SignInAsync(email, password);

        Assert.False(session.ContainsKey("weak_password"));
        Assert.Contains("Password strength check on sign-in failed", server.ServerLog);
    }

    [Fact]
    public async Task Signup_BloomCache_RemembersPwnedHashesSoTheSecondCheckMakesNoCall()
    {
        var password = PwnedPasswordTests.NewPassword();
        server.Stub.Pwned(password);
        using var client = server.CreateClient();

        for (var i = 0; i < 2; i++)
        {
            var body = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password }),
                422, "weak_password", PwnedPasswordTests.PwnedMessage);
            PwnedPasswordTests.AssertPwnedReasons(body, "pwned");
        }

        Assert.Equal(1, server.Stub.RequestsFor(password));
    }
}
