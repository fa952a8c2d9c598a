using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Sign-up confirmation over real SMTP, POST and GET /verify (api.md §3, §1.5).</summary>
public sealed class VerifyTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    const string Password = "correct-horse-battery";

    async Task<(string Email, ReceivedMail Mail, Guid Id)> SignUpAsync(string? redirectTo = null)
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();
        var path = redirectTo is null ? "/signup" : "/signup?redirect_to=" + Uri.EscapeDataString(redirectTo);
        var user = await server.OkJsonAsync(await client.PostAsJsonAsync(path, new { email, password = Password }));
        return (email, await server.Mail.LatestAsync(email), Guid.Parse((string)user["id"]!));
    }

    [Fact]
    public async Task Signup_WithoutAutoconfirm_SendsConfirmationMailWithGoTrueLink()
    {
        var (email, mail, _) = await SignUpAsync();

        Assert.Equal("Confirm your email address", mail.Subject);
        Assert.Equal("admin@example.com", mail.From);
        Assert.Matches("^[0-9]{6}$", mail.Code);
        var link = new Uri(mail.Link);
        Assert.Equal("http://localhost:9999/verify", link.GetLeftPart(UriPartial.Path));
        Assert.Matches("^token=[0-9a-f]{56}&type=signup&redirect_to=http://localhost:3000$", link.Query.TrimStart('?'));
        Assert.Contains($"CONFIRMATION for {email}", mail.Html);
    }

    [Fact]
    public async Task VerifyPost_SignupCode_ReturnsSessionAndConfirmsEmail()
    {
        var (email, mail, id) = await SignUpAsync();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        var session = ApiAssert.Session(await server.OkJsonAsync(
            await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code })), server.Clock);

        Assert.Equal(id.ToString(), (string?)session["user"]!["id"]);
        Assert.NotNull(session["user"]!["email_confirmed_at"]);
        Assert.True((bool)session["user"]!["user_metadata"]!["email_verified"]!);
        Assert.Equal("otp", (string?)Jwt.Payload((string)session["access_token"]!)["amr"]![0]!["method"]);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.one_time_tokens where user_id = @id", new { id }));
    }

    [Fact]
    public async Task VerifyPost_TypeEmail_AcceptsTheSignupCode()
    {
        var (email, mail, _) = await SignUpAsync();
        using var client = server.CreateClient();

        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "email", email, token = mail.Code }));
    }

    [Fact]
    public async Task VerifyPost_TokenHashFromLink_ReturnsSession()
    {
        var (_, mail, id) = await SignUpAsync();
        var hash = System.Web.HttpUtility.ParseQueryString(new Uri(mail.Link).Query)["token"];
        using var client = server.CreateClient();

        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", token_hash = hash }));

        Assert.Equal(id.ToString(), (string?)session["user"]!["id"]);
    }

    [Fact]
    [Trait("catalogue", "O2")]
    public async Task VerifyPost_ReusedCode_Returns403OtpExpired()
    {
        var (email, mail, _) = await SignUpAsync();
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code }));

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code }),
            403, "otp_expired", "Token has expired or is invalid");
    }

    [Fact]
    [Trait("catalogue", "O3")]
    public async Task VerifyPost_ExpiredCode_Returns403OtpExpired()
    {
        var (email, mail, id) = await SignUpAsync();
        // Age the token instead of the shared clock: other tests of this class run in parallel.
        await server.Db.ExecuteAsync("update auth.users set confirmation_sent_at = now() - interval '86401 seconds' where id = @id", new { id });

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code }),
            403, "otp_expired", "Token has expired or is invalid");
    }

    [Fact]
    [Trait("catalogue", "O4")]
    public async Task VerifyPost_WrongType_Returns403OtpExpired()
    {
        var (email, mail, _) = await SignUpAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "recovery", email, token = mail.Code }),
            403, "otp_expired", "Token has expired or is invalid");
    }

    [Fact]
    [Trait("catalogue", "O4")]
    public async Task VerifyPost_WrongEmail_Returns403OtpExpired()
    {
        var (_, mail, _) = await SignUpAsync();
        var (other, _, _) = await SignUpAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "signup", email = other, token = mail.Code }),
            403, "otp_expired", "Token has expired or is invalid");
    }

    [Fact]
    [Trait("catalogue", "O1")]
    public async Task VerifyPost_FiveWrongCodes_CloseTheCodeToThatClientEvenForTheRightOne()
    {
        var (email, mail, id) = await SignUpAsync();
        var wrong = mail.Code == "000000" ? "000001" : "000000";
        using var client = server.CreateClient();

        // Concurrent guesses are all counted (atomic upsert in PostgreSQL).
        var guesses = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ =>
            client.PostAsJsonAsync("/verify", new { type = "signup", email, token = wrong })));
        Assert.All(guesses, r => Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode));

        var right = await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code });
        await ApiAssert.ErrorAsync(right, 403, "otp_expired", "Token has expired or is invalid");
        Assert.Null(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where id = @id", new { id }));
    }

    [Fact]
    [Trait("catalogue", "O1")]
    public async Task VerifyPost_FourWrongCodes_TheRightOneStillWorks()
    {
        var (email, mail, _) = await SignUpAsync();
        var wrong = mail.Code == "000000" ? "000001" : "000000";
        using var client = server.CreateClient();
        for (var i = 0; i < 4; i++)
            Assert.Equal(HttpStatusCode.Forbidden,
                (await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = wrong })).StatusCode);

        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code }));
    }

    [Fact]
    public async Task VerifyPost_UnknownTokenHash_Returns403WithLinkMessage()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "signup", token_hash = new string('a', 56) }),
            403, "otp_expired", "Email link is invalid or has expired");
    }

    [Theory]
    [InlineData("""{"token":"123456","email":"a@example.com"}""", "Verify requires a verification type")]
    [InlineData("""{"type":"signup"}""", "Verify requires either a token or a token hash")]
    [InlineData("""{"type":"signup","token":"123456"}""", "Only an email address or phone number should be provided on verify")]
    [InlineData("""{"type":"signup","token_hash":"abc","email":"a@example.com"}""", "Only the token_hash and type should be provided")]
    [InlineData("""{"type":"bogus","token":"123456","email":"a@example.com"}""", "Unsupported verification type")]
    public async Task VerifyPost_InvalidParams_Returns400ValidationFailed(string json, string message)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/verify", new StringContent(json)), 400, "validation_failed", message);
    }

    [Fact]
    public async Task VerifyPost_BadEmailFormat_Returns422()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "signup", email = "nope", token = "123456" }),
            422, "validation_failed", "Invalid email format");
    }

    [Fact]
    public async Task VerifyGet_Link_Redirects303WithSessionInFragment()
    {
        var (_, mail, id) = await SignUpAsync();
        using var client = server.CreateClient();

        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var location = response.Headers.NonValidated["Location"].ToString();
        Assert.StartsWith("http://localhost:3000#access_token=", location);
        var fragment = System.Web.HttpUtility.ParseQueryString(location.Split('#')[1]);
        Assert.Equal("access_token,expires_at,expires_in,refresh_token,sb,token_type,type", string.Join(",", fragment.AllKeys));
        Assert.Equal("signup", fragment["type"]);
        Assert.Equal(id.ToString(), (string?)Jwt.Payload(fragment["access_token"]!)["sub"]);
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where id = @id", new { id }));
    }

    [Fact]
    [Trait("catalogue", "O2")]
    public async Task VerifyGet_ReusedLink_RedirectsWithErrorInFragment()
    {
        var (_, mail, _) = await SignUpAsync();
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.SeeOther, (await client.GetAsync(new Uri(mail.Link).PathAndQuery)).StatusCode);

        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("http://localhost:3000#error=access_denied&error_code=otp_expired&error_description=Email+link+is+invalid+or+has+expired&sb=",
            response.Headers.NonValidated["Location"].ToString());
    }

    [Fact]
    public async Task VerifyGet_MissingToken_Returns400Json()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/verify?type=signup"), 400, "validation_failed");
    }

    [Theory]
    [InlineData("https://app.example.com/welcome", "https://app.example.com/welcome")]
    [InlineData("http://localhost:5173/cb", "http://localhost:5173/cb")]
    [InlineData("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x")]
    [InlineData("https://evil.example.net/steal", EmailFixture.SiteUrl)]
    [InlineData("https://app.example.com.evil.net/", EmailFixture.SiteUrl)]
    [InlineData("javascript:alert(1)", EmailFixture.SiteUrl)]
    [Trait("catalogue", "D1")]
    [Trait("catalogue", "D2")]
    public async Task Signup_RedirectTo_IsAllowListedOrFallsBackToSiteUrl(string redirectTo, string expected)
    {
        var (_, mail, _) = await SignUpAsync(redirectTo);
        var link = System.Web.HttpUtility.ParseQueryString(new Uri(mail.Link).Query);
        Assert.Equal(expected, link["redirect_to"]);

        using var client = server.CreateClient();
        var response = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        Assert.StartsWith(expected + "#access_token=", response.Headers.NonValidated["Location"].ToString());
    }

    [Fact]
    [Trait("catalogue", "O5")]
    public async Task Signup_UnconfirmedUserAgainAfterAMinute_SendsANewCodeAndVoidsTheOld()
    {
        var (email, first, _) = await SignUpAsync();
        using var client = server.CreateClient();
        await server.Db.ExecuteAsync("update auth.users set confirmation_sent_at = now() - interval '61 seconds' where email = @email", new { email });

        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = Password }));
        var second = await server.Mail.LatestAsync(email, 2);

        Assert.NotEqual(first.Link, second.Link);
        Assert.Equal(HttpStatusCode.Forbidden,
            (await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = first.Code == second.Code ? "x" : first.Code })).StatusCode);
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = second.Code }));
    }

    [Fact]
    [Trait("catalogue", "O6")]
    public async Task Signup_TokenIsStoredOnlyAsGoTrueHash()
    {
        var (email, mail, id) = await SignUpAsync();

        var stored = await server.Db.ScalarAsync<string>("select confirmation_token from auth.users where id = @id", new { id });
        Assert.Equal(Sha224Hex(email + mail.Code), stored);
        Assert.Equal(stored, await server.Db.ScalarAsync<string>(
            "select token_hash from auth.one_time_tokens where user_id = @id and token_type = 'confirmation_token'", new { id }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.mail_outbox where position(convert_to(@code, 'UTF8') in payload) > 0", new { code = mail.Code + "</p>" }));
    }

    static string Sha224Hex(string value)
    {
        var digest = new Org.BouncyCastle.Crypto.Digests.Sha224Digest();
        var input = System.Text.Encoding.UTF8.GetBytes(value);
        digest.BlockUpdate(input, 0, input.Length);
        var output = new byte[28];
        digest.DoFinal(output, 0);
        return Convert.ToHexStringLower(output);
    }
}
