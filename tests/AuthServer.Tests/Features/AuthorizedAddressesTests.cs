using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_EXTERNAL_EMAIL_AUTHORIZED_ADDRESSES set (autoconfirm off, so sign-ups send mail).</summary>
public sealed class AuthorizedAddressesFixture : EmailFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings) =>
        settings["GOTRUE_EXTERNAL_EMAIL_AUTHORIZED_ADDRESSES"] = "allowed@example.com, Team@Example.com";
}

/// <summary>Only listed recipients get mail (GoTrue mail.go `checkEmailAddressAuthorization`, config.md §4).</summary>
public sealed class AuthorizedAddressesTests(AuthorizedAddressesFixture server) : IClassFixture<AuthorizedAddressesFixture>
{
    const string Password = "correct-horse-battery";

    [Fact]
    public async Task Signup_UnlistedRecipient_Returns400EmailAddressNotAuthorizedAndCreatesNothing()
    {
        var email = AuthServerFixture.NewEmail("stranger");

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password = Password }),
            400, "email_address_not_authorized", $"Email address \"{email}\" cannot be used as it is not authorized");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.mail_outbox where recipient = @email", new { email }));
    }

    [Fact]
    public async Task Signup_ListedAddressWithPlusLabelOrOtherCase_SendsTheMail()
    {
        var labelled = $"allowed+{Guid.NewGuid():N}@example.com";
        using var client = server.CreateClient();

        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email = labelled, password = Password }));
        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email = "team@example.com", password = Password }));

        Assert.Equal("Confirm your email address", (await server.Mail.LatestAsync(labelled)).Subject);
        Assert.Equal("Confirm your email address", (await server.Mail.LatestAsync("team@example.com")).Subject);
    }

    [Fact]
    public async Task Recover_UnlistedExistingUser_Returns400AndStoresNoToken()
    {
        // A user created before the list was set (GoTrue checks the recipient, not the account).
        var email = AuthServerFixture.NewEmail("legacy");
        var id = await server.Db.InsertEmailUserAsync(email, Password);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/recover", new { email }),
            400, "email_address_not_authorized", $"Email address \"{email}\" cannot be used as it is not authorized");

        Assert.Equal("", await server.Db.ScalarAsync<string>("select recovery_token from auth.users where id = @id", new { id }));
    }

    [Fact]
    public async Task UserEmailChange_ToUnlistedAddress_Returns400AndKeepsTheEmail()
    {
        var email = $"allowed+{Guid.NewGuid():N}@example.com";
        var id = await server.Db.InsertEmailUserAsync(email, Password);
        var session = await server.SignInAsync(email, Password);
        var newEmail = AuthServerFixture.NewEmail("elsewhere");

        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user", new { email = newEmail }),
            400, "email_address_not_authorized", $"Email address \"{newEmail}\" cannot be used as it is not authorized",
            bearer: (string)session["access_token"]!);

        Assert.Equal("", await server.Db.ScalarAsync<string>("select email_change from auth.users where id = @id", new { id }));
    }
}
