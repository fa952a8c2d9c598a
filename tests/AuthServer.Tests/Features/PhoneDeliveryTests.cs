using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_HOOK_SEND_SMS_* over HTTP: the hook, not the provider, sends every SMS OTP.</summary>
public sealed class SmsHookFixture : AuthServerFixture, IAsyncLifetime
{
    public HookReceiver Hook { get; } = new() { Respond = _ => (200, "application/json", "{}") };

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_EXTERNAL_PHONE_ENABLED"] = "true";
        settings["GOTRUE_HOOK_SEND_SMS_ENABLED"] = "true";
        settings["GOTRUE_HOOK_SEND_SMS_URI"] = Hook.Url;
        settings["GOTRUE_HOOK_SEND_SMS_SECRETS"] = HookReceiver.Secret;
        settings["GOTRUE_SMS_TEMPLATE"] = "ignored by the hook {{ .Code }}";
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Hook.DisposeAsync();
    }
}

public sealed class SmsHookTests(SmsHookFixture server) : IClassFixture<SmsHookFixture>
{
    [Fact]
    public async Task Signup_Phone_HookGetsSignedOtpWhichVerifies()
    {
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient();

        var user = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { phone = "+" + phone, password = "correct-horse-battery" }));

        var call = Assert.Single(server.Hook.Calls, c => (string?)c.Body["user"]?["phone"] == phone);
        Assert.True(call.SignatureValid);
        Assert.Equal((string?)user["id"], (string?)call.Body["user"]!["id"]);
        Assert.Equal("send-sms", (string?)call.Body["metadata"]!["name"]);
        var otp = (string)call.Body["sms"]!["otp"]!;
        Assert.Matches("^[0-9]{6}$", otp);
        Assert.Equal("confirmation", (string?)call.Body["sms"]!["sms_type"]);
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "sms", phone, token = otp }));
        Assert.NotNull(session["user"]!["phone_confirmed_at"]);
    }

    [Fact]
    public async Task Otp_HookAnswersError_ReturnsItsStatusAndCreatesNoUser()
    {
        var phone = PhoneFixture.NewPhone();
        server.Hook.Respond = _ => (200, "application/json", """{"error":{"http_code":400,"message":"number blocked"}}""");
        try
        {
            using var client = server.CreateClient();
            var response = await client.PostAsJsonAsync("/otp", new { phone });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("number blocked", await response.Content.ReadAsStringAsync());
        }
        finally { server.Hook.Respond = _ => (200, "application/json", "{}"); }

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where phone = @phone", new { phone }));
    }

    [Fact]
    public async Task Otp_WhatsappWithHook_AnyChannelAccepted()
    {
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone, channel = "whatsapp" }));
        Assert.Single(server.Hook.Calls, c => (string?)c.Body["user"]?["phone"] == phone);
    }
}

/// <summary>The provider's API cannot be reached (nothing listens on its port).</summary>
public sealed class SmsProviderDownFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_EXTERNAL_PHONE_ENABLED"] = "true";
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        settings["GOTRUE_SMS_PROVIDER"] = "vonage";
        settings["GOTRUE_SMS_VONAGE_API_KEY"] = "key";
        settings["GOTRUE_SMS_VONAGE_API_SECRET"] = "secret";
        settings["GOTRUE_SMS_VONAGE_FROM"] = "AuthServer";
        settings["GOTRUE_SMS_PROVIDER_API_URL"] = $"http://127.0.0.1:{port}";
    }
}

public sealed class SmsProviderDownTests(SmsProviderDownFixture server) : IClassFixture<SmsProviderDownFixture>
{
    [Fact]
    public async Task Signup_ProviderUnreachable_Returns422SmsSendFailedAndNothingWritten()
    {
        var phone = PhoneFixture.NewPhone();

        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/signup", new { phone, password = "correct-horse-battery" }),
            422, "sms_send_failed", messagePrefix: "Error sending confirmation OTP to provider: Post \"http://127.0.0.1:");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where phone = @phone", new { phone }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'actor_username' = @phone", new { phone }));
    }
}
