using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Phone sign-in without SMS autoconfirm and a global budget of 2 SMS per hour (GOTRUE_RATE_LIMIT_SMS_SENT=2).</summary>
public sealed class SmsBudgetFixture : PhoneFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        base.Configure(settings);
        settings["GOTRUE_RATE_LIMIT_SMS_SENT"] = "2";
    }
}

/// <summary>GOTRUE_RATE_LIMIT_SMS_SENT: every SMS OTP about to be sent takes from one global bucket.</summary>
public sealed class SmsBudgetTests(SmsBudgetFixture server) : IClassFixture<SmsBudgetFixture>
{
    [Fact]
    public async Task Otp_BeyondTheSmsBudget_Returns429SendsNothingAndLeavesNoUser_TestNumbersAreNotCounted()
    {
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        var first = PhoneFixture.NewPhone();
        var second = PhoneFixture.NewPhone();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone = "+" + first }));
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone = "+" + second }));
        Assert.Single(server.Sms.To(first));
        Assert.Single(server.Sms.To(second));

        var third = PhoneFixture.NewPhone();
        var refused = await client.PostAsJsonAsync("/otp", new { phone = "+" + third });

        await ApiAssert.ErrorAsync(refused, 429, "over_sms_send_rate_limit", "SMS rate limit exceeded");
        Assert.Empty(server.Sms.To(third));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where phone = @third", new { third }));

        // A GOTRUE_SMS_TEST_OTP number gets no SMS, so it takes nothing from the budget.
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone = "+" + PhoneFixture.TestPhone }));
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "sms", phone = PhoneFixture.TestPhone, token = PhoneFixture.TestOtp }));
        Assert.NotNull(session["access_token"]);

        // Other SMS-sending routes share the bucket: a resend for the first phone is refused as well.
        await server.Db.ExecuteAsync("update auth.users set confirmation_sent_at = confirmation_sent_at - interval '2 minutes' where phone = @first", new { first });
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/resend", new { type = "sms", phone = "+" + first }),
            429, "over_sms_send_rate_limit", "SMS rate limit exceeded");
        Assert.Single(server.Sms.To(first));

        // Refilled at 2 per hour: after half an hour one more SMS goes out.
        server.Clock.Advance(TimeSpan.FromMinutes(31));
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone = "+" + third }));
        Assert.Single(server.Sms.To(third));
    }
}

/// <summary>GOTRUE_SMS_AUTOCONFIRM=true with a budget of 1 SMS per hour.</summary>
public sealed class SmsBudgetAutoconfirmFixture : PhoneFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        base.Configure(settings);
        settings["GOTRUE_SMS_AUTOCONFIRM"] = "true";
        settings["GOTRUE_RATE_LIMIT_SMS_SENT"] = "1";
    }
}

public sealed class SmsBudgetAutoconfirmTests(SmsBudgetAutoconfirmFixture server) : IClassFixture<SmsBudgetAutoconfirmFixture>
{
    [Fact]
    public async Task Otp_WithSmsAutoconfirm_IsNotLimitedByTheSmsBudget()
    {
        using var client = server.CreateClient();
        var phones = Enumerable.Range(0, 3).Select(_ => PhoneFixture.NewPhone()).ToList();

        foreach (var phone in phones)
            await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone = "+" + phone }));

        Assert.All(phones, phone => Assert.Single(server.Sms.To(phone)));
    }
}
