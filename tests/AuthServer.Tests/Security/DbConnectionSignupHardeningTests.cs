using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>Captcha on (the local stub) and one client id for POST /dbconnections/signup.</summary>
public sealed class DbConnectionCaptchaFixture : AuthServerFixture, IAsyncLifetime
{
    public const string ClientId = "web-app";
    public CaptchaStub Stub { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string> settings)
    {
        Stub = CaptchaStub.StartAsync().GetAwaiter().GetResult();
        settings["GOTRUE_SECURITY_CAPTCHA_ENABLED"] = "true";
        settings["GOTRUE_SECURITY_CAPTCHA_PROVIDER"] = "turnstile";
        settings["GOTRUE_SECURITY_CAPTCHA_SECRET"] = CaptchaStub.Secret;
        settings["GOTRUE_SECURITY_CAPTCHA_VERIFY_URL"] = Stub.VerifyUrl.ToString();
        settings["GOTRUE_DBCONNECTIONS_CLIENT_IDS"] = ClientId;
        settings["GOTRUE_RATE_LIMIT_DBCONNECTIONS_SIGNUP"] = "0";
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Stub.DisposeAsync();
    }
}

/// <summary>GOTRUE_DBCONNECTIONS_ENUMERATION_SAFE=true, autoconfirm off.</summary>
public sealed class DbConnectionEnumerationSafeFixture : AuthServerFixture
{
    public const string ClientId = "web-app";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_MAILER_AUTOCONFIRM"] = "false";
        settings["GOTRUE_DBCONNECTIONS_CLIENT_IDS"] = ClientId;
        settings["GOTRUE_RATE_LIMIT_DBCONNECTIONS_SIGNUP"] = "0";
        settings["GOTRUE_DBCONNECTIONS_ENUMERATION_SAFE"] = "true";
    }
}

static class DbSignup
{
    public const string Password = "correct-horse-battery";

    /// This route answers errors as {code, message} whatever the API version.
    public static async Task ErrorAsync(HttpResponseMessage response, int status, string code, string message)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status} {code}, got {(int)response.StatusCode} {text}");
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(code, (string?)body["code"]);
        Assert.Equal(message, (string?)body["message"]);
    }
}

/// <summary>Review L-1: /dbconnections/signup skipped the sign-up captcha.</summary>
public sealed class DbConnectionCaptchaTests(DbConnectionCaptchaFixture server) : IClassFixture<DbConnectionCaptchaFixture>
{
    Task<long> UserCountAsync(string email) =>
        server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email });

    [Fact]
    [Trait("catalogue", "L-1")]
    public async Task L1_DbConnectionSignupWithoutOrWithRefusedCaptcha_Returns400CaptchaFailedAndCreatesNoUser()
    {
        var email = AuthServerFixture.NewEmail("bot");
        using var client = server.CreateClient();

        await DbSignup.ErrorAsync(await client.PostAsJsonAsync("/dbconnections/signup",
                new { client_id = DbConnectionCaptchaFixture.ClientId, email, password = DbSignup.Password }),
            400, "captcha_failed", "captcha protection: request disallowed (no captcha_token found)");
        await DbSignup.ErrorAsync(await client.PostAsJsonAsync("/dbconnections/signup",
                new { client_id = DbConnectionCaptchaFixture.ClientId, email, password = DbSignup.Password, gotrue_meta_security = new { captcha_token = "forged" } }),
            400, "captcha_failed", "captcha protection: request disallowed (invalid-input-response)");

        Assert.Equal(0, await UserCountAsync(email));
    }

    [Fact]
    [Trait("catalogue", "L-1")]
    public async Task L1_DbConnectionSignupWithGoodCaptcha_Returns200Created()
    {
        var email = AuthServerFixture.NewEmail("human");
        using var client = server.CreateClient();

        var created = await server.OkJsonAsync(await client.PostAsJsonAsync("/dbconnections/signup",
            new { client_id = DbConnectionCaptchaFixture.ClientId, email, password = DbSignup.Password, gotrue_meta_security = new { captcha_token = "good" } }));

        Assert.Equal("created", (string?)created["status"]);
        Assert.Equal(1, await UserCountAsync(email));
    }
}

/// <summary>Review L-1: the 409 email_taken answer is an account-enumeration oracle; the opt-in answers alike.</summary>
public sealed class DbConnectionEnumerationSafeTests(DbConnectionEnumerationSafeFixture server) : IClassFixture<DbConnectionEnumerationSafeFixture>
{
    [Fact]
    [Trait("catalogue", "L-1")]
    public async Task L1_EnumerationSafe_TakenEmail_AnswersAsForANewOneAndChangesNothing()
    {
        var existing = AuthServerFixture.NewEmail("taken");
        var existingId = await server.Db.InsertEmailUserAsync(existing, "another-password");
        var fresh = AuthServerFixture.NewEmail("fresh");
        using var client = server.CreateClient();

        var forNew = await server.OkJsonAsync(await client.PostAsJsonAsync("/dbconnections/signup",
            new { client_id = DbConnectionEnumerationSafeFixture.ClientId, email = fresh, password = DbSignup.Password }));
        var forTaken = await server.OkJsonAsync(await client.PostAsJsonAsync("/dbconnections/signup",
            new { client_id = DbConnectionEnumerationSafeFixture.ClientId, email = existing, password = DbSignup.Password }));

        Assert.Equal(forNew.Select(p => p.Key), forTaken.Select(p => p.Key));
        Assert.Equal("created", (string?)forTaken["status"]);
        Assert.Equal((bool)forNew["email_verified"]!, (bool)forTaken["email_verified"]!);
        Assert.NotEqual(existingId.ToString(), (string?)forTaken["user_id"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @existing", new { existing }));
        var row = await server.Db.SingleAsync<(string Hash, DateTime? SentAt)>(
            "select encrypted_password, confirmation_sent_at from auth.users where id = @existingId", new { existingId });
        Assert.True(BCrypt.Net.BCrypt.Verify("another-password", row.Hash));
        Assert.Null(row.SentAt);
    }
}
