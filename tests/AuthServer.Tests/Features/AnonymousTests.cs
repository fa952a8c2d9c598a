using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED with mailer autoconfirm on.</summary>
public sealed class AnonymousFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = "true";
}

/// <summary>Anonymous sign-in (`POST /signup` with neither email nor phone) and its upgrade paths.</summary>
public sealed class AnonymousTests(AnonymousFixture server) : IClassFixture<AnonymousFixture>
{
    async Task<System.Text.Json.Nodes.JsonObject> AnonymousAsync()
    {
        using var client = server.CreateClient();
        return await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { data = new { theme = "dark" } }));
    }

    [Fact]
    public async Task Signup_Anonymous_SessionWithAnonymousUserAndAmr()
    {
        var session = ApiAssert.Session(await AnonymousAsync(), server.Clock);

        var user = session["user"]!.AsObject();
        Assert.True((bool)user["is_anonymous"]!);
        Assert.Equal("", (string?)user["email"]);
        Assert.Equal("authenticated", (string?)user["role"]);
        ApiAssert.JsonEqual("[]", user["identities"]);
        ApiAssert.JsonEqual("{}", user["app_metadata"]);
        Assert.Equal("dark", (string?)user["user_metadata"]!["theme"]);
        var claims = Jwt.Payload((string)session["access_token"]!);
        Assert.True((bool)claims["is_anonymous"]!);
        Assert.Equal("anonymous", (string?)claims["amr"]![0]!["method"]);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.identities where user_id = @id::uuid",
            new { id = (string)user["id"]! }));
    }

    [Fact]
    public async Task UpdateUser_AnonymousSetsEmailAndPasswordWithAutoconfirm_BecomesPermanentKeepingId()
    {
        var session = await AnonymousAsync();
        var id = (string)session["user"]!["id"]!;
        var email = AuthServerFixture.NewEmail("upgraded");
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var user = await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { email, password = "upgrade-pass-1" }));

        Assert.Equal(id, (string?)user["id"]);
        Assert.False((bool)user["is_anonymous"]!);
        Assert.Equal(email, (string?)user["email"]);
        Assert.NotNull(user["email_confirmed_at"]);
        Assert.Null(user["new_email"]);
        Assert.Equal("email", (string?)user["identities"]![0]!["provider"]);
        ApiAssert.JsonEqual("""["email"]""", user["app_metadata"]!["providers"]);
        var signedIn = await server.SignInAsync(email, "upgrade-pass-1");
        Assert.Equal(id, (string?)signedIn["user"]!["id"]);
        Assert.False((bool)Jwt.Payload((string)signedIn["access_token"]!)["is_anonymous"]!);
    }

    [Fact]
    public async Task UpdateUser_AnonymousPasswordWithoutEmailInRequest_ValidationFailed()
    {
        var session = await AnonymousAsync();

        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user", new { password = "some-password-1" }), 422,
            "validation_failed", "Updating password of an anonymous user without an email or phone is not allowed",
            bearer: (string)session["access_token"]!);
        Assert.Null(await server.Db.ScalarAsync<string?>("select encrypted_password from auth.users where id = @id::uuid",
            new { id = (string)session["user"]!["id"]! }));
    }

    [Fact]
    public async Task UpdateUser_AnonymousEmailTaken_EmailExists()
    {
        var (email, _, _) = await server.NewUserAsync("taken");
        var session = await AnonymousAsync();

        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user", new { email }), 422, "email_exists",
            "A user with this email address has already been registered", bearer: (string)session["access_token"]!);
    }
}

/// <summary>Autoconfirm off: an anonymous user's new email stays pending and the user stays anonymous.</summary>
public sealed class AnonymousNoAutoconfirmTests(OidcFixture server) : IClassFixture<OidcFixture>
{
    [Fact]
    public async Task UpdateUser_AnonymousEmailWithoutAutoconfirm_PendingAndStillAnonymous()
    {
        var session = await server.AnonymousAsync();
        var email = AuthServerFixture.NewEmail("pending");
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var user = await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { email }));

        Assert.True((bool)user["is_anonymous"]!);
        Assert.Equal(email, (string?)user["new_email"]);
        Assert.Equal("", (string?)user["email"]);
    }
}

/// <summary>Anonymous sign-ins on but GOTRUE_DISABLE_SIGNUP: 422 signup_disabled.</summary>
public sealed class AnonymousSignupDisabledFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = "true";
        settings["GOTRUE_DISABLE_SIGNUP"] = "true";
    }
}

public sealed class AnonymousSignupDisabledTests(AnonymousSignupDisabledFixture server) : IClassFixture<AnonymousSignupDisabledFixture>
{
    [Fact]
    public async Task Signup_AnonymousWithSignupDisabled_SignupDisabled() =>
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { }), 422, "signup_disabled",
            "Signups not allowed for this instance");
}
