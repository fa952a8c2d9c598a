using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>POST /signup with GOTRUE_MAILER_AUTOCONFIRM=true (api.md §3 POST /signup).</summary>
public sealed class SignupTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    const string Password = "correct-horse-battery";

    [Fact]
    public async Task Signup_NewEmailWithAutoconfirm_ReturnsSessionAndGoTrueUser()
    {
        var email = AuthServerFixture.NewEmail("Mixed.Case");
        using var client = server.CreateClient(apiVersion: AuthServerFixture.ApiVersion2024);

        var response = await client.PostAsJsonAsync("/signup",
            new { email = email.ToUpperInvariant(), password = Password, data = new { name = "Ann" } });

        var session = ApiAssert.Session(await server.OkJsonAsync(response), server.Clock);
        var user = session["user"]!.AsObject();
        var id = Guid.Parse((string)user["id"]!).ToString();
        var lower = email.ToLowerInvariant();
        Assert.Equal("authenticated", (string?)user["aud"]);
        Assert.Equal("authenticated", (string?)user["role"]);
        Assert.Equal(lower, (string?)user["email"]);
        Assert.Equal("", (string?)user["phone"]);
        foreach (var ts in new[] { "email_confirmed_at", "confirmed_at", "last_sign_in_at", "created_at", "updated_at" })
            Assert.True(DateTimeOffset.TryParse((string?)user[ts], out _), $"{ts} should be a timestamp: {user.ToJsonString()}");
        foreach (var absent in new[] { "phone_confirmed_at", "invited_at", "recovery_sent_at", "new_email", "new_phone", "banned_until", "deleted_at", "factors", "encrypted_password" })
            Assert.False(user.ContainsKey(absent), $"{absent} should be omitted: {user.ToJsonString()}");
        Assert.False((bool)user["is_anonymous"]!);
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", user["app_metadata"]);
        ApiAssert.JsonEqual($$"""{"sub":"{{id}}","email":"{{lower}}","email_verified":true,"phone_verified":false,"name":"Ann"}""",
            user["user_metadata"]);

        var identity = Assert.Single(user["identities"]!.AsArray())!.AsObject();
        Assert.True(Guid.TryParse((string?)identity["identity_id"], out var identityId) && identityId != Guid.Empty);
        Assert.Equal(id, (string?)identity["id"]);
        Assert.Equal(id, (string?)identity["user_id"]);
        Assert.Equal("email", (string?)identity["provider"]);
        Assert.Equal(lower, (string?)identity["email"]);
        Assert.Equal(id, (string?)identity["identity_data"]!["sub"]);
        Assert.Equal(lower, (string?)identity["identity_data"]!["email"]);
        Assert.False(session.ContainsKey("weak_password"));
    }

    [Fact]
    public async Task Signup_NewEmail_WritesRowsAsGoTrueDoes()
    {
        var email = AuthServerFixture.NewEmail();

        var session = await server.SignUpAsync(email, Password);

        var userId = Guid.Parse((string)session["user"]!["id"]!);
        var sessionId = Guid.Parse((string)Jwt.Payload((string)session["access_token"]!)["session_id"]!);

        var user = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @userId", new { userId });
        Assert.Equal(Guid.Empty, user.InstanceId);
        Assert.Equal(email, user.Email);
        Assert.Null(user.Phone);
        Assert.Equal("authenticated", user.Aud);
        Assert.Equal("authenticated", user.Role);
        Assert.Matches(@"^\$2a\$04\$", user.EncryptedPassword);
        Assert.True(BCrypt.Net.BCrypt.Verify(Password, user.EncryptedPassword));
        Assert.NotNull(user.EmailConfirmedAt);
        Assert.Equal(user.EmailConfirmedAt, user.ConfirmedAt);
        Assert.NotNull(user.LastSignInAt);
        Assert.Equal("", user.ConfirmationToken);
        Assert.Equal("", user.RecoveryToken);
        Assert.Equal("", user.EmailChangeTokenNew);
        Assert.Equal("", user.EmailChange);
        Assert.False(user.IsSsoUser);
        Assert.False(user.IsAnonymous);
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", JsonNode.Parse(user.RawAppMetaData!));
        ApiAssert.JsonEqual($$"""{"sub":"{{userId}}","email":"{{email}}","email_verified":true,"phone_verified":false}""",
            JsonNode.Parse(user.RawUserMetaData!));

        var identity = Assert.Single(await server.Db.QueryAsync<IdentityRow>(IdentityRow.Select + " where user_id = @userId", new { userId }));
        Assert.Equal(userId.ToString(), identity.ProviderId);
        Assert.Equal("email", identity.Provider);
        Assert.Equal(email, identity.Email);
        Assert.Equal(Guid.Parse((string)session["user"]!["identities"]![0]!["identity_id"]!), identity.Id);

        var sessionRow = Assert.Single(await server.Db.QueryAsync<SessionRow>(SessionRow.Select + " where user_id = @userId", new { userId }));
        Assert.Equal(sessionId, sessionRow.Id);
        Assert.Equal("aal1", sessionRow.Aal);
        Assert.Equal(AuthServerFixture.UserAgent, sessionRow.UserAgent);
        Assert.Equal("127.0.0.1", sessionRow.Ip);

        var token = Assert.Single(await server.Db.QueryAsync<RefreshTokenRow>(RefreshTokenRow.Select + " where session_id = @sessionId", new { sessionId }));
        Assert.Equal((string)session["refresh_token"]!, token.Token);
        Assert.Matches(ApiAssert.RefreshTokenV1(), token.Token);
        Assert.Equal(Guid.Empty, token.InstanceId);
        Assert.Equal(userId.ToString(), token.UserId);
        Assert.False(token.Revoked);
        Assert.True(string.IsNullOrEmpty(token.Parent));

        Assert.Equal(["password"], await server.Db.QueryAsync<string>(
            "select authentication_method from auth.mfa_amr_claims where session_id = @sessionId", new { sessionId }));

        var audit = await server.Db.QueryAsync<string>(
            """
            select payload->>'action' from auth.audit_log_entries
            where payload->>'actor_id' = @id and instance_id = @nil::uuid
            """,
            new { id = userId.ToString(), nil = Db.NilUuid });
        Assert.Contains("user_signedup", audit);
        Assert.Contains("login", audit);
    }

    [Fact]
    public async Task Signup_UnderAuthV1Prefix_ReturnsSession()
    {
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/auth/v1/signup", new { email = AuthServerFixture.NewEmail(), password = Password });

        ApiAssert.Session(await server.OkJsonAsync(response), server.Clock);
    }

    [Fact]
    public async Task Signup_MissingPassword_Returns400ValidationFailed()
    {
        var email = AuthServerFixture.NewEmail();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email }),
            400, "validation_failed", "Signup requires a valid password");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password = "" }),
            400, "validation_failed", "Signup requires a valid password");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task Signup_ShortPassword_Returns422WeakPasswordWithLengthReason()
    {
        var email = AuthServerFixture.NewEmail();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password = "abc" }),
            422, "weak_password", "Password should be at least 6 characters.",
            inspect: body => ApiAssert.JsonEqual("""{"reasons":["length"]}""", body["weak_password"]));

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task Signup_PasswordOver72Characters_Returns400ValidationFailed()
    {
        var email = AuthServerFixture.NewEmail();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password = new string('p', 73) }),
            400, "validation_failed", "Password cannot be longer than 72 characters");
    }

    [Fact]
    public async Task Signup_Password72Characters_ReturnsSession()
    {
        var email = AuthServerFixture.NewEmail();
        var password = new string('p', 72);

        await server.SignUpAsync(email, password);

        await server.SignInAsync(email, password);
    }

    [Theory]
    [InlineData("not-an-email")]
    [InlineData("a@")]
    [InlineData("two words@example.com")]
    [InlineData("Eve <eve@example.com>")]
    public async Task Signup_InvalidEmail_Returns400ValidationFailed(string email)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password = Password }),
            400, "validation_failed", messagePrefix: "Unable to validate email address");
    }

    [Fact]
    public async Task Signup_EmailAndPhone_Returns400ValidationFailed()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), phone = "+15555550100", password = Password }),
            400, "validation_failed");
    }

    [Fact]
    public async Task Signup_ConfirmedUserExists_Returns422UserAlreadyExists()
    {
        var email = AuthServerFixture.NewEmail();
        var first = await server.SignUpAsync(email, Password);
        var userId = (string)first["user"]!["id"]!;

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email = email.ToUpperInvariant(), password = "another-password" }),
            422, "user_already_exists", "User already registered");

        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.users where lower(email) = @email", new { email }));
        Assert.True(BCrypt.Net.BCrypt.Verify(Password,
            await server.Db.ScalarAsync<string>("select encrypted_password from auth.users where id = @userId::uuid", new { userId })));
        Assert.Contains("user_repeated_signup", await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @userId", new { userId }));
    }

    [Fact]
    public async Task Signup_NoEmailOrPhoneWithAnonymousDisabled_Returns422AnonymousProviderDisabled()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { data = new { } }),
            422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where is_anonymous"));
    }
}

/// <summary>POST /signup with GOTRUE_MAILER_AUTOCONFIRM=false.</summary>
public sealed class SignupWithoutAutoconfirmTests(AutoconfirmOffFixture server) : IClassFixture<AutoconfirmOffFixture>
{
    [Fact]
    public async Task Signup_NewEmailWithoutAutoconfirm_ReturnsUserWithoutSessionAndStoresConfirmationToken()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" });

        var user = await server.OkJsonAsync(response);
        Assert.False(user.ContainsKey("access_token"), user.ToJsonString());
        Assert.False(user.ContainsKey("refresh_token"), user.ToJsonString());
        var id = Guid.Parse((string)user["id"]!);
        Assert.Equal(email, (string?)user["email"]);
        Assert.True(DateTimeOffset.TryParse((string?)user["confirmation_sent_at"], out _), user.ToJsonString());
        foreach (var absent in new[] { "email_confirmed_at", "confirmed_at", "last_sign_in_at" })
            Assert.False(user.ContainsKey(absent), $"{absent} should be omitted: {user.ToJsonString()}");
        Assert.Equal("email", (string?)Assert.Single(user["identities"]!.AsArray())!["provider"]);
        ApiAssert.JsonEqual($$"""{"sub":"{{id}}","email":"{{email}}","email_verified":false,"phone_verified":false}""", user["user_metadata"]);

        var row = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @id", new { id });
        Assert.Null(row.EmailConfirmedAt);
        Assert.NotNull(row.ConfirmationSentAt);
        Assert.Matches("^[0-9a-f]{56}$", row.ConfirmationToken); // hex SHA-224(email + otp), STYLE §7
        Assert.Equal(row.ConfirmationToken, await server.Db.ScalarAsync<string>(
            "select token_hash from auth.one_time_tokens where user_id = @id and token_type = 'confirmation_token' and relates_to = @email",
            new { id, email }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id }));
        Assert.Contains("user_confirmation_requested", await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @id", new { id = id.ToString() }));
    }

    [Fact]
    public async Task Signup_UnconfirmedUserRepeatedWithinAMinute_Returns429AndThenResendsWithoutChangingUser()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();
        var first = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" }));
        var id = Guid.Parse((string)first["id"]!);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password = "another-password" }),
            429, "over_email_send_rate_limit", messagePrefix: "For security purposes, you can only request this after");

        server.Clock.Advance(TimeSpan.FromSeconds(61));
        var again = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = "another-password" }));
        Assert.Equal(id, Guid.Parse((string)again["id"]!));
        Assert.False(again.ContainsKey("access_token"));
        Assert.True(BCrypt.Net.BCrypt.Verify("correct-horse-battery",
            await server.Db.ScalarAsync<string>("select encrypted_password from auth.users where id = @id", new { id })));
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task Signup_ConfirmedUserExists_Returns200FakeUserWithoutIdentities()
    {
        var email = AuthServerFixture.NewEmail();
        var realId = await server.Db.InsertEmailUserAsync(email, "original-password");
        using var client = server.CreateClient(apiVersion: AuthServerFixture.ApiVersion2024);

        var response = await client.PostAsJsonAsync("/signup", new { email, password = "another-password", data = new { plan = "pro" } });

        var user = await server.OkJsonAsync(response);
        Assert.False(user.ContainsKey("access_token"));
        Assert.True(Guid.TryParse((string?)user["id"], out var fakeId));
        Assert.NotEqual(realId, fakeId);
        Assert.Equal(email, (string?)user["email"]);
        Assert.Equal("authenticated", (string?)user["aud"]);
        Assert.Equal("", (string?)user["role"]);
        Assert.Empty(user["identities"]!.AsArray());
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", user["app_metadata"]);
        ApiAssert.JsonEqual("""{"plan":"pro"}""", user["user_metadata"]);
        Assert.True(DateTimeOffset.TryParse((string?)user["confirmation_sent_at"], out _));
        foreach (var absent in new[] { "email_confirmed_at", "confirmed_at", "last_sign_in_at", "phone_confirmed_at" })
            Assert.False(user.ContainsKey(absent), $"{absent} should be omitted: {user.ToJsonString()}");

        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
        Assert.True(BCrypt.Net.BCrypt.Verify("original-password",
            await server.Db.ScalarAsync<string>("select encrypted_password from auth.users where id = @realId", new { realId })));
        Assert.Contains("user_repeated_signup", await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @id", new { id = realId.ToString() }));
    }

    [Fact]
    public async Task Settings_AutoconfirmOff_ReportsMailerAutoconfirmFalse()
    {
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.GetAsync("/settings"));

        Assert.False((bool)body["mailer_autoconfirm"]!);
    }
}

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
        await server.SignUpAsync(AuthServerFixture.NewEmail(), "Strong3rPassword");
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
