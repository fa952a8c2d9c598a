using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>A server of its own per case: phone sign-in and phone MFA through <see cref="FakeSmsProvider"/>.</summary>
public sealed class RetryAfterServer(Action<IDictionary<string, string>> configure) : PhoneFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        base.Configure(settings);
        settings["GOTRUE_MFA_PHONE_ENROLL_ENABLED"] = "true";
        settings["GOTRUE_MFA_PHONE_VERIFY_ENABLED"] = "true";
        configure(settings);
    }
}

/// <summary>
/// Issue 14 item 3: every 429 the server can answer carries `Retry-After` in whole seconds (≥ 1). One case per
/// place a 429 comes from; each provokes it on a fresh server and checks the header. (An auth hook's own 429 is
/// pinned in `CustomAccessTokenHookTests.SignUp_HttpHookReturnsError_UsesItsStatusAndMessage`.)
/// </summary>
[Trait("catalogue", "R")]
public sealed class RetryAfterTests
{
    sealed record Case(string Code, Action<IDictionary<string, string>> Configure, Func<RetryAfterServer, Task<HttpResponseMessage>> ProvokeAsync);

    static async Task<HttpResponseMessage> RepeatAsync(int times, Func<Task<HttpResponseMessage>> send)
    {
        HttpResponseMessage last = null!;
        for (var i = 0; i < times; i++) last = await send();
        return last;
    }

    static HttpRequestMessage WithClient(HttpRequestMessage request, string client)
    {
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", client);
        return request;
    }

    static async Task<(HttpClient Client, string FactorId)> EnrolledAsync(RetryAfterServer server, object factor)
    {
        var (_, _, session) = await server.NewUserAsync("mfa");
        var client = server.CreateClient(bearer: (string)session["access_token"]!);
        var enrolled = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors", factor));
        return (client, (string)enrolled["id"]!);
    }

    static async Task<string> ChallengeAsync(RetryAfterServer server, HttpClient client, string factorId) =>
        (string)(await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { })))["id"]!;

    static readonly Dictionary<string, Case> Cases = new()
    {
        ["per-client request limit (GOTRUE_RATE_LIMIT_HEADER)"] = new("over_request_rate_limit",
            s => { s["GOTRUE_RATE_LIMIT_HEADER"] = "X-Forwarded-For"; s["GOTRUE_RATE_LIMIT_OTP"] = "0.3"; },
            server => RepeatAsync(31, () => server.CreateClient().SendAsync(WithClient(
                new HttpRequestMessage(HttpMethod.Post, "/signup") { Content = JsonContent.Create(new { email = "not-an-email" }) }, "203.0.113.1")))),
        ["anonymous sign-ins (GOTRUE_RATE_LIMIT_ANONYMOUS_USERS)"] = new("over_request_rate_limit",
            s => { s["GOTRUE_RATE_LIMIT_HEADER"] = "X-Forwarded-For"; s["GOTRUE_RATE_LIMIT_ANONYMOUS_USERS"] = "1"; s["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = "true"; },
            server => RepeatAsync(2, () => server.CreateClient().SendAsync(WithClient(
                new HttpRequestMessage(HttpMethod.Post, "/signup") { Content = JsonContent.Create(new { }) }, "203.0.113.2")))),
        ["password attempts per account and client"] = new("over_request_rate_limit",
            s => s["GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT"] = "1/1h",
            server => RepeatAsync(2, () => server.CreateClient().PostAsJsonAsync("/token?grant_type=password", new { email = "a@example.com", password = "x" }))),
        ["password failures per account"] = new("over_request_rate_limit",
            s => s["GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT"] = "1/1h",
            async server =>
            {
                await server.CreateClient().PostAsJsonAsync("/token?grant_type=password", new { email = "b@example.com", password = "x" });
                using var other = LoopbackClients.From("127.0.0.50", server.BaseAddress);
                return await other.PostAsJsonAsync("/token?grant_type=password", new { email = "b@example.com", password = "x" });
            }),
        ["mail interval, known address (GOTRUE_SMTP_MAX_FREQUENCY)"] = new("over_email_send_rate_limit",
            _ => { },
            async server =>
            {
                var email = AuthServerFixture.NewEmail("known");
                await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
                return await RepeatAsync(2, () => server.CreateClient().PostAsJsonAsync("/otp", new { email }));
            }),
        ["mail interval, unknown address"] = new("over_email_send_rate_limit",
            _ => { },
            server => RepeatAsync(2, () => server.CreateClient().PostAsJsonAsync("/recover", new { email = "nobody@example.com" }))),
        ["global email budget (GOTRUE_RATE_LIMIT_EMAIL_SENT)"] = new("over_email_send_rate_limit",
            s => { s["GOTRUE_RATE_LIMIT_EMAIL_SENT"] = "1"; s["GOTRUE_MAILER_AUTOCONFIRM"] = "false"; },
            server => RepeatAsync(2, () => server.CreateClient().PostAsJsonAsync("/otp", new { email = AuthServerFixture.NewEmail("budget") }))),
        ["global SMS budget (GOTRUE_RATE_LIMIT_SMS_SENT)"] = new("over_sms_send_rate_limit",
            s => s["GOTRUE_RATE_LIMIT_SMS_SENT"] = "1",
            server => RepeatAsync(2, () => server.CreateClient().PostAsJsonAsync("/otp", new { phone = "+" + PhoneFixture.NewPhone() }))),
        ["SMS interval (GOTRUE_SMS_MAX_FREQUENCY)"] = new("over_sms_send_rate_limit",
            _ => { },
            server =>
            {
                var phone = "+" + PhoneFixture.NewPhone();
                return RepeatAsync(2, () => server.CreateClient().PostAsJsonAsync("/otp", new { phone }));
            }),
        ["MFA TOTP verification failures"] = new("over_request_rate_limit",
            s => s["GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY"] = "1",
            async server =>
            {
                var (client, factorId) = await EnrolledAsync(server, new { factor_type = "totp", friendly_name = "app" });
                return await RepeatAsync(2, async () => await client.PostAsJsonAsync($"/factors/{factorId}/verify",
                    new { challenge_id = await ChallengeAsync(server, client, factorId), code = "000000" }));
            }),
        ["MFA phone challenge interval (GOTRUE_MFA_PHONE_MAX_FREQUENCY)"] = new("over_sms_send_rate_limit",
            _ => { },
            async server =>
            {
                var (client, factorId) = await EnrolledAsync(server, new { factor_type = "phone", phone = "+" + PhoneFixture.NewPhone() });
                await ChallengeAsync(server, client, factorId);
                return await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { });
            }),
        ["MFA phone verification failures"] = new("over_request_rate_limit",
            s => s["GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY"] = "1",
            async server =>
            {
                var (client, factorId) = await EnrolledAsync(server, new { factor_type = "phone", phone = "+" + PhoneFixture.NewPhone() });
                var challengeId = await ChallengeAsync(server, client, factorId);
                return await RepeatAsync(2, () => client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code = "000000" }));
            }),
        ["/dbconnections/signup (GOTRUE_RATE_LIMIT_DBCONNECTIONS_SIGNUP)"] = new("over_request_rate_limit",
            s => { s["GOTRUE_DBCONNECTIONS_CLIENT_IDS"] = "app-1"; s["GOTRUE_RATE_LIMIT_DBCONNECTIONS_SIGNUP"] = "1"; },
            server => RepeatAsync(2, () => server.CreateClient().PostAsJsonAsync("/dbconnections/signup", new { client_id = "nobody" }))),
    };

    public static TheoryData<string> Paths => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task TooManyRequests_OnEveryPath_CarriesRetryAfterInWholeSeconds(string path)
    {
        var @case = Cases[path];
        var server = new RetryAfterServer(@case.Configure);
        await server.InitializeAsync();
        try
        {
            var response = await @case.ProvokeAsync(server);

            Assert.True(response.StatusCode == System.Net.HttpStatusCode.TooManyRequests,
                $"{path}: expected 429, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{server.ServerLog}");
            var values = response.Headers.GetValues("Retry-After").ToList();
            Assert.Single(values);
            Assert.True(int.TryParse(values[0], out var seconds) && seconds >= 1, $"{path}: Retry-After '{values[0]}'");
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(@case.Code, (string?)body["error_code"] ?? (string?)body["code"]);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
