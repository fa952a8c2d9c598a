using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>POST /signup under other provider settings: signup disabled, email off, phone on, password policy.</summary>
public sealed class SignupDisabledTests(SignupDisabledFixture server) : IClassFixture<SignupDisabledFixture>
{
    [Fact]
    public async Task Signup_SignupDisabled_Returns422SignupDisabled()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password = "correct-horse-battery" }),
            422, "signup_disabled", "Signups not allowed for this instance");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users"));
    }

    [Fact]
    public async Task Settings_SignupDisabled_ReportsDisableSignupTrue()
    {
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.GetAsync("/settings"));

        Assert.True((bool)body["disable_signup"]!);
    }
}

public sealed class SignupEmailProviderDisabledTests(EmailProviderDisabledFixture server) : IClassFixture<EmailProviderDisabledFixture>
{
    [Fact]
    public async Task Signup_EmailProviderDisabled_Returns400EmailProviderDisabled()
    {
        var email = AuthServerFixture.NewEmail();

        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" }),
            400, "email_provider_disabled", "Email signups are disabled");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task Token_PasswordGrantWithEmailProviderDisabled_Returns422EmailProviderDisabled()
    {
        var email = AuthServerFixture.NewEmail();
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");

        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/token?grant_type=password", new { email, password = "correct-horse-battery" }),
            422, "email_provider_disabled", "Email logins are disabled");
    }

    [Fact]
    public async Task Settings_EmailProviderDisabled_ReportsExternalEmailFalse()
    {
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.GetAsync("/settings"));

        Assert.False((bool)body["external"]!["email"]!);
    }
}

/// <summary>Phone provider with GOTRUE_SMS_AUTOCONFIRM: phone sign-up returns a session.</summary>
public sealed class SignupPhoneTests(PhoneAutoconfirmFixture server) : IClassFixture<PhoneAutoconfirmFixture>
{
    static string NewPhoneDigits() => "1555" + Random.Shared.Next(1_000_000, 9_999_999);

    [Fact]
    public async Task Signup_PhoneWithSmsAutoconfirm_ReturnsSessionAndStoresDigitsWithoutPlus()
    {
        var digits = NewPhoneDigits();
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/signup", new { phone = "+" + digits, password = "correct-horse-battery" });

        var session = ApiAssert.Session(await server.OkJsonAsync(response), server.Clock);
        var user = session["user"]!.AsObject();
        Assert.Equal(digits, (string?)user["phone"]);
        Assert.Equal("", (string?)user["email"]);
        Assert.True(DateTimeOffset.TryParse((string?)user["phone_confirmed_at"], out _));
        Assert.False(user.ContainsKey("email_confirmed_at"));
        ApiAssert.JsonEqual("""{"provider":"phone","providers":["phone"]}""", user["app_metadata"]);
        Assert.Equal("phone", (string?)Assert.Single(user["identities"]!.AsArray())!["provider"]);
        Assert.Equal(digits, (string?)Jwt.Payload((string)session["access_token"]!)["phone"]);

        var row = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @id::uuid", new { id = (string)user["id"]! });
        Assert.Equal(digits, row.Phone);
        Assert.Null(row.Email);
        Assert.NotNull(row.PhoneConfirmedAt);
    }

    [Fact]
    public async Task Token_PasswordGrantWithPhone_ReturnsSession()
    {
        var digits = NewPhoneDigits();
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { phone = "+" + digits, password = "correct-horse-battery" }));

        var response = await client.PostAsJsonAsync("/token?grant_type=password", new { phone = "+" + digits, password = "correct-horse-battery" });

        var session = ApiAssert.Session(await server.OkJsonAsync(response), server.Clock);
        Assert.Equal(digits, (string?)session["user"]!["phone"]);
    }

    [Theory]
    [InlineData("not-a-phone")]
    [InlineData("+0123456789")]
    [InlineData("+1234567890123456")]
    public async Task Signup_InvalidPhone_Returns400ValidationFailed(string phone)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { phone, password = "correct-horse-battery" }),
            400, "validation_failed", "Invalid phone number format (E.164 required)");
    }

    [Fact]
    public async Task Settings_PhoneAutoconfirm_ReportsPhoneEnabledAndAutoconfirm()
    {
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.GetAsync("/settings"));

        Assert.True((bool)body["external"]!["phone"]!);
        Assert.True((bool)body["phone_autoconfirm"]!);
    }
}

/// <summary>GOTRUE_PASSWORD_MIN_LENGTH=8 and GOTRUE_PASSWORD_REQUIRED_CHARACTERS (errors.md §1.3).</summary>
public sealed class SignupPasswordPolicyTests(StrictPasswordFixture server) : IClassFixture<StrictPasswordFixture>
{
    const string Sets = "abcdefghijklmnopqrstuvwxyz, ABCDEFGHIJKLMNOPQRSTUVWXYZ, 0123456789";

    [Fact]
    public async Task Signup_PasswordMissingRequiredCharacters_Returns422WithCharactersReason()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password = "onlylowercase" }),
            422, "weak_password", $"Password should contain at least one character of each: {Sets}.",
            inspect: body => ApiAssert.JsonEqual("""{"reasons":["characters"]}""", body["weak_password"]));
    }

    [Fact]
    public async Task Signup_PasswordTooShortAndMissingCharacters_Returns422WithBothReasons()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password = "short" }),
            422, "weak_password", $"Password should be at least 8 characters. Password should contain at least one character of each: {Sets}.",
            inspect: body => ApiAssert.JsonEqual("""{"reasons":["length","characters"]}""", body["weak_password"]));
    }

    [Fact]
    public async Task Signup_PasswordMeetingPolicy_ReturnsSession()
    {
        var session = await server.SignUpAsync(AuthServerFixture.NewEmail(), "Strong3rPassword");

        ApiAssert.Session(session, server.Clock);
        Assert.Null(session["weak_password"]);
    }

    [Fact]
    public async Task Token_PasswordFailingCurrentPolicy_ReturnsSessionWithWeakPassword()
    {
        var email = AuthServerFixture.NewEmail();
        await server.Db.InsertEmailUserAsync(email, "weakpassword"); // set before the policy existed

        var session = await server.SignInAsync(email, "weakpassword");

        ApiAssert.Session(session, server.Clock);
        Assert.Equal(["characters"], session["weak_password"]!["reasons"]!.AsArray().Select(r => (string?)r));
        Assert.Equal($"Password should contain at least one character of each: {Sets}.", (string?)session["weak_password"]!["message"]);
    }
}
