using System.Net;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>An unverified provider email gets GoTrue's `sendConfirmation` mail (external.go
/// `createAccountFromExternalIdentity`, `linkIdentityToUser`), and its link confirms the account.</summary>
public sealed class ExternalConfirmationMailTests(OidcFixture server) : IClassFixture<OidcFixture>
{
    [Fact]
    public async Task IdToken_UnverifiedEmailNewUser_SendsConfirmationMailWhoseLinkConfirms()
    {
        var (token, _, email) = server.GoogleToken(emailVerified: false);

        await ApiAssert.ErrorAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = token }),
            422, "provider_email_needs_verification", "Unverified email with google. A confirmation email has been sent to your google email");

        var mail = await server.Mail.LatestAsync(email);
        Assert.Equal("Confirm your email address", mail.Subject);
        Assert.Contains("type=signup", mail.Link);
        using var client = server.CreateClient();
        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Contains("access_token=", response.Headers.Location!.ToString());
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>(
            "select email_confirmed_at from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task IdToken_LinkUnverifiedEmailToAnonymousUser_SendsConfirmationMail()
    {
        var anonymous = await server.AnonymousAsync();
        var (token, _, email) = server.GoogleToken(emailVerified: false);

        await ApiAssert.ErrorAsync(await server.IdTokenGrantAsync(
                new { provider = "google", id_token = token, link_identity = true }, (string)anonymous["access_token"]!),
            422, "email_not_confirmed", "Unverified email with google. A confirmation email has been sent to your google email");

        var mail = await server.Mail.LatestAsync(email);
        Assert.Equal("Confirm your email address", mail.Subject);
        Assert.Equal((string)anonymous["user"]!["id"]!, (await server.Db.ScalarAsync<Guid>(
            "select id from auth.users where email = @email", new { email })).ToString());
    }
}
