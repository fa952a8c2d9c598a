using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_CURRENT_PASSWORD on, autoconfirm off (recovery mail).</summary>
public sealed class CurrentPasswordFixture : EmailFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings) =>
        settings["GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_CURRENT_PASSWORD"] = "true";
}

/// <summary>PUT /user password changes need current_password, except in a recovery session (GoTrue user.go
/// `!session.IsRecovery()`: a session whose AMR holds otp, magiclink or recovery).</summary>
public sealed class CurrentPasswordTests(CurrentPasswordFixture server) : IClassFixture<CurrentPasswordFixture>
{
    const string Password = "correct-horse-battery";

    [Fact]
    public async Task UpdatePassword_PasswordSessionWithoutOrWithWrongCurrentPassword_Returns400()
    {
        var email = AuthServerFixture.NewEmail("current");
        var id = await server.Db.InsertEmailUserAsync(email, Password);
        var bearer = (string)(await server.SignInAsync(email, Password))["access_token"]!;
        var before = await server.Db.ScalarAsync<string>("select encrypted_password from auth.users where id = @id", new { id });

        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user", new { password = "a-brand-new-secret" }),
            400, "current_password_required", "Current password required when setting new password.", bearer: bearer);
        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user",
                new { password = "a-brand-new-secret", current_password = "not-the-password" }),
            400, "current_password_invalid", "Current password required when setting new password.", bearer: bearer);
        Assert.Equal(before, await server.Db.ScalarAsync<string>("select encrypted_password from auth.users where id = @id", new { id }));

        using var client = server.CreateClient(bearer: bearer);
        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { password = "a-brand-new-secret", current_password = Password }));
        await server.SignInAsync(email, "a-brand-new-secret");
    }

    [Fact]
    public async Task UpdatePassword_InRecoverySession_NeedsNoCurrentPassword()
    {
        var email = AuthServerFixture.NewEmail("forgot");
        await server.Db.InsertEmailUserAsync(email, Password);
        using var anon = server.CreateClient();
        await server.OkJsonAsync(await anon.PostAsJsonAsync("/recover", new { email }));
        var mail = await server.Mail.LatestAsync(email);
        var session = await server.OkJsonAsync(await anon.PostAsJsonAsync("/verify", new { type = "recovery", email, token = mail.Code }));

        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { password = "chosen-after-reset" }));

        await server.SignInAsync(email, "chosen-after-reset");
    }
}
