using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>POST /signup with GOTRUE_MAILER_AUTOCONFIRM=false.</summary>
public sealed class SignupConfirmationTests(AutoconfirmOffFixture server) : IClassFixture<AutoconfirmOffFixture>
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
        // Once, with the provider (GoTrue signup.go).
        Assert.Equal("email", Assert.Single(await server.Db.QueryAsync<string>(
            "select payload->'traits'->>'provider' from auth.audit_log_entries where payload->>'actor_id' = @id and payload->>'action' = 'user_confirmation_requested'",
            new { id = id.ToString() })));
    }

    [Fact]
    [Trait("catalogue", "O5")]
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
