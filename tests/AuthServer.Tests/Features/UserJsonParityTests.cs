using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Web;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>
/// user_metadata, app_metadata and identities[].identity_data exactly as GoTrue writes them on every path that
/// creates or confirms a user (issue 14 item 4). The reference, path by path:
/// <list type="bullet">
/// <item>`/signup` (and `/otp`, which signs up through it): identity_data = `provider.Claims{Subject, Email}`
/// (`sub`, `email`, `email_verified: false`, `phone_verified: false`; no phone) plus the request data where the
/// claims leave a key free; `RemoveUnconfirmedIdentities` then makes user_metadata that same map.</item>
/// <item>`/invite`, `generate_link` (`signupNewUser` + `createNewIdentity`) and `POST /admin/users`:
/// user_metadata = the data given, identity_data = the bare claims.</item>
/// <item>`/verify` signup/invite (`signupVerify`): user_metadata.email_verified = true and every identity with the
/// user's email gets email_verified = true; magic link/recovery (`recoverVerify`): user_metadata only; a phone
/// confirmation (`ConfirmPhone`, SMS autoconfirm or `/verify` sms) changes neither.</item>
/// <item>id_token / OAuth: identity_data = the provider's claims, and user_metadata the same map.</item>
/// <item>anonymous: user_metadata = data, app_metadata = {}, no identity.</item>
/// </list>
/// </summary>
public sealed class UserJsonParityTests(EmailFixture server, OidcFixture oidc, PhoneAutoconfirmFixture phones)
    : IClassFixture<EmailFixture>, IClassFixture<OidcFixture>, IClassFixture<PhoneAutoconfirmFixture>
{
    static string Claims(string id, string? email, bool emailVerified = false, string extra = "") =>
        $$"""{"sub":"{{id}}",{{(email is null ? "" : $"\"email\":\"{email}\",")}}"email_verified":{{(emailVerified ? "true" : "false")}},"phone_verified":false{{extra}}}""";

    static JsonObject SingleIdentityData(JsonObject user) => user["identities"]!.AsArray().Single()!["identity_data"]!.AsObject();

    async Task<JsonObject> StoredUserAsync(AuthServerFixture fixture, string id)
    {
        using var admin = fixture.CreateClient(bearer: EmailFixture.ServiceRoleKey);
        return await fixture.OkJsonAsync(await admin.GetAsync($"/admin/users/{id}"));
    }

    [Fact]
    public async Task EmailSignup_MetadataIsTheIdentityClaimsPlusData_ConfirmationMarksBothVerified()
    {
        var email = AuthServerFixture.NewEmail("parity-signup");
        using var client = server.CreateClient();

        var user = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup",
            new { email, password = "correct-horse-battery", data = new { team = "a", sub = "forged", email_verified = true } }));

        var id = (string)user["id"]!;
        var expected = Claims(id, email, extra: ",\"team\":\"a\"");
        ApiAssert.JsonEqual(expected, user["user_metadata"]);
        ApiAssert.JsonEqual(expected, SingleIdentityData(user));
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", user["app_metadata"]);

        var mail = await server.Mail.LatestAsync(email);
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code }));
        var confirmed = Claims(id, email, emailVerified: true, extra: ",\"team\":\"a\"");
        ApiAssert.JsonEqual(confirmed, session["user"]!["user_metadata"]);
        ApiAssert.JsonEqual(confirmed, SingleIdentityData(session["user"]!.AsObject()));
    }

    [Fact]
    public async Task OtpSignup_MetadataAsSignup_MagicLinkConfirmationMarksOnlyUserMetadata()
    {
        var email = AuthServerFixture.NewEmail("parity-otp");
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp", new { email, data = new { plan = "pro" } })).StatusCode);
        await server.Mail.LatestAsync(email);
        var id = await server.Db.ScalarAsync<Guid>("select id from auth.users where email = @email", new { email });

        var created = await StoredUserAsync(server, id.ToString());
        var expected = Claims(id.ToString(), email, extra: ",\"plan\":\"pro\"");
        ApiAssert.JsonEqual(expected, created["user_metadata"]);
        ApiAssert.JsonEqual(expected, SingleIdentityData(created));
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", created["app_metadata"]);

        // A second request for the still unconfirmed address mails a magic link; following it confirms the user.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp", new { email })).StatusCode);
        var link = await server.Mail.LatestAsync(email, count: 2);
        Assert.Contains("type=magiclink", link.Link);
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "email", email, token = link.Code }));

        ApiAssert.JsonEqual(Claims(id.ToString(), email, emailVerified: true, extra: ",\"plan\":\"pro\""),
            session["user"]!["user_metadata"]);
        ApiAssert.JsonEqual(expected, SingleIdentityData(session["user"]!.AsObject()));
    }

    [Fact]
    public async Task Invite_MetadataIsExactlyTheData_IdentityHasTheBareClaims()
    {
        var email = AuthServerFixture.NewEmail("parity-invite");
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);

        var user = await server.OkJsonAsync(await admin.PostAsJsonAsync("/invite", new { email, data = new { team = "a" } }));

        ApiAssert.JsonEqual("""{"team":"a"}""", user["user_metadata"]);
        ApiAssert.JsonEqual(Claims((string)user["id"]!, email), SingleIdentityData(user));
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", user["app_metadata"]);

        // Accepting the invite: user_metadata and the email identity are marked verified.
        var mail = await server.Mail.LatestAsync(email);
        using var client = server.CreateClient();
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "invite", email, token = mail.Code }));
        ApiAssert.JsonEqual("""{"team":"a","email_verified":true}""", session["user"]!["user_metadata"]);
        ApiAssert.JsonEqual(Claims((string)user["id"]!, email, emailVerified: true), SingleIdentityData(session["user"]!.AsObject()));
    }

    [Theory]
    [InlineData("signup")]
    [InlineData("invite")]
    [InlineData("magiclink")] // an unknown address: GoTrue turns it into a signup
    public async Task GenerateLink_NewUser_MetadataIsExactlyTheData(string type)
    {
        var email = AuthServerFixture.NewEmail("parity-link");
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);

        var link = await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/generate_link",
            new { type, email, password = "correct-horse-battery", data = new { team = "a", nested = new { x = 1 } } }));

        ApiAssert.JsonEqual("""{"team":"a","nested":{"x":1}}""", link["user_metadata"]);
        ApiAssert.JsonEqual(Claims((string)link["id"]!, email), SingleIdentityData(link));
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", link["app_metadata"]);
        ApiAssert.JsonEqual(link["user_metadata"]!.ToJsonString(), (await StoredUserAsync(server, (string)link["id"]!))["user_metadata"]);
    }

    [Fact]
    public async Task GenerateLink_SignupForExistingUnconfirmedUser_MergesTheData()
    {
        var email = AuthServerFixture.NewEmail("parity-link-again");
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);
        var first = await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/generate_link",
            new { type = "signup", email, password = "correct-horse-battery", data = new { team = "a", drop = "me" } }));

        var second = await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/generate_link",
            new { type = "signup", email, data = new { plan = "pro", drop = (string?)null } }));

        Assert.Equal((string)first["id"]!, (string)second["id"]!);
        ApiAssert.JsonEqual("""{"team":"a","plan":"pro"}""", second["user_metadata"]);
    }

    [Fact]
    public async Task GenerateLink_SignupForConfirmedUser_422EmailExists()
    {
        var (email, _) = await server.ConfirmedUserAsync("parity-link-confirmed");
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);

        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync("/admin/generate_link",
            new { type = "signup", email, password = "correct-horse-battery", data = new { team = "a" } }), 422, "email_exists");
    }

    [Fact]
    public async Task AdminCreate_MetadataIsTheData_EmailConfirmAddsEmailVerified_IdentitiesHaveBareClaims()
    {
        var email = AuthServerFixture.NewEmail("parity-admin");
        const string phone = "15550001234";
        using var admin = server.CreateClient(bearer: EmailFixture.ServiceRoleKey);

        var user = await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/users", new
        {
            email,
            phone,
            password = "correct-horse-battery",
            email_confirm = true,
            user_metadata = new { team = "a" },
            app_metadata = new { org_role = "owner" },
        }));

        var id = (string)user["id"]!;
        ApiAssert.JsonEqual("""{"team":"a","email_verified":true}""", user["user_metadata"]);
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email","phone"],"org_role":"owner"}""", user["app_metadata"]);
        var identities = user["identities"]!.AsArray();
        ApiAssert.JsonEqual(Claims(id, email), identities.Single(i => (string?)i!["provider"] == "email")!["identity_data"]);
        ApiAssert.JsonEqual($$"""{"sub":"{{id}}","phone":"{{phone}}","email_verified":false,"phone_verified":false}""",
            identities.Single(i => (string?)i!["provider"] == "phone")!["identity_data"]);
    }

    [Fact]
    public async Task PhoneSignup_MetadataIsTheClaimsWithoutPhonePlusData_ConfirmationChangesNeither()
    {
        const string password = "correct-horse-battery";
        var phone = "1555" + Random.Shared.Next(1000000, 9999999);
        using var client = phones.CreateClient();

        var session = await phones.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { phone, password, data = new { team = "a" } }));

        var user = session["user"]!.AsObject();
        var expected = Claims((string)user["id"]!, null, extra: ",\"team\":\"a\"");
        // SMS autoconfirm: GoTrue `ConfirmPhone` marks nothing verified in the metadata.
        ApiAssert.JsonEqual(expected, SingleIdentityData(user));
        ApiAssert.JsonEqual(expected, user["user_metadata"]);
        ApiAssert.JsonEqual("""{"provider":"phone","providers":["phone"]}""", user["app_metadata"]);
    }

    [Fact]
    public async Task Anonymous_MetadataIsTheData_NoProviderNoIdentity()
    {
        using var client = oidc.CreateClient();

        var session = await oidc.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { data = new { team = "a" } }));

        ApiAssert.JsonEqual("""{"team":"a"}""", session["user"]!["user_metadata"]);
        ApiAssert.JsonEqual("{}", session["user"]!["app_metadata"]);
        Assert.Empty(session["user"]!["identities"]!.AsArray());
    }

    [Fact]
    public async Task IdToken_NewUser_MetadataIsTheProviderClaims()
    {
        var (token, sub, email) = oidc.GoogleToken();

        var session = await oidc.OkJsonAsync(await oidc.IdTokenGrantAsync(new { provider = "google", id_token = token }));

        var user = session["user"]!.AsObject();
        var identityData = SingleIdentityData(user);
        Assert.True(JsonNode.DeepEquals(identityData, user["user_metadata"]),
            $"user_metadata {user["user_metadata"]!.ToJsonString()} != identity_data {identityData.ToJsonString()}");
        Assert.Equal(sub, (string?)identityData["sub"]);
        Assert.Equal(sub, (string?)identityData["provider_id"]);
        Assert.Equal(email, (string?)identityData["email"]);
        Assert.Equal(true, (bool?)identityData["email_verified"]);
        Assert.Equal(false, (bool?)identityData["phone_verified"]);
        Assert.Equal("Goo Gle", (string?)identityData["full_name"]);
        ApiAssert.JsonEqual("""{"provider":"google","providers":["google"]}""", user["app_metadata"]);
    }

    [Fact]
    public async Task OAuthCallback_NewUser_MetadataIsTheProviderClaims()
    {
        var email = OidcFixture.NewEmail("parity-oauth");
        var sub = "po-" + Guid.NewGuid().ToString("N");
        oidc.Google.NextUser = new JsonObject { ["sub"] = sub, ["email"] = email, ["email_verified"] = true, ["name"] = "O Auth" };
        using var client = oidc.CreateClient();
        var start = await client.GetAsync("/authorize?provider=google");
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var atProvider = await browser.GetAsync(start.Headers.Location!);
        var callback = await client.GetAsync(atProvider.Headers.Location!.PathAndQuery);
        Assert.Equal(HttpStatusCode.Found, callback.StatusCode);
        var fragment = HttpUtility.ParseQueryString(callback.Headers.Location!.Fragment.TrimStart('#'));
        using var authed = oidc.CreateClient(bearer: fragment["access_token"]);

        var user = await oidc.OkJsonAsync(await authed.GetAsync("/user"));

        var identityData = SingleIdentityData(user);
        Assert.True(JsonNode.DeepEquals(identityData, user["user_metadata"]),
            $"user_metadata {user["user_metadata"]!.ToJsonString()} != identity_data {identityData.ToJsonString()}");
        Assert.Equal(sub, (string?)identityData["sub"]);
        Assert.Equal(email, (string?)identityData["email"]);
        Assert.Equal(true, (bool?)identityData["email_verified"]);
        Assert.Equal("O Auth", (string?)identityData["name"]);
        ApiAssert.JsonEqual("""{"provider":"google","providers":["google"]}""", user["app_metadata"]);
    }
}
