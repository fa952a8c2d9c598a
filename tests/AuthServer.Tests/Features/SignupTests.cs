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
    public async Task Signup_WithJwtAudHeader_CreatesUserInThatAudience()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();
        client.DefaultRequestHeaders.Add("X-JWT-AUD", "tenant-a");

        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = Password }));

        Assert.Equal("tenant-a", (string?)session["user"]!["aud"]);
        Assert.Equal("tenant-a", (string?)Jwt.Payload((string)session["access_token"]!)["aud"]);
        Assert.Equal("tenant-a", await server.Db.ScalarAsync<string>("select aud from auth.users where email = @email", new { email }));
        // Password lookups are per audience (api.md §3 grant_type=password).
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=password", new { email, password = Password }),
            400, "invalid_credentials", "Invalid login credentials");
        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = Password }));
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
