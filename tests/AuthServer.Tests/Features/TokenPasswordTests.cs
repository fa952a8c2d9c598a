using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>POST /token?grant_type=password (api.md §3, jwt.md §1).</summary>
public sealed class TokenPasswordTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    const string Password = "correct-horse-battery";

    static Task<HttpResponseMessage> PasswordGrant(HttpClient client, object body) =>
        client.PostAsJsonAsync("/token?grant_type=password", body);

    [Fact]
    public async Task Token_PasswordGrant_ReturnsSessionWithGoTrueClaims()
    {
        var (email, password, signup) = await server.NewUserAsync();
        var userId = (string)signup["user"]!["id"]!;
        using var client = server.CreateClient(apiVersion: AuthServerFixture.ApiVersion2024);

        var response = await PasswordGrant(client, new { email, password });

        var session = ApiAssert.Session(await server.OkJsonAsync(response), server.Clock);
        Assert.False(session.ContainsKey("weak_password"));
        Assert.False(session.ContainsKey("provider_token"));
        var token = (string)session["access_token"]!;

        var header = Jwt.Header(token);
        Assert.Equal("HS256", (string?)header["alg"]);
        Assert.Equal("JWT", (string?)header["typ"]);
        Assert.False(header.ContainsKey("kid"));

        var claims = Jwt.Payload(token);
        Assert.Equal(
            ["aal", "amr", "app_metadata", "aud", "email", "exp", "iat", "is_anonymous", "phone", "role", "session_id", "sub", "user_metadata"],
            claims.Select(c => c.Key).Order(StringComparer.Ordinal));
        Assert.Equal(userId, (string?)claims["sub"]);
        Assert.Equal(JsonValueKind.String, claims["aud"]!.GetValueKind());
        Assert.Equal("authenticated", (string?)claims["aud"]);
        Assert.Equal("authenticated", (string?)claims["role"]);
        Assert.Equal(email, (string?)claims["email"]);
        Assert.Equal("", (string?)claims["phone"]);
        Assert.Equal("aal1", (string?)claims["aal"]);
        Assert.False((bool)claims["is_anonymous"]!);
        Assert.Equal(3600, (long)claims["exp"]! - (long)claims["iat"]!);
        Assert.InRange((long)claims["iat"]!, server.Clock.GetUtcNow().ToUnixTimeSeconds() - 5, server.Clock.GetUtcNow().ToUnixTimeSeconds());
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", claims["app_metadata"]);
        Assert.Equal(true, (bool?)claims["user_metadata"]!["email_verified"]);
        var amr = Assert.Single(claims["amr"]!.AsArray())!.AsObject();
        Assert.Equal(["method", "timestamp"], amr.Select(p => p.Key).Order());
        Assert.Equal("password", (string?)amr["method"]);
        Assert.Equal(JsonValueKind.Number, amr["timestamp"]!.GetValueKind());

        var sessionId = Guid.Parse((string)claims["session_id"]!);
        Assert.NotEqual((string?)Jwt.Payload((string)signup["access_token"]!)["session_id"], sessionId.ToString());
        var row = await server.Db.SingleAsync<SessionRow>(SessionRow.Select + " where id = @sessionId", new { sessionId });
        Assert.Equal(Guid.Parse(userId), row.UserId);
        Assert.Equal(2, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @userId::uuid", new { userId }));
        Assert.Equal((string)session["refresh_token"]!, await server.Db.ScalarAsync<string>(
            "select token from auth.refresh_tokens where session_id = @sessionId and not revoked", new { sessionId }));
        Assert.Contains("login", await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @userId", new { userId }));
    }

    [Fact]
    public async Task Token_PasswordGrant_UpdatesLastSignInAt()
    {
        var (email, password, signup) = await server.NewUserAsync();
        var userId = Guid.Parse((string)signup["user"]!["id"]!);
        await server.Db.ExecuteAsync("update auth.users set last_sign_in_at = now() - interval '1 day' where id = @userId", new { userId });

        var session = await server.SignInAsync(email, password);

        var lastSignIn = await server.Db.ScalarAsync<DateTime>("select last_sign_in_at from auth.users where id = @userId", new { userId });
        Assert.True(lastSignIn > DateTime.UtcNow.AddMinutes(-1), $"last_sign_in_at = {lastSignIn:o}");
        Assert.True(DateTimeOffset.TryParse((string?)session["user"]!["last_sign_in_at"], out var wire) && wire > DateTimeOffset.UtcNow.AddMinutes(-1));
    }

    [Fact]
    public async Task Token_PasswordGrantWithUppercaseEmail_ReturnsSession()
    {
        var (email, password, _) = await server.NewUserAsync();

        await server.SignInAsync(email.ToUpperInvariant(), password);
    }

    [Fact]
    public async Task Token_PasswordGrantUnderAuthV1Prefix_ReturnsSession()
    {
        var (email, password, _) = await server.NewUserAsync();
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/auth/v1/token?grant_type=password", new { email, password });

        ApiAssert.Session(await server.OkJsonAsync(response), server.Clock);
    }

    [Fact]
    public async Task Token_WrongPassword_Returns400InvalidCredentials()
    {
        var (email, _, _) = await server.NewUserAsync();

        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { email, password = "wrong-password" }),
            400, "invalid_credentials", "Invalid login credentials");
    }

    [Fact]
    public async Task Token_UnknownEmail_Returns400InvalidCredentials()
    {
        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { email = AuthServerFixture.NewEmail("nobody"), password = Password }),
            400, "invalid_credentials", "Invalid login credentials");
    }

    [Fact]
    public async Task Token_UserWithoutPassword_Returns400InvalidCredentials()
    {
        var (email, password, signup) = await server.NewUserAsync();
        await server.Db.ExecuteAsync("update auth.users set encrypted_password = '' where id = @id::uuid", new { id = (string)signup["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { email, password }),
            400, "invalid_credentials", "Invalid login credentials");
    }

    [Fact]
    public async Task Token_NeitherEmailNorPhone_Returns400ValidationFailed()
    {
        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { password = Password }),
            400, "validation_failed", "missing email or phone");
    }

    [Fact]
    public async Task Token_EmailAndPhone_Returns400ValidationFailed()
    {
        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { email = AuthServerFixture.NewEmail(), phone = "15555550100", password = Password }),
            400, "validation_failed");
    }

    [Fact]
    public async Task Token_UnconfirmedEmail_Returns400EmailNotConfirmed()
    {
        var (email, password, signup) = await server.NewUserAsync();
        await server.Db.ExecuteAsync("update auth.users set email_confirmed_at = null where id = @id::uuid", new { id = (string)signup["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { email, password }),
            400, "email_not_confirmed", "Email not confirmed");
    }

    [Fact]
    public async Task Token_UnconfirmedEmailWithWrongPassword_Returns400InvalidCredentials()
    {
        var (email, _, signup) = await server.NewUserAsync();
        await server.Db.ExecuteAsync("update auth.users set email_confirmed_at = null where id = @id::uuid", new { id = (string)signup["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { email, password = "wrong-password" }),
            400, "invalid_credentials", "Invalid login credentials");
    }

    [Fact]
    public async Task Token_BannedUser_Returns400UserBanned()
    {
        var (email, password, signup) = await server.NewUserAsync();
        await server.Db.ExecuteAsync("update auth.users set banned_until = now() + interval '1 day' where id = @id::uuid", new { id = (string)signup["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { email, password }),
            400, "user_banned", "User is banned");
    }

    [Fact]
    public async Task Token_BanExpired_ReturnsSession()
    {
        var (email, password, signup) = await server.NewUserAsync();
        await server.Db.ExecuteAsync("update auth.users set banned_until = now() - interval '1 minute' where id = @id::uuid", new { id = (string)signup["user"]!["id"]! });

        await server.SignInAsync(email, password);
    }

    [Theory]
    [InlineData('a')]
    [InlineData('b')]
    public async Task Token_HashWrittenByGoBcryptCost10_Verifies(char revision)
    {
        var (email, password, signup) = await server.NewUserAsync();
        var hash = BCrypt.Net.BCrypt.HashPassword(password, BCrypt.Net.BCrypt.GenerateSalt(10, revision));
        Assert.StartsWith($"$2{revision}$10$", hash);
        await server.Db.ExecuteAsync("update auth.users set encrypted_password = @hash where id = @id::uuid",
            new { hash, id = (string)signup["user"]!["id"]! });

        await server.SignInAsync(email, password);
        await server.AssertErrorBothShapesAsync(c => PasswordGrant(c, new { email, password = password + "x" }),
            400, "invalid_credentials", "Invalid login credentials");
    }
}
