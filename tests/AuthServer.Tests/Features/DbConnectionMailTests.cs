using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>
/// POST /dbconnections/signup mail (issue 7 §1): the confirmation mail when the connection's
/// verify_email_auto_send is on, the welcome mail when welcome_email_enabled is on, read from the SMTP catcher.
/// </summary>
public sealed class DbConnectionMailTests(DbConnectionFixture server) : IClassFixture<DbConnectionFixture>
{
    const string Password = "correct-horse-battery";
    static int ipCounter;

    async Task<Guid> SignUpAsync(string clientId, string email, object? extra = null)
    {
        var n = Interlocked.Increment(ref ipCounter);
        using var client = server.CreateClient();
        var body = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra ?? new { }))!.AsObject();
        body["client_id"] = clientId;
        body["email"] = email;
        body["password"] = Password;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/dbconnections/signup") { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Forwarded-For", $"203.0.113.{n % 250 + 1}");
        var created = await server.OkJsonAsync(await client.SendAsync(request));
        return Guid.Parse((string)created["user_id"]!);
    }

    async Task<string> ConnectionAsync(bool verify, bool welcome)
    {
        var clientId = "app-" + Guid.NewGuid().ToString("N");
        using var admin = server.CreateClient(bearer: ServiceRole.Key());
        var response = await admin.PostAsJsonAsync("/connections", new
        {
            name = "conn-" + clientId,
            enabled_clients = new[] { clientId },
            verify_email_auto_send = verify,
            welcome_email_enabled = welcome,
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return clientId;
    }

    /// Once the outbox holds nothing more for <paramref name="email"/> (rows are committed with the sign-up and
    /// deleted only after the catcher has the message), the catcher holds exactly <paramref name="count"/>.
    async Task AssertDeliveredExactlyAsync(string email, int count)
    {
        for (var wait = 0; await server.Db.ScalarAsync<long>(
                 "select count(*) from authserver.mail_outbox where recipient = @email", new { email }) > 0; wait++)
        {
            Assert.True(wait < 300, "mail still waiting in the outbox\n" + server.ServerLog);
            await Task.Delay(100);
        }
        Assert.Equal(count, server.Mail.To(email).Count);
    }

    Task<List<string>> AuditActionsAsync(Guid userId) => server.Db.QueryAsync<string>(
        "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @id order by created_at",
        new { id = userId.ToString() });

    [Fact]
    public async Task Signup_VerifyEmailAutoSendOn_SendsConfirmationMailWhoseLinkConfirmsTheUser()
    {
        var email = AuthServerFixture.NewEmail("db-verify");

        var userId = await SignUpAsync(DbConnectionFixture.ClientId, email);

        var mail = await server.Mail.LatestAsync(email);
        Assert.Equal("Confirm your email address", mail.Subject);
        Assert.Equal("admin@example.com", mail.From);
        Assert.StartsWith("http://localhost:9999/verify?token=", mail.Link);
        Assert.Contains("&type=signup&redirect_to=http://localhost:3000", mail.Link);
        // The confirmation request is audited as /signup audits it (GoTrue signup.go), once.
        var actions = await AuditActionsAsync(userId);
        Assert.Equal(1, actions.Count(a => a == "user_confirmation_requested"));
        Assert.Contains("user_signedup", actions);

        using var client = server.CreateClient();
        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.StartsWith("http://localhost:3000#access_token=", response.Headers.NonValidated["Location"].ToString());
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where id = @userId", new { userId }));
        await server.SignInAsync(email, Password);
        await AssertDeliveredExactlyAsync(email, 1);
    }

    [Fact]
    public async Task Signup_VerifyEmailAutoSendOff_SendsNoMail()
    {
        var clientId = await ConnectionAsync(verify: false, welcome: false);
        var email = AuthServerFixture.NewEmail("db-quiet");

        var userId = await SignUpAsync(clientId, email);

        await AssertDeliveredExactlyAsync(email, 0);
        Assert.DoesNotContain("user_confirmation_requested", await AuditActionsAsync(userId));
    }

    [Fact]
    public async Task Signup_WelcomeEmailEnabled_SendsWelcomeMailOnly()
    {
        var clientId = await ConnectionAsync(verify: false, welcome: true);
        var email = AuthServerFixture.NewEmail("db-welcome");

        await SignUpAsync(clientId, email, new { given_name = "Ada" });

        var mail = await server.Mail.LatestAsync(email);
        // GOTRUE_MAILER_SUBJECTS_WELCOME (set by the fixture) with the user's metadata; the default body.
        Assert.Equal("Welcome, Ada", mail.Subject);
        Assert.Contains($"Your account for {email} has been created.", mail.Html);
        Assert.Equal("http://localhost:3000", mail.Link);
        Assert.Equal("welcome", mail.Headers["X-Mail-Kind"]);
        await AssertDeliveredExactlyAsync(email, 1);
    }

    [Fact]
    public async Task Signup_VerifyAndWelcomeEnabled_SendsBothMails()
    {
        var clientId = await ConnectionAsync(verify: true, welcome: true);
        var email = AuthServerFixture.NewEmail("db-both");

        await SignUpAsync(clientId, email);

        var mails = await server.Mail.WaitForAsync(email, 2);
        Assert.Equal(["Confirm your email address", "Welcome"], mails.Select(m => m.Subject).Order().ToArray());
        await AssertDeliveredExactlyAsync(email, 2);
    }
}
