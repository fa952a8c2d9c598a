using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Web;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Every provider at a fake speaking its wire format; mailer autoconfirm off, manual linking on.</summary>
public sealed class ProvidersFixture : AuthServerFixture, IAsyncLifetime
{
    public FakeOAuthProviders Fake { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string> settings)
    {
        Fake = FakeOAuthProviders.Start();
        Fake.Configure(settings);
        settings["GOTRUE_MAILER_AUTOCONFIRM"] = "false";
        settings["GOTRUE_SECURITY_MANUAL_LINKING_ENABLED"] = "true";
        // Generous: on a loaded CI machine the first discovery + JWKS fetch of the fake issuer can take seconds.
        settings["GOTRUE_INTERNAL_HTTP_TIMEOUT"] = "60s";
        settings["GOTRUE_CUSTOM_OAUTH_ENABLED"] = "true";
        settings["GOTRUE_CUSTOM_OAUTH_MAX_PROVIDERS"] = "100";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT"] = "true";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY_ID"] = "k1";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY"] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS"] = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (Fake is not null) await Fake.DisposeAsync();
    }
}

/// <summary>
/// `/authorize?provider=&lt;p&gt;` → fake provider → `/callback` for every table provider: sign-up, returning
/// sign-in (PKCE), linking, unverified and missing email, provider error, denied consent.
/// </summary>
public sealed class ProviderFlowTests(ProvidersFixture server) : IClassFixture<ProvidersFixture>
{
    const string App = "http://localhost:3000/app";

    public static TheoryData<string> Providers => [.. FakeOAuthProviders.Names];

    /// How each provider vouches for emails (GoTrue provider/*.go): Spotify never, these always, the rest say.
    static string Trust(string provider) => provider switch
    {
        "spotify" => "never",
        "facebook" or "figma" or "fly" or "linkedin" or "notion" or "slack" or "slack_oidc" or "snapchat" or "twitch"
            or "twitter" or "vercel_marketplace" or "workos" or "x" => "always",
        _ => "reported",
    };

    /// Default scopes GoTrue sends (none: no `scope` parameter).
    static readonly Dictionary<string, string?> Scopes = new()
    {
        ["azure"] = "openid",
        ["bitbucket"] = "account email",
        ["discord"] = "email identify",
        ["facebook"] = "email",
        ["figma"] = "file_read",
        ["fly"] = "read",
        ["github"] = "user:email",
        ["gitlab"] = "read_user",
        ["kakao"] = "account_email profile_image profile_nickname",
        ["linkedin"] = "r_emailaddress r_liteprofile",
        ["linkedin_oidc"] = "openid email profile",
        ["notion"] = null,
        ["slack"] = "profile email openid",
        ["slack_oidc"] = "profile email openid",
        ["snapchat"] = "https://auth.snapchat.com/oauth2/api/user.external_id https://auth.snapchat.com/oauth2/api/user.display_name https://auth.snapchat.com/oauth2/api/user.bitmoji.avatar",
        ["spotify"] = "user-read-email",
        ["twitch"] = "user:read:email",
        ["vercel_marketplace"] = null,
        ["workos"] = null,
        ["x"] = "users.email tweet.read users.read offline.access",
        ["zoom"] = null,
    };

    FakePerson NewPerson(string provider, bool verified = true, bool email = true)
    {
        var id = Random.Shared.NextInt64(1_000_000, long.MaxValue).ToString();
        var person = new FakePerson(id, email ? AuthServerFixture.NewEmail(provider.Replace('_', '-')) : null, verified, "Ada Lovelace");
        server.Fake.Next[provider] = person;
        return person;
    }

    /// Bitbucket's subject is its braced account UUID.
    static string Sub(string provider, FakePerson person) => provider == "bitbucket" ? "{" + person.Id + "}" : person.Id;

    async Task<HttpResponseMessage> BrowseAsync(string authorizeUrl, string? bearer = null)
    {
        using var client = server.CreateClient(bearer: bearer);
        var start = await client.GetAsync(authorizeUrl);
        Assert.True(start.StatusCode == HttpStatusCode.Found, await start.Content.ReadAsStringAsync());
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var atProvider = await browser.GetAsync(start.Headers.Location!);
        Assert.Equal(HttpStatusCode.Found, atProvider.StatusCode);
        using var callback = server.CreateClient();
        return await callback.GetAsync(atProvider.Headers.Location!.PathAndQuery);
    }

    static Dictionary<string, string> Fragment(HttpResponseMessage response) => ApiAssert.RedirectFragment(response);

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task SignUp_ThenReturningSignInWithPkce(string provider)
    {
        var person = NewPerson(provider);

        var first = Fragment(await BrowseAsync($"/authorize?provider={provider}&redirect_to={Uri.EscapeDataString(App)}"));

        var q = server.Fake.LastAuthorize[provider];
        if (provider == "twitter") Assert.StartsWith("rt-", q["oauth_token"].ToString()); // OAuth 1.0a: the request token only
        else
        {
            Assert.Equal("http://localhost:9999/callback", q["redirect_uri"]);
            Assert.Equal("code", q["response_type"]);
            Assert.Equal(Scopes[provider], q["scope"].Count == 0 ? null : q["scope"].ToString());
            Assert.Equal(provider == "x", q["code_challenge"].Count > 0); // only X wants PKCE towards itself
        }
        if (Trust(provider) == "never")
        {
            Assert.Equal("provider_email_needs_verification", first["error_code"]);
            return;
        }
        Assert.Equal("true", first["signup"]);
        using var authed = server.CreateClient(bearer: first["access_token"]);
        var user = await server.OkJsonAsync(await authed.GetAsync("/user"));
        Assert.Equal(person.Email, (string?)user["email"]);
        var identity = user["identities"]!.AsArray().Single(i => (string?)i!["provider"] == provider)!;
        var data = identity["identity_data"]!;
        Assert.Equal(Sub(provider, person), (string?)data["sub"]);
        Assert.Equal(Sub(provider, person), (string?)identity["identity_id"] is null ? null : (string?)identity["id"]);
        Assert.Equal(person.Email, (string?)data["email"]);
        Assert.True((bool)data["email_verified"]!);
        Assert.False((bool)data["phone_verified"]!);
        Assert.Contains(person.Name.Split(' ')[0], data.ToJsonString());

        // Returning user, PKCE flow: ?code= and no signup marker, exchanged for the same user's session.
        var (verifier, challenge) = EmailFixture.NewPkcePair();
        var again = await BrowseAsync($"/authorize?provider={provider}&redirect_to={Uri.EscapeDataString(App)}&code_challenge={challenge}&code_challenge_method=s256");
        var query = HttpUtility.ParseQueryString(again.Headers.Location!.Query);
        Assert.Null(query["signup"]);
        using var client = server.CreateClient();
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=pkce",
            new { auth_code = query["code"], code_verifier = verifier }));
        Assert.Equal((string?)user["id"], (string?)session["user"]!["id"]);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task UnverifiedEmail_SignsInOnlyWhereTheProviderVouches(string provider)
    {
        NewPerson(provider, verified: false);

        var f = Fragment(await BrowseAsync($"/authorize?provider={provider}&redirect_to={Uri.EscapeDataString(App)}"));

        if (Trust(provider) == "always")
            Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
        else
        {
            Assert.Equal("access_denied", f["error"]);
            Assert.Equal("provider_email_needs_verification", f["error_code"]);
        }
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task MissingEmail_ServerError(string provider)
    {
        NewPerson(provider, email: false);

        var f = Fragment(await BrowseAsync($"/authorize?provider={provider}&redirect_to={Uri.EscapeDataString(App)}"));

        Assert.Equal("server_error", f["error"]);
        Assert.Equal("unexpected_failure", f["error_code"]);
        Assert.Equal("Error getting user email from external provider", f["error_description"]);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task ProviderRefusesTheCode_UnableToExchange(string provider)
    {
        NewPerson(provider);
        server.Fake.FailToken[provider] = true;

        var f = Fragment(await BrowseAsync($"/authorize?provider={provider}&redirect_to={Uri.EscapeDataString(App)}"));

        Assert.Equal("server_error", f["error"]);
        Assert.Equal(provider == "twitter" ? "Unable to retrieve access token" : "Unable to exchange external code", f["error_description"]);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task DeniedConsent_ProviderErrorPassedOn(string provider)
    {
        NewPerson(provider);
        server.Fake.Deny[provider] = true;

        var response = await BrowseAsync($"/authorize?provider={provider}&redirect_to={Uri.EscapeDataString(App)}");

        var f = Fragment(response);
        Assert.StartsWith(App + "?", response.Headers.Location!.ToString());
        if (provider == "twitter")
        {
            // Twitter's `?denied=<token>` carries no OAuth error: GoTrue finds no matching request token.
            Assert.Equal("server_error", f["error"]);
            Assert.Equal("Request token doesn't match token in callback", f["error_description"]);
            return;
        }
        Assert.Equal("access_denied", f["error"]);
        Assert.Equal("The user denied the request", f["error_description"]);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task ManualLinking_AddsTheIdentity(string provider)
    {
        var email = AuthServerFixture.NewEmail("link-" + provider.Replace('_', '-'));
        await server.Db.InsertEmailUserAsync(email, "Passw0rd!x");
        var bearer = (string)(await server.SignInAsync(email, "Passw0rd!x"))["access_token"]!;
        var person = NewPerson(provider);
        using var client = server.CreateClient(bearer: bearer);
        var url = (string)(await server.OkJsonAsync(await client.GetAsync(
            $"/user/identities/authorize?provider={provider}&skip_http_redirect=true&redirect_to={Uri.EscapeDataString(App)}")))["url"]!;

        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var atProvider = await browser.GetAsync(url);
        using var callback = server.CreateClient();
        var done = await callback.GetAsync(atProvider.Headers.Location!.PathAndQuery);

        Assert.Equal(HttpStatusCode.Found, done.StatusCode);
        var user = await server.OkJsonAsync(await client.GetAsync("/user"));
        Assert.Contains(user["identities"]!.AsArray(), i => (string?)i!["provider"] == provider
            && (string?)i["identity_data"]!["sub"] == Sub(provider, person));
    }

    [Trait("catalogue", "IP3")]
    [Fact]
    public async Task GitHub_VerifiedSecondaryEmailOfExistingUser_LinksToThatUser()
    {
        // The fake's GitHub answers the primary address and a verified secondary `other-<primary>`.
        var person = NewPerson("github");
        var existing = await server.Db.InsertEmailUserAsync("other-" + person.Email, "Passw0rd!x");

        var f = Fragment(await BrowseAsync($"/authorize?provider=github&redirect_to={Uri.EscapeDataString(App)}"));

        Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
        Assert.False(f.ContainsKey("signup"));
        Assert.Equal(existing, await server.Db.ScalarAsync<Guid>(
            "select user_id from auth.identities where provider = 'github' and provider_id = @id", new { id = person.Id }));
        Assert.Equal("other-" + person.Email, await server.Db.ScalarAsync<string>("select email from auth.users where id = @existing", new { existing }));
    }

    [Trait("catalogue", "IP3")]
    [Fact]
    public async Task GitLab_UnverifiedSecondaryEmailOfExistingUser_DoesNotLink()
    {
        // GitLab's secondary addresses carry no confirmation status: GoTrue records them unverified.
        var person = NewPerson("gitlab");
        var existing = await server.Db.InsertEmailUserAsync("secondary-" + person.Email, "Passw0rd!x");

        var f = Fragment(await BrowseAsync($"/authorize?provider=gitlab&redirect_to={Uri.EscapeDataString(App)}"));

        Assert.Equal("true", f["signup"]);
        var owner = await server.Db.ScalarAsync<Guid>(
            "select user_id from auth.identities where provider = 'gitlab' and provider_id = @id", new { id = person.Id });
        Assert.NotEqual(existing, owner);
        Assert.Equal(person.Email, await server.Db.ScalarAsync<string>("select email from auth.users where id = @owner", new { owner }));
    }

    [Trait("catalogue", "IP3")]
    [Fact]
    public async Task GitHub_UnverifiedPrimaryButVerifiedSecondaryOfExistingUser_Links()
    {
        var person = NewPerson("github", verified: false);
        var existing = await server.Db.InsertEmailUserAsync("other-" + person.Email, "Passw0rd!x");

        var f = Fragment(await BrowseAsync($"/authorize?provider=github&redirect_to={Uri.EscapeDataString(App)}"));

        Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
        Assert.Equal(existing, await server.Db.ScalarAsync<Guid>(
            "select user_id from auth.identities where provider = 'github' and provider_id = @id", new { id = person.Id }));
    }

    [Fact]
    public async Task Authorize_UnknownProvider_ReferenceError()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/authorize?provider=myspace"), 400, "validation_failed",
            "Unsupported provider: Provider myspace could not be found");
    }

    [Fact]
    public async Task IdTokenGrant_PlainOAuthProvider_NotAllowed()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=id_token",
            new { provider = "github", id_token = "x.y.z" }), 400, "validation_failed", "Custom OIDC provider \"github\" not allowed");
    }

    [Fact]
    public async Task Settings_ListsTheEnabledProviders()
    {
        using var client = server.CreateClient();
        var external = (await server.OkJsonAsync(await client.GetAsync("/settings")))["external"]!;

        foreach (var name in new[] { "github", "gitlab", "bitbucket", "discord", "azure", "workos", "x", "vercel_marketplace" })
            Assert.True((bool)external[name]!, name);
        Assert.False((bool)external["google"]!);
    }

    [Fact]
    public async Task GitHub_IdentityDataAsTheReferenceMapsIt()
    {
        var person = NewPerson("github");

        var f = Fragment(await BrowseAsync($"/authorize?provider=github&scopes=repo,read:org"));

        Assert.Equal("user:email repo read:org", server.Fake.LastAuthorize["github"]["scope"]);
        var data = (await server.Db.SingleAsync<string>(
            "select identity_data::text from auth.identities where provider = 'github' and provider_id = @id", new { id = person.Id }));
        var json = JsonNode.Parse(data)!;
        Assert.Equal(server.Fake.Url("github") + "/api/v3", (string?)json["iss"]);
        Assert.Equal("octo" + person.Id, (string?)json["user_name"]);
        Assert.Equal("octo" + person.Id, (string?)json["preferred_username"]);
        Assert.Equal(person.Name, (string?)json["full_name"]);
        Assert.Equal(person.Id, (string?)json["provider_id"]);
        Assert.Equal(person.Email, (string?)json["email"]); // the primary one of the two
        Assert.True(f.ContainsKey("access_token"));
    }
}
