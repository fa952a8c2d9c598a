using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Signing up with the address of an invited, unconfirmed user (api.md §3 signup table; GoTrue signup.go
/// `HasBeenInvited`): the response hides the inviter's metadata and the identities; the user is not modified.</summary>
public sealed class SignupInvitedTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    [Fact]
    public async Task Signup_InvitedUnconfirmedUser_AnswersWithEmptyMetadataAndIdentities()
    {
        var email = AuthServerFixture.NewEmail("invited");
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);
        var invited = await server.OkJsonAsync(await admin.PostAsJsonAsync("/invite", new { email, data = new { team = "a" } }));
        await server.Mail.LatestAsync(email);
        // Past the per-address send interval, so the sign-up re-sends the confirmation.
        await server.Db.ExecuteAsync("update auth.users set confirmation_sent_at = now() - interval '1 hour' where email = @email",
            new { email });

        using var client = server.CreateClient();
        var user = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup",
            new { email, password = "correct-horse-battery", data = new { mine = "b" } }));

        Assert.Equal((string)invited["id"]!, (string)user["id"]!);
        Assert.NotNull(user["invited_at"]);
        Assert.Equal("{}", user["user_metadata"]!.ToJsonString());
        Assert.Empty(user["identities"]!.AsArray());
        Assert.Null(user["access_token"]);
        Assert.Equal("Confirm your email address", (await server.Mail.LatestAsync(email, count: 2)).Subject);
        var meta = JsonNode.Parse(await server.Db.ScalarAsync<string>(
            "select raw_user_meta_data::text from auth.users where email = @email", new { email }))!;
        Assert.Equal("a", (string?)meta["team"]);
        Assert.Null(meta["mine"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.identities i join auth.users u on u.id = i.user_id where u.email = @email", new { email }));
    }

    [Fact]
    public async Task Signup_UninvitedUnconfirmedUser_StillShowsMetadataAndIdentities()
    {
        var email = AuthServerFixture.NewEmail("plain");
        using var client = server.CreateClient();
        var first = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup",
            new { email, password = "correct-horse-battery", data = new { mine = "b" } }));

        Assert.Equal("b", (string?)first["user_metadata"]!["mine"]);
        Assert.Single(first["identities"]!.AsArray());
    }
}
