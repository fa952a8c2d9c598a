using System.Net;
using System.Net.Http.Json;
using AuthServer.Config;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuthServer.Tests.Security;

/// <summary>
/// Catalogue group O (email OTP and magic link) beyond VerifyTests and PasswordlessTests, which already cover
/// O1 (5 wrong codes), O2 (reuse), O3 (aged token), O4 (other email, wrong type), O5 (new code voids the old,
/// 429 within 60 s) and O6 (stored as hash). This class adds the parallel cases and the clock edges.
/// Tests of this class run one after another and move the class's clock forward only.
/// </summary>
public sealed class OtpCatalogueTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    const string Password = "correct-horse-battery";

    async Task<(string Email, ReceivedMail Mail, Guid Id)> SignUpAsync()
    {
        var email = AuthServerFixture.NewEmail("otp");
        using var client = server.CreateClient();
        var user = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = Password }));
        return (email, await server.Mail.LatestAsync(email), Guid.Parse((string)user["id"]!));
    }

    static string Wrong(string code) => code == "000000" ? "000001" : "000000";

    async Task<HttpResponseMessage> VerifyAsync(string type, string email, string token)
    {
        using var client = server.CreateClient();
        return await client.PostAsJsonAsync("/verify", new { type, email, token });
    }

    [Fact]
    [Trait("catalogue", "O1")]
    [Trait("catalogue", "C4")]
    public async Task VerifyPost_FiftyParallelWrongGuesses_AtMostFiveEvaluatedAndTheRightCodeIsClosedToThatClient()
    {
        var (email, mail, id) = await SignUpAsync();
        var hash = await server.Db.ScalarAsync<string>("select confirmation_token from auth.users where id = @id", new { id });

        var guesses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => VerifyAsync("signup", email, Wrong(mail.Code))));

        foreach (var guess in guesses)
            await ApiAssert.ErrorAsync(guess, 403, "otp_expired", "Token has expired or is invalid");
        // Each evaluated guess is one increment of the code's counter in PostgreSQL; once it reaches 5 the code is
        // closed to this client and later guesses are not evaluated. The token itself is kept (review M-2): the
        // mailed link still carries it (Security/OtpLinkVoidingTests).
        Assert.Equal(VerifyCap, await server.Db.ScalarAsync<int>(
            "select failures from authserver.otp_failures where token_hash = @hash", new { hash }));
        Assert.Equal(hash, await server.Db.ScalarAsync<string>("select confirmation_token from auth.users where id = @id", new { id }));
        await ApiAssert.ErrorAsync(await VerifyAsync("signup", email, mail.Code), 403, "otp_expired");
        Assert.Null(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where id = @id", new { id }));
    }

    const int VerifyCap = 5;

    [Fact]
    [Trait("catalogue", "O2")]
    [Trait("catalogue", "C4")]
    public async Task VerifyPost_TwentyParallelVerificationsOfOneCode_ExactlyOneSession()
    {
        var (email, mail, id) = await SignUpAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => VerifyAsync("signup", email, mail.Code)));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
            await ApiAssert.ErrorAsync(refused, 403, "otp_expired", "Token has expired or is invalid");
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id }));
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.refresh_tokens where user_id = @id::text", new { id }));
    }

    [Fact]
    [Trait("catalogue", "O2")]
    [Trait("catalogue", "C4")]
    public async Task VerifyGet_TwentyParallelClicksOfOneLink_ExactlyOneSession()
    {
        var (_, mail, id) = await SignUpAsync();
        var path = new Uri(mail.Link).PathAndQuery;

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var client = server.CreateClient();
            return (await client.GetAsync(path)).Headers.NonValidated["Location"].ToString();
        }));

        Assert.Single(responses, l => l.Contains("#access_token="));
        Assert.All(responses.Where(l => !l.Contains("#access_token=")), l => Assert.Contains("error_code=otp_expired", l));
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id }));
    }

    /// <summary>Moves the clock to <paramref name="offset"/> from the moment the code was sent (read from the DB).</summary>
    async Task MoveClockToAsync(Guid id, TimeSpan offset)
    {
        var sent = DateTime.SpecifyKind(await server.Db.ScalarAsync<DateTime>(
            "select confirmation_sent_at from auth.users where id = @id", new { id }), DateTimeKind.Utc);
        var by = sent + offset - server.Clock.GetUtcNow().UtcDateTime;
        Assert.True(by > TimeSpan.Zero, "the clock only moves forward");
        server.Clock.Advance(by);
    }

    TimeSpan Lifetime => server.Services.GetRequiredService<MailerOptions>().OtpExpiry;

    [Fact]
    [Trait("catalogue", "O3")]
    public async Task VerifyPost_OneSecondBeforeExpiry_Succeeds()
    {
        var (email, mail, id) = await SignUpAsync();

        await MoveClockToAsync(id, Lifetime - TimeSpan.FromSeconds(1));

        await server.OkJsonAsync(await VerifyAsync("signup", email, mail.Code));
    }

    [Fact]
    [Trait("catalogue", "O3")]
    public async Task VerifyPost_OneSecondAfterExpiry_Returns403AndTheLinkToo()
    {
        var (email, mail, id) = await SignUpAsync();

        await MoveClockToAsync(id, Lifetime + TimeSpan.FromSeconds(1));

        await ApiAssert.ErrorAsync(await VerifyAsync("signup", email, mail.Code), 403, "otp_expired", "Token has expired or is invalid");
        using var client = server.CreateClient();
        var link = await client.GetAsync(new Uri(mail.Link).PathAndQuery);
        Assert.Contains("error_code=otp_expired", link.Headers.NonValidated["Location"].ToString());
        Assert.Null(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where id = @id", new { id }));
    }

    [Fact]
    [Trait("catalogue", "O3")]
    public void MailerOptions_DefaultOtpLifetime_IsAtMostOneHour()
    {
        var env = new EnvReader(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());

        Assert.True(MailerOptions.Load(env).OtpExpiry <= TimeSpan.FromHours(1));
        Assert.True(server.Services.GetRequiredService<MailerOptions>().OtpExpiry <= TimeSpan.FromHours(1));
    }

    [Theory]
    [Trait("catalogue", "O4")]
    [InlineData("signup")]
    [InlineData("invite")]
    [InlineData("email_change")]
    public async Task VerifyPost_MagicLinkCodeAsAnotherType_Returns403AndTheCodeStillWorks(string type)
    {
        var (email, _) = await server.ConfirmedUserAsync("otp-type");
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp", new { email })).StatusCode);
        var code = (await server.Mail.LatestAsync(email, 2)).Code;

        await ApiAssert.ErrorAsync(await VerifyAsync(type, email, code), 403, "otp_expired");

        // A guess of the wrong type does not spend the code (GoTrue: recovery and magiclink share one token).
        await server.OkJsonAsync(await VerifyAsync("magiclink", email, code));
    }

    [Fact]
    [Trait("catalogue", "O4")]
    public async Task VerifyPost_LinkTokenHashOfAnotherKind_Returns403()
    {
        var (_, mail, id) = await SignUpAsync();
        var hash = System.Web.HttpUtility.ParseQueryString(new Uri(mail.Link).Query)["token"];
        using var client = server.CreateClient();

        foreach (var type in new[] { "recovery", "magiclink", "email_change" })
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/verify", new { type, token_hash = hash }), 403, "otp_expired");

        Assert.Null(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where id = @id", new { id }));
    }

    [Fact]
    [Trait("catalogue", "O5")]
    public async Task Otp_NewMagicLinkAfterAMinute_VoidsTheOldCode()
    {
        var (email, _) = await server.ConfirmedUserAsync("otp-new");
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp", new { email })).StatusCode);
        var first = await server.Mail.LatestAsync(email, 2);

        server.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp", new { email })).StatusCode);
        var second = await server.Mail.LatestAsync(email, 3);

        Assert.NotEqual(first.Link, second.Link);
        if (first.Code != second.Code)
            await ApiAssert.ErrorAsync(await VerifyAsync("magiclink", email, first.Code), 403, "otp_expired");
        using var browser = server.CreateClient();
        Assert.Contains("error_code=otp_expired",
            (await browser.GetAsync(new Uri(first.Link).PathAndQuery)).Headers.NonValidated["Location"].ToString());
        await server.OkJsonAsync(await VerifyAsync("magiclink", email, second.Code));
    }

    [Fact]
    [Trait("catalogue", "O5")]
    public async Task RecoverAndMagicLink_WithinAMinuteOfEachOther_429AndTheFirstCodeStillWorks()
    {
        var (email, _) = await server.ConfirmedUserAsync("otp-429");
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/recover", new { email })).StatusCode);
        var mail = await server.Mail.LatestAsync(email, 2);

        foreach (var path in new[] { "/recover", "/otp", "/magiclink" })
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(path, new { email }), 429, "over_email_send_rate_limit",
                messagePrefix: "For security purposes, you can only request this after");

        await server.OkJsonAsync(await VerifyAsync("recovery", email, mail.Code));
    }

    [Fact]
    [Trait("catalogue", "O6")]
    public void NewOtp_Digits_AreUniform()
    {
        // Chi-square over 10 digit classes (9 degrees of freedom); 50 is exceeded by chance with p ≈ 1e-7.
        const int codes = 20_000;
        var all = new long[10];
        var first = new long[10];
        for (var i = 0; i < codes; i++)
        {
            var otp = AuthServer.Security.TokenHashes.NewOtp(6);
            Assert.Matches("^[0-9]{6}$", otp);
            first[otp[0] - '0']++;
            foreach (var c in otp) all[c - '0']++;
        }

        Assert.InRange(ChiSquare(all), 0, 50);
        Assert.InRange(ChiSquare(first), 0, 50);
    }

    static double ChiSquare(long[] counts)
    {
        var expected = counts.Sum() / (double)counts.Length;
        return counts.Sum(c => (c - expected) * (c - expected) / expected);
    }
}
