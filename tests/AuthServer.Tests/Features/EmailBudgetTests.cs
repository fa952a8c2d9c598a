using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Mailer autoconfirm off and a global budget of two emails per hour (GOTRUE_RATE_LIMIT_EMAIL_SENT=2).</summary>
public sealed class EmailBudgetFixture : EmailFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings) =>
        settings["GOTRUE_RATE_LIMIT_EMAIL_SENT"] = "2";
}

/// <summary>Mailer autoconfirm on (GoTrue skips the email budget then) and a budget of one email per hour.</summary>
public sealed class AutoconfirmEmailBudgetFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_RATE_LIMIT_EMAIL_SENT"] = "1";
}

/// <summary>
/// The global email budget (GoTrue internal/api/mail.go `sendEmail`): one token per send, whichever flow and
/// address; over it 429 over_email_send_rate_limit "email rate limit exceeded" and nothing is stored or queued.
/// One test per class: the budget is global to the server.
/// </summary>
public sealed class EmailBudgetTests(EmailBudgetFixture server) : IClassFixture<EmailBudgetFixture>
{
    const string Password = "correct-horse-battery";

    [Fact]
    public async Task Sends_OverTheGlobalBudget_Return429AndQueueNothing()
    {
        using var client = server.CreateClient();
        var first = AuthServerFixture.NewEmail("budget-signup");
        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email = first, password = Password }));
        var second = AuthServerFixture.NewEmail("budget-recover");
        var secondId = await server.Db.InsertEmailUserAsync(second, Password);
        await server.OkJsonAsync(await client.PostAsJsonAsync("/recover", new { email = second }));
        Assert.Equal("Confirm your email address", (await server.Mail.LatestAsync(first)).Subject);
        Assert.Equal("Reset your password", (await server.Mail.LatestAsync(second)).Subject);

        // A third address, a third flow: the budget is global, not per address or route.
        var third = AuthServerFixture.NewEmail("budget-otp");
        var thirdId = await server.Db.InsertEmailUserAsync(third, Password);
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/otp", new { email = third }),
            429, "over_email_send_rate_limit", "email rate limit exceeded");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup",
                new { email = AuthServerFixture.NewEmail("budget-late"), password = Password }),
            429, "over_email_send_rate_limit", "email rate limit exceeded");

        Assert.Equal("", await server.Db.ScalarAsync<string>("select recovery_token from auth.users where id = @thirdId", new { thirdId }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.mail_outbox where recipient = @third", new { third }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email like 'budget-late-%'"));
        Assert.NotEqual("", await server.Db.ScalarAsync<string>("select recovery_token from auth.users where id = @secondId", new { secondId }));
    }
}

public sealed class AutoconfirmEmailBudgetTests(AutoconfirmEmailBudgetFixture server) : IClassFixture<AutoconfirmEmailBudgetFixture>
{
    [Fact]
    public async Task Recover_WithMailerAutoconfirm_IsNotCountedAgainstTheBudget()
    {
        using var client = server.CreateClient();
        var emails = new[] { AuthServerFixture.NewEmail("free-a"), AuthServerFixture.NewEmail("free-b"), AuthServerFixture.NewEmail("free-c") };
        foreach (var email in emails)
        {
            await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
            await server.OkJsonAsync(await client.PostAsJsonAsync("/recover", new { email }));
        }
        foreach (var email in emails)
            Assert.Equal("Reset your password", (await server.Mail.LatestAsync(email)).Subject);
    }
}
