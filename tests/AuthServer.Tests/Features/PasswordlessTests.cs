using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>POST /otp, /magiclink, /recover, /resend, GET /reauthenticate (api.md §3).</summary>
public sealed class PasswordlessTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    [Fact]
    public async Task Otp_NewEmail_SignsUpAndSendsConfirmationThatVerifiesAsTypeEmail()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/otp", new { email, data = new { plan = "pro" } });

        Assert.Equal("{}", await (await Ok(response)).Content.ReadAsStringAsync());
        var mail = await server.Mail.LatestAsync(email);
        Assert.Equal("Confirm your email address", mail.Subject);
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "email", email, token = mail.Code }));
        Assert.Equal("pro", (string?)session["user"]!["user_metadata"]!["plan"]);
    }

    [Fact]
    public async Task Otp_ConfirmedUser_SendsMagicLinkThatSignsIn()
    {
        var (email, _) = await server.ConfirmedUserAsync();
        using var client = server.CreateClient();

        await Ok(await client.PostAsJsonAsync("/otp", new { email }));

        var mail = await server.Mail.LatestAsync(email, 2);
        Assert.Equal("Your sign-in link", mail.Subject);
        Assert.Contains("type=magiclink", mail.Link);
        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Contains("&type=magiclink", response.Headers.NonValidated["Location"].ToString());
    }

    [Fact]
    public async Task Otp_CreateUserFalseForUnknownEmail_Returns422OtpDisabled()
    {
        var email = AuthServerFixture.NewEmail();
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/otp", new { email, create_user = false }),
            422, "otp_disabled", "Signups not allowed for otp");
        Assert.Empty(server.Mail.To(email));
    }

    [Fact]
    public async Task Otp_EmailAndPhone_Returns400()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/otp", new { email = "a@example.com", phone = "15551234567" }),
            400, "validation_failed", "Only an email address or phone number should be provided");
    }

    [Fact]
    [Trait("catalogue", "O5")]
    public async Task Otp_SecondRequestWithinAMinute_Returns429()
    {
        var (email, _) = await server.ConfirmedUserAsync();
        using var client = server.CreateClient();
        await Ok(await client.PostAsJsonAsync("/otp", new { email }));

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/otp", new { email }),
            429, "over_email_send_rate_limit", messagePrefix: "For security purposes, you can only request this after");
    }

    [Fact]
    public async Task MagicLink_EmptyEmail_Returns422()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/magiclink", new { email = "" }),
            422, "validation_failed", "Password recovery requires an email");
    }

    [Fact]
    [Trait("catalogue", "E2")]
    public async Task Recover_UnknownEmail_Returns200AndSendsNothing()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();

        var response = await Ok(await client.PostAsJsonAsync("/recover", new { email }));

        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
        Assert.Empty(server.Mail.To(email));
    }

    [Fact]
    public async Task Recover_KnownEmail_CodeGivesSessionThatCanSetANewPassword()
    {
        var (email, _) = await server.ConfirmedUserAsync();
        using var client = server.CreateClient();
        await Ok(await client.PostAsJsonAsync("/recover", new { email }));
        var mail = await server.Mail.LatestAsync(email, 2);
        Assert.Equal("Reset your password", mail.Subject);

        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "recovery", email, token = mail.Code }));
        using var authed = server.CreateClient(bearer: (string)session["access_token"]!);
        await server.OkJsonAsync(await authed.PutAsJsonAsync("/user", new { password = "brand-new-password" }));

        await server.SignInAsync(email, "brand-new-password");
    }

    [Fact]
    public async Task Recover_EmptyEmail_Returns400()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/recover", new { email = "" }),
            400, "validation_failed", "Password recovery requires an email");
    }

    [Fact]
    public async Task Resend_Signup_SendsANewConfirmation()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" }));
        await server.Db.ExecuteAsync("update auth.users set confirmation_sent_at = now() - interval '2 minutes' where email = @email", new { email });

        await Ok(await client.PostAsJsonAsync("/resend", new { type = "signup", email }));

        var mail = await server.Mail.LatestAsync(email, 2);
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code }));
    }

    [Fact]
    [Trait("catalogue", "E2")]
    public async Task Resend_ConfirmedOrUnknown_Returns200AndSendsNothing()
    {
        var (email, _) = await server.ConfirmedUserAsync();
        var unknown = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();

        await Ok(await client.PostAsJsonAsync("/resend", new { type = "signup", email }));
        await Ok(await client.PostAsJsonAsync("/resend", new { type = "signup", email = unknown }));

        Assert.Single(server.Mail.To(email));
        Assert.Empty(server.Mail.To(unknown));
    }

    [Theory]
    [InlineData("""{"type":"bogus","email":"a@example.com"}""", "Missing one of these types: signup, email_change, sms, phone_change")]
    [InlineData("""{"type":"signup"}""", "Type provided requires an email address")]
    public async Task Resend_InvalidParams_Returns400(string json, string message)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/resend", new StringContent(json)), 400, "validation_failed", message);
    }

    [Fact]
    public async Task Reauthenticate_SendsCodeMail()
    {
        var (email, session) = await server.ConfirmedUserAsync();
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        await Ok(await client.GetAsync("/reauthenticate"));

        var mail = await server.Mail.LatestAsync(email, 2);
        Assert.Matches("^[0-9]{6} is your verification code$", mail.Subject);
        Assert.Equal("reauthentication_token", await server.Db.ScalarAsync<string>(
            "select token_type::text from auth.one_time_tokens where relates_to = @email", new { email }));
    }

    [Fact]
    public async Task Reauthenticate_WithoutToken_Returns401()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/reauthenticate"), 401, "no_authorization");
    }

    async Task<HttpResponseMessage> Ok(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.OK,
            $"expected 200, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{server.ServerLog}");
        return response;
    }
}

/// <summary>PUT /user password with GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION.</summary>
public sealed class ReauthenticationTests(ReauthenticationFixture server) : IClassFixture<ReauthenticationFixture>
{
    async Task<(string Email, string OldToken)> OldSessionAsync()
    {
        var (email, session) = await server.ConfirmedUserAsync();
        var sid = Guid.Parse((string)Jwt.Payload((string)session["access_token"]!)["session_id"]!);
        await server.Db.ExecuteAsync("update auth.sessions set created_at = now() - interval '25 hours' where id = @sid", new { sid });
        return (email, (string)session["access_token"]!);
    }

    [Fact]
    public async Task UpdatePassword_OldSessionWithoutNonce_Returns400ReauthenticationNeeded()
    {
        var (_, token) = await OldSessionAsync();
        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user", new { password = "another-password-1" }),
            400, "reauthentication_needed", "Password update requires reauthentication", bearer: token);
    }

    [Fact]
    public async Task UpdatePassword_OldSessionWithMailedNonce_Succeeds()
    {
        var (email, token) = await OldSessionAsync();
        using var client = server.CreateClient(bearer: token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/reauthenticate")).StatusCode);
        var nonce = (await server.Mail.LatestAsync(email, 2)).Subject.Split(' ')[0];

        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { password = "another-password-1", nonce }));

        await server.SignInAsync(email, "another-password-1");
    }

    [Fact]
    public async Task UpdatePassword_WrongNonce_Returns422AndChangesNothing()
    {
        var (email, token) = await OldSessionAsync();
        using var client = server.CreateClient(bearer: token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/reauthenticate")).StatusCode);
        var nonce = (await server.Mail.LatestAsync(email, 2)).Subject.Split(' ')[0];
        var wrong = nonce == "000000" ? "000001" : "000000";

        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user", new { password = "another-password-1", nonce = wrong, data = new { x = 1 } }),
            422, "reauthentication_not_valid", "Nonce has expired or is invalid", bearer: token);

        await server.SignInAsync(email, "correct-horse-battery");
        Assert.Null(await server.Db.ScalarAsync<string?>("select raw_user_meta_data->>'x' from auth.users where email = @email", new { email }));
    }
}
