using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>PKCE email flows and POST /token?grant_type=pkce (api.md §3, §5.2).</summary>
public sealed class PkceTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    async Task<(string Email, string Verifier, string Code)> MagicLinkCodeAsync()
    {
        var (email, _) = await server.ConfirmedUserAsync();
        var (verifier, challenge) = EmailFixture.NewPkcePair();
        using var client = server.CreateClient();
        var sent = await client.PostAsJsonAsync("/otp", new { email, code_challenge = challenge, code_challenge_method = "s256" });
        Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        var mail = await server.Mail.LatestAsync(email, 2);
        Assert.Contains("token=pkce_", mail.Link);

        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var location = response.Headers.NonValidated["Location"].ToString();
        Assert.StartsWith("http://localhost:3000?code=", location);
        return (email, verifier, location.Split("code=")[1]);
    }

    [Fact]
    [Trait("catalogue", "P1")]
    public async Task Pkce_MagicLinkCodeWithVerifier_ReturnsSessionOnce()
    {
        var (email, verifier, code) = await MagicLinkCodeAsync();
        using var client = server.CreateClient();

        var session = ApiAssert.Session(await server.OkJsonAsync(
            await client.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = verifier })), server.Clock);

        Assert.Equal(email, (string?)session["user"]!["email"]);
        Assert.Equal("magiclink", (string?)Jwt.Payload((string)session["access_token"]!)["amr"]![0]!["method"]);
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = verifier }),
            404, "flow_state_not_found", "invalid flow state, no valid flow state found");
    }

    [Fact]
    [Trait("catalogue", "P1")]
    [Trait("catalogue", "C4")]
    public async Task Pkce_TenConcurrentExchanges_ExactlyOneSucceeds()
    {
        var (_, verifier, code) = await MagicLinkCodeAsync();
        using var client = server.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            client.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = verifier })));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(9, responses.Count(r => r.StatusCode == HttpStatusCode.NotFound));
    }

    [Fact]
    [Trait("catalogue", "P1")]
    public async Task Pkce_WrongVerifier_Returns400BadCodeVerifier()
    {
        var (_, _, code) = await MagicLinkCodeAsync();
        var (otherVerifier, _) = EmailFixture.NewPkcePair();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = otherVerifier }),
            400, "bad_code_verifier", "code challenge does not match previously saved code verifier");
    }

    [Fact]
    [Trait("catalogue", "P1")]
    public async Task Pkce_ExpiredFlow_Returns422FlowStateExpired()
    {
        var (_, verifier, code) = await MagicLinkCodeAsync();
        await server.Db.ExecuteAsync("update auth.flow_state set auth_code_issued_at = now() - interval '301 seconds' where auth_code = @code", new { code });

        using var client = server.CreateClient();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = verifier }),
            422, "flow_state_expired", "invalid flow state, flow state has expired");
    }

    [Fact]
    public async Task Pkce_MissingParams_Returns400()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = "x" }),
            400, "validation_failed");
    }

    [Theory]
    [InlineData("short", "s256", "code challenge has to be between 43 and 128 characters")]
    [InlineData(null, "s256", "PKCE flow requires code_challenge_method and code_challenge")]
    [Trait("catalogue", "P2")]
    public async Task Pkce_BadChallengeOnRecover_Returns400(string? challenge, string method, string message)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/recover",
            new { email = "someone@example.com", code_challenge = challenge, code_challenge_method = method }), 400, "validation_failed", message);
    }

    [Fact]
    public async Task Pkce_SignupConfirmation_RedirectsWithCodeThenExchanges()
    {
        var email = AuthServerFixture.NewEmail();
        var (verifier, challenge) = EmailFixture.NewPkcePair();
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup?redirect_to=https://app.example.com/cb?x=1",
            new { email, password = "correct-horse-battery", code_challenge = challenge, code_challenge_method = "S256" }));
        var mail = await server.Mail.LatestAsync(email);

        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        var location = response.Headers.NonValidated["Location"].ToString();
        Assert.Matches("^https://app.example.com/cb\\?code=[0-9a-f-]{36}&x=1$", location);
        var code = location.Split("code=")[1].Split('&')[0];

        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=pkce", new { auth_code = code, code_verifier = verifier }));
        Assert.Equal("email/signup", (string?)Jwt.Payload((string)session["access_token"]!)["amr"]![0]!["method"]);
    }
}

/// <summary>PUT /user email change with secure (double) confirmation, POST /invite, POST /admin/generate_link.</summary>
public sealed class EmailChangeAndAdminTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    [Fact]
    public async Task UpdateUserEmail_Secure_NeedsBothLinks()
    {
        var (email, session) = await server.ConfirmedUserAsync();
        var newEmail = AuthServerFixture.NewEmail("new");
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var user = await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { email = newEmail }));
        Assert.Equal(newEmail, (string?)user["new_email"]);

        var toNew = await server.Mail.LatestAsync(newEmail);
        var toCurrent = await server.Mail.LatestAsync(email, 2);
        Assert.Equal("Confirm your new email address", toNew.Subject);
        var first = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "email_change", email = newEmail, token = toNew.Code }));
        Assert.Equal("Confirmation link accepted. Please proceed to confirm link sent to the other email", (string?)first["msg"]);
        Assert.Equal(email, await server.Db.ScalarAsync<string>("select email from auth.users where email_change = @newEmail", new { newEmail }));

        var done = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "email_change", email, token = toCurrent.Code }));
        Assert.Equal(newEmail, (string?)done["user"]!["email"]);
        Assert.Equal(newEmail, (string?)done["user"]!["identities"]![0]!["identity_data"]!["email"]);
    }

    [Fact]
    public async Task UpdateUserEmail_Taken_Returns422EmailExists()
    {
        var (_, session) = await server.ConfirmedUserAsync();
        var (other, _) = await server.ConfirmedUserAsync();
        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user", new { email = other }), 422, "email_exists",
            bearer: (string)session["access_token"]!);
    }

    [Fact]
    public async Task Invite_NewEmail_SendsInviteThatConfirmsOnVerify()
    {
        var email = AuthServerFixture.NewEmail("invitee");
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);

        var user = await server.OkJsonAsync(await admin.PostAsJsonAsync("/invite", new { email, data = new { team = "a" } }));

        Assert.NotNull(user["invited_at"]);
        var mail = await server.Mail.LatestAsync(email);
        Assert.Equal("You've been invited", mail.Subject);
        Assert.Contains("type=invite", mail.Link);
        using var client = server.CreateClient();
        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        Assert.Contains("type=invite", response.Headers.NonValidated["Location"].ToString());
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where email = @email", new { email }));
        Assert.Contains("user_invited", await server.Db.QueryAsync<string>("select payload->>'action' from auth.audit_log_entries"));
    }

    [Fact]
    public async Task Invite_ConfirmedUser_Returns422EmailExists()
    {
        var (email, _) = await server.ConfirmedUserAsync();
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/invite", new { email }), 422, "email_exists",
            "A user with this email address has already been registered", bearer: EmailFixture.ServiceRoleKey);
    }

    [Fact]
    public async Task Invite_WithUserToken_Returns403NotAdmin()
    {
        var (_, session) = await server.ConfirmedUserAsync();
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/invite", new { email = "x@example.com" }), 403, "not_admin",
            bearer: (string)session["access_token"]!);
    }

    [Fact]
    public async Task GenerateLink_Magiclink_ReturnsLinkAndOtpAndSendsNothing()
    {
        var (email, _) = await server.ConfirmedUserAsync();
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);

        var body = await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/generate_link",
            new { type = "magiclink", email, redirect_to = "https://app.example.com/x" }));

        Assert.Equal("magiclink", (string?)body["verification_type"]);
        Assert.Equal("https://app.example.com/x", (string?)body["redirect_to"]);
        Assert.Equal($"http://localhost:9999/verify?token={body["hashed_token"]}&type=magiclink&redirect_to=https://app.example.com/x",
            (string?)body["action_link"]);
        Assert.Equal(email, (string?)body["email"]);
        Assert.Single(server.Mail.To(email)); // only the sign-up confirmation
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "magiclink", email, token = (string)body["email_otp"]! }));
    }

    [Fact]
    public async Task GenerateLink_RecoveryForUnknownUser_Returns404()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/admin/generate_link", new { type = "recovery", email = AuthServerFixture.NewEmail() }),
            404, "user_not_found", "User with this email not found", bearer: EmailFixture.ServiceRoleKey);
    }

    [Fact]
    [Trait("catalogue", "D1")]
    public async Task GenerateLink_BadRedirect_FallsBackToSiteUrl()
    {
        var (email, _) = await server.ConfirmedUserAsync();
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);
        var body = await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/generate_link",
            new { type = "recovery", email, redirect_to = "https://evil.example.net/" }));
        Assert.Equal(EmailFixture.SiteUrl, (string?)body["redirect_to"]);
    }
}

/// <summary>GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED=false: one link, to the new address.</summary>
public sealed class SingleConfirmationEmailChangeTests(InsecureEmailChangeFixture server) : IClassFixture<InsecureEmailChangeFixture>
{
    [Fact]
    public async Task UpdateUserEmail_Insecure_OneLinkToTheNewAddressApplies()
    {
        var (email, session) = await server.ConfirmedUserAsync();
        var newEmail = AuthServerFixture.NewEmail("new");
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { email = newEmail }));

        var mail = await server.Mail.LatestAsync(newEmail);
        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);

        Assert.Contains("type=email_change", response.Headers.NonValidated["Location"].ToString());
        Assert.Single(server.Mail.To(email));
        Assert.Equal(newEmail, await server.Db.ScalarAsync<string>("select email from auth.users where email = @newEmail", new { newEmail }));
    }
}
