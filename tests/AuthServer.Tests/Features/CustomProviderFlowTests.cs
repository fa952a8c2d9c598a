using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Web;
using AuthServer.Config;
using AuthServer.Security;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AuthServer.Tests.Features;

/// <summary>
/// An HTTPS identity provider on loopback (certificate from a CA made for this run) for admin-defined providers,
/// which must use https endpoints. The server runs in-process, so it trusts that CA through a test-only
/// HttpClient handler given to its IdTokens (the one outbound client for providers); no setting of the server
/// loosens certificate validation. Mailer autoconfirm off, manual linking on.
/// </summary>
public sealed class CustomProviderFlowFixture : AuthServerFixture, IAsyncLifetime
{
    public TestTls Tls { get; } = new();
    public OidcIssuer Idp { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string> settings)
    {
        Idp = OidcIssuer.Start(Tls.ServerCertificate);
        settings["GOTRUE_MAILER_AUTOCONFIRM"] = "false";
        settings["GOTRUE_SECURITY_MANUAL_LINKING_ENABLED"] = "true";
        settings["GOTRUE_INTERNAL_HTTP_TIMEOUT"] = "60s"; // first discovery + JWKS fetch on a loaded machine
        settings["GOTRUE_CUSTOM_OAUTH_ENABLED"] = "true";
        // Custom provider secrets are stored only encrypted (GoTrue SetClientSecret).
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT"] = "true";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY_ID"] = "k1";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY"] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS"] = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    }

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.RemoveAll<IdTokens>();
        services.AddSingleton(sp => new IdTokens(sp.GetRequiredService<ExternalOptions>(), Tls.CreateHandler()));
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (Idp is not null) await Idp.DisposeAsync();
        Tls.Dispose();
    }
}

/// <summary>
/// `/authorize?provider=custom:&lt;identifier&gt;` → provider → `/callback` for both custom provider types
/// (GoTrue `provider/custom_oauth.go`, `external.go` loadCustomProvider): sign-up, returning sign-in with PKCE,
/// manual linking, attribute_mapping, and each failure with its error.
/// </summary>
public sealed class CustomProviderFlowTests(CustomProviderFlowFixture server) : IClassFixture<CustomProviderFlowFixture>
{
    const string App = "http://localhost:3000/app";
    static readonly string Admin = TestKeys.ServiceRoleKey();
    OidcIssuer Idp => server.Idp;

    public static TheoryData<string> Types => ["oauth2", "oidc"];

    async Task<string> CreateAsync(string type, object? extra = null)
    {
        var id = $"custom:{type}-{Guid.NewGuid().ToString("N")[..8]}";
        var body = new JsonObject
        {
            ["provider_type"] = type,
            ["identifier"] = id,
            ["name"] = "Acme " + type,
            ["client_id"] = OidcIssuer.ClientId,
            ["client_secret"] = OidcIssuer.ClientSecret,
            ["scopes"] = new JsonArray("profile", "email"),
        };
        if (type == "oidc") body["issuer"] = Idp.Issuer;
        else
        {
            body["authorization_url"] = Idp.Issuer + "/authorize";
            body["token_url"] = Idp.Issuer + "/token";
            body["userinfo_url"] = Idp.Issuer + "/userinfo";
        }
        if (extra is not null)
            foreach (var (k, v) in System.Text.Json.JsonSerializer.SerializeToNode(extra)!.AsObject()) body[k] = v?.DeepClone();
        using var client = server.CreateClient(bearer: Admin);
        var response = await client.PostAsJsonAsync("/admin/custom-providers", body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return id;
    }

    /// Who logs in at the provider next: standard claims plus one the Claims struct does not have.
    JsonObject NextUser(bool verified = true, bool email = true, string? aud = null)
    {
        var user = new JsonObject
        {
            ["sub"] = "u-" + Guid.NewGuid().ToString("N"),
            ["name"] = "Ada Lovelace",
            ["nickname"] = "ada",
            ["picture"] = "https://pictures.example/ada.png",
            ["department"] = "Analytical Engines",
        };
        if (email)
        {
            user["email"] = AuthServerFixture.NewEmail("custom");
            user["email_verified"] = verified;
        }
        if (aud is not null) user["aud"] = aud;
        Idp.NextUser = user;
        return user;
    }

    HttpClient Browser() => new(server.Tls.CreateHandler());

    /// The browser: our /authorize, the provider's authorize page, back to our /callback.
    async Task<HttpResponseMessage> BrowseAsync(string authorizeUrl, string? bearer = null, Func<Uri, Task>? atProvider = null)
    {
        using var client = server.CreateClient(bearer: bearer);
        var start = await client.GetAsync(authorizeUrl);
        Assert.True(start.StatusCode == HttpStatusCode.Found, await start.Content.ReadAsStringAsync());
        return await FollowAsync(start.Headers.Location!, atProvider);
    }

    async Task<HttpResponseMessage> FollowAsync(Uri providerUrl, Func<Uri, Task>? atProvider = null)
    {
        using var browser = Browser();
        var back = await browser.GetAsync(providerUrl);
        Assert.Equal(HttpStatusCode.Found, back.StatusCode);
        if (atProvider is not null) await atProvider(back.Headers.Location!);
        using var callback = server.CreateClient();
        return await callback.GetAsync(back.Headers.Location!.PathAndQuery);
    }

    static Dictionary<string, string> Fragment(HttpResponseMessage response) => ApiAssert.RedirectFragment(response);

    static string Authorize(string id, string extra = "") => $"/authorize?provider={id}&redirect_to={Uri.EscapeDataString(App)}{extra}";

    async Task<JsonObject> IdentityDataAsync(string provider, string sub) => JsonNode.Parse(await server.Db.SingleAsync<string>(
        "select identity_data::text from auth.identities where provider = @provider and provider_id = @sub", new { provider, sub }))!.AsObject();

    [Theory]
    [MemberData(nameof(Types))]
    public async Task SignUp_ThenReturningSignInWithPkce(string type)
    {
        var id = await CreateAsync(type);
        var person = NextUser();

        var first = Fragment(await BrowseAsync(Authorize(id)));

        var q = Idp.LastAuthorizeQuery!;
        Assert.Equal("http://localhost:9999/callback", q["redirect_uri"]);
        Assert.Equal(type == "oidc" ? "openid profile email" : "profile email", q["scope"]);
        Assert.Equal("S256", q["code_challenge_method"]); // pkce_enabled defaults to true
        Assert.True(first.ContainsKey("access_token"), string.Join("&", first));
        Assert.Equal("true", first["signup"]);
        using var authed = server.CreateClient(bearer: first["access_token"]);
        var user = await server.OkJsonAsync(await authed.GetAsync("/user"));
        Assert.Equal((string?)person["email"], (string?)user["email"]);
        Assert.Equal(id, (string?)user["app_metadata"]!["provider"]);
        Assert.Equal("Ada Lovelace", (string?)user["user_metadata"]!["name"]);
        var data = (await IdentityDataAsync(id, (string)person["sub"]!));
        Assert.Equal((string?)person["sub"], (string?)data["sub"]);
        Assert.Equal((string?)person["email"], (string?)data["email"]);
        Assert.True((bool)data["email_verified"]!);
        Assert.False((bool)data["phone_verified"]!);
        Assert.Equal("ada", (string?)data["nickname"]);
        Assert.Equal("https://pictures.example/ada.png", (string?)data["picture"]);
        Assert.False(data.ContainsKey("department")); // not a field of GoTrue's provider.Claims
        // Nothing is added that the provider did not say (no iss/provider_id/avatar_url of ours); the ID token's own
        // registered claims are part of provider.Claims.
        Assert.Equal(type == "oidc" ? Idp.Issuer : null, (string?)data["iss"]);
        Assert.Equal(type == "oidc" ? OidcIssuer.ClientId : null, (string?)data["aud"]);
        Assert.False(data.ContainsKey("provider_id"));
        Assert.False(data.ContainsKey("avatar_url"));

        // Returning user, PKCE flow: ?code= and no signup marker, exchanged for the same user's session.
        var (verifier, challenge) = EmailFixture.NewPkcePair();
        var again = await BrowseAsync(Authorize(id, $"&code_challenge={challenge}&code_challenge_method=s256"));
        var query = HttpUtility.ParseQueryString(again.Headers.Location!.Query);
        Assert.Null(query["signup"]);
        using var client = server.CreateClient();
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=pkce",
            new { auth_code = query["code"], code_verifier = verifier }));
        Assert.Equal((string?)user["id"], (string?)session["user"]!["id"]);
    }

    [Fact]
    public async Task Oidc_NoIdTokenInTheAnswer_ReadsTheDiscoveredUserinfo()
    {
        var id = await CreateAsync("oidc");
        var person = NextUser();
        Idp.ReturnIdToken = false;
        try
        {
            var f = Fragment(await BrowseAsync(Authorize(id)));

            Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
            var data = await IdentityDataAsync(id, (string)person["sub"]!);
            Assert.Equal("Ada Lovelace", (string?)data["name"]);
            Assert.False(data.ContainsKey("iss")); // the userinfo answer has none
        }
        finally
        {
            Idp.ReturnIdToken = true;
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task ManualLinking_AddsTheIdentity(string type)
    {
        var id = await CreateAsync(type);
        var email = AuthServerFixture.NewEmail("link");
        await server.Db.InsertEmailUserAsync(email, "Passw0rd!x");
        var bearer = (string)(await server.SignInAsync(email, "Passw0rd!x"))["access_token"]!;
        var person = NextUser();
        using var client = server.CreateClient(bearer: bearer);
        var url = (string)(await server.OkJsonAsync(await client.GetAsync(
            $"/user/identities/authorize?provider={id}&skip_http_redirect=true&redirect_to={Uri.EscapeDataString(App)}")))["url"]!;

        var done = await FollowAsync(new Uri(url));

        Assert.Equal(HttpStatusCode.Found, done.StatusCode);
        Assert.DoesNotContain("error", done.Headers.Location!.ToString());
        var user = await server.OkJsonAsync(await client.GetAsync("/user"));
        Assert.Equal(email, (string?)user["email"]); // the provider's email does not replace the account's
        Assert.Contains(user["identities"]!.AsArray(), i => (string?)i!["provider"] == id
            && (string?)i["identity_data"]!["sub"] == (string?)person["sub"]);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task UnverifiedEmail_ProviderEmailNeedsVerification(string type)
    {
        var id = await CreateAsync(type);
        NextUser(verified: false);

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.Equal("access_denied", f["error"]);
        Assert.Equal("provider_email_needs_verification", f["error_code"]);
    }

    [Fact]
    public async Task OAuth2_MissingEmail_ServerErrorUnlessEmailOptional()
    {
        var id = await CreateAsync("oauth2");
        NextUser(email: false);

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.Equal("server_error", f["error"]);
        Assert.Equal("unexpected_failure", f["error_code"]);
        Assert.Equal("Error getting user email from external provider", f["error_description"]);

        var optional = await CreateAsync("oauth2", new { email_optional = true });
        var person = NextUser(email: false);
        var ok = Fragment(await BrowseAsync(Authorize(optional)));
        Assert.True(ok.ContainsKey("access_token"), string.Join("&", ok));
        Assert.Equal("true", ok["signup"]);
        Assert.Null((await IdentityDataAsync(optional, (string)person["sub"]!))["email"]);
    }

    [Theory]
    [InlineData("sub", 12345)]
    [InlineData("email_verified", "true")]
    public async Task OAuth2_UserinfoClaimOfTheWrongType_ProfileError(string claim, object value)
    {
        // GoTrue decodes the answer into its typed provider.Claims: a string `sub` and a boolean `email_verified`.
        var id = await CreateAsync("oauth2");
        var person = NextUser();
        person[claim] = System.Text.Json.JsonSerializer.SerializeToNode(value);
        Idp.ReturnIdToken = false; // the fake's ID token needs a string sub; an OAuth2 provider ignores it anyway
        try
        {
            var f = Fragment(await BrowseAsync(Authorize(id)));

            Assert.Equal("server_error", f["error"]);
            Assert.Equal("unexpected_failure", f["error_code"]);
            Assert.Equal("Error getting user profile from external provider", f["error_description"]);
        }
        finally
        {
            Idp.ReturnIdToken = true;
        }
    }

    [Fact]
    public async Task Oidc_IdTokenWithoutEmail_ProfileErrorEvenWhenEmailOptional()
    {
        // GoTrue's generic ID-token parser requires an email before email_optional is looked at.
        var id = await CreateAsync("oidc", new { email_optional = true });
        NextUser(email: false);

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.Equal("server_error", f["error"]);
        Assert.Equal("unexpected_failure", f["error_code"]);
        Assert.Equal("Error getting user profile from external provider", f["error_description"]);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task DeniedConsent_ProviderErrorPassedOn(string type)
    {
        var id = await CreateAsync(type);
        NextUser();
        Idp.DenyNext = true;

        var response = await BrowseAsync(Authorize(id));

        Assert.StartsWith(App + "?", response.Headers.Location!.ToString());
        var f = Fragment(response);
        Assert.Equal("access_denied", f["error"]);
        Assert.Equal("The user denied the request", f["error_description"]);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task ProviderRefusesTheCode_UnableToExchange(string type)
    {
        var id = await CreateAsync(type);
        NextUser();
        using var client = server.CreateClient();
        var start = await client.GetAsync(Authorize(id));
        var state = HttpUtility.ParseQueryString(start.Headers.Location!.Query)["state"];

        // A code the provider never issued: its token endpoint answers invalid_grant (to Basic and to the form).
        var f = Fragment(await client.GetAsync($"/callback?code=forged&state={state}"));

        Assert.Equal("server_error", f["error"]);
        Assert.Equal("unexpected_failure", f["error_code"]);
        Assert.Equal("Unable to exchange external code", f["error_description"]);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task DisabledBetweenAuthorizeAndCallback_UnsupportedProvider(string type)
    {
        var id = await CreateAsync(type);
        NextUser();
        using var admin = server.CreateClient(bearer: Admin);

        var f = Fragment(await BrowseAsync(Authorize(id), atProvider: async _ =>
            await server.OkJsonAsync(await admin.PutAsJsonAsync($"/admin/custom-providers/{id}", new { enabled = false }))));

        Assert.Equal("invalid_request", f["error"]);
        Assert.Equal("oauth_provider_not_supported", f["error_code"]);
        Assert.Equal($"Unsupported provider: custom provider {id} is disabled", f["error_description"]);
    }

    [Fact]
    [Trait("catalogue", "CP1")]
    public async Task Oidc_IdTokenForAnotherClient_Refused()
    {
        var id = await CreateAsync("oidc");
        NextUser(aud: "someone-else");

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.Equal("server_error", f["error"]);
        Assert.Equal("unexpected_failure", f["error_code"]);
        Assert.Equal("Error getting user profile from external provider", f["error_description"]);
    }

    [Fact]
    [Trait("catalogue", "CP1")]
    public async Task Oidc_IdTokenForAnAcceptableClientId_Accepted()
    {
        var id = await CreateAsync("oidc", new { acceptable_client_ids = new[] { "mobile-app" } });
        NextUser(aud: "mobile-app");

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
    }

    /// `grant_type=id_token` with `provider=custom:<id>` (GoTrue token_oidc.go): a token of the custom OIDC provider's
    /// issuer for one of its client ids signs the user up; one for another audience is refused.
    [Fact]
    public async Task IdTokenGrant_CustomOidcProvider_SignsUpAndRefusesAnotherAudience()
    {
        var id = await CreateAsync("oidc", new { acceptable_client_ids = new[] { "mobile-app" } });
        var email = AuthServerFixture.NewEmail("custom-idt");
        var sub = "u-" + Guid.NewGuid().ToString("N");
        using var client = server.CreateClient();

        var ok = await client.PostAsJsonAsync("/token?grant_type=id_token",
            new { provider = id, id_token = Idp.Sign(Idp.Claims("mobile-app", sub, email)) });
        var body = JsonNode.Parse(await ok.Content.ReadAsStringAsync())!.AsObject();
        Assert.True(ok.StatusCode == HttpStatusCode.OK, body.ToJsonString());
        Assert.Equal(email, (string?)body["user"]!["email"]);
        Assert.Equal(id, (string?)body["user"]!["app_metadata"]!["provider"]);

        var refused = await client.PostAsJsonAsync("/token?grant_type=id_token",
            new { provider = id, id_token = Idp.Sign(Idp.Claims("someone-else", sub, email)) });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(1, await server.Db.ScalarAsync<int>("select count(*)::int from auth.identities where provider_id = @sub", new { sub }));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task AttributeMapping_AppliedToTheClaims(string type)
    {
        var id = await CreateAsync(type, new
        {
            attribute_mapping = new Dictionary<string, object>
            {
                ["name"] = "nickname", // source claim copied
                ["avatar_url"] = "picture",
                ["user_name"] = "no_such_claim", // missing source: target left as it was (absent)
                ["given_name"] = "department", // not a provider.Claims field, so not a source either
                ["custom_claims"] = new { tier = "gold" }, // non-string: a literal
                ["organisation"] = "name", // not a provider.Claims field: dropped
            },
        });
        var person = NextUser();

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
        var data = await IdentityDataAsync(id, (string)person["sub"]!);
        Assert.Equal("ada", (string?)data["name"]);
        Assert.Equal("ada", (string?)data["nickname"]);
        Assert.Equal("https://pictures.example/ada.png", (string?)data["avatar_url"]);
        Assert.Equal("gold", (string?)data["custom_claims"]!["tier"]);
        Assert.False(data.ContainsKey("user_name"));
        Assert.False(data.ContainsKey("given_name"));
        Assert.False(data.ContainsKey("department"));
        Assert.False(data.ContainsKey("organisation"));
        using var authed = server.CreateClient(bearer: f["access_token"]);
        var user = await server.OkJsonAsync(await authed.GetAsync("/user"));
        Assert.Equal("ada", (string?)user["user_metadata"]!["name"]); // user_metadata gets the mapped identity data
        Assert.Equal("https://pictures.example/ada.png", (string?)user["user_metadata"]!["avatar_url"]);
    }

    [Fact]
    public async Task AttributeMapping_WrongTypeForAField_WholeMappingIgnored()
    {
        var id = await CreateAsync("oauth2", new
        {
            attribute_mapping = new Dictionary<string, object> { ["nickname"] = 42, ["avatar_url"] = "picture" },
        });
        var person = NextUser();

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
        var data = await IdentityDataAsync(id, (string)person["sub"]!);
        Assert.Equal("ada", (string?)data["nickname"]);
        Assert.False(data.ContainsKey("avatar_url"));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task AttributeMapping_Email_ChangesTheUserinfoEmailButNotTheIdTokenOne(string type)
    {
        var id = await CreateAsync(type, new { attribute_mapping = new Dictionary<string, object> { ["email"] = "preferred_username" } });
        var person = NextUser();
        var alias = AuthServerFixture.NewEmail("alias");
        person["preferred_username"] = alias;

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
        using var authed = server.CreateClient(bearer: f["access_token"]);
        var user = await server.OkJsonAsync(await authed.GetAsync("/user"));
        // GoTrue takes the userinfo email after the mapping, the ID token's before it.
        Assert.Equal(type == "oauth2" ? alias : (string?)person["email"], (string?)user["email"]);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public async Task Authorize_ScopesQueryReplacesTheStoredScopes(string type)
    {
        var id = await CreateAsync(type);
        using var client = server.CreateClient();

        var response = await client.GetAsync($"/authorize?provider={id}&scopes={Uri.EscapeDataString("read groups")}");

        var q = HttpUtility.ParseQueryString(response.Headers.Location!.Query);
        Assert.Equal(type == "oidc" ? "openid read groups" : "read groups", q["scope"]);
    }

    [Fact]
    public async Task Authorize_AuthorizationParamsWinOverTheQuery()
    {
        var id = await CreateAsync("oauth2", new { authorization_params = new { audience = "api", prompt = "consent" } });
        using var client = server.CreateClient();

        var response = await client.GetAsync($"/authorize?provider={id}&audience=other&login_hint=ada");

        var q = HttpUtility.ParseQueryString(response.Headers.Location!.Query);
        Assert.Equal("api", q["audience"]);
        Assert.Equal("consent", q["prompt"]);
        Assert.Equal("ada", q["login_hint"]);
    }

    [Fact]
    public async Task PkceDisabled_NoChallengeSentAndTheExchangeWorks()
    {
        var id = await CreateAsync("oauth2", new { pkce_enabled = false });
        NextUser();

        var f = Fragment(await BrowseAsync(Authorize(id)));

        Assert.Null(Idp.LastAuthorizeQuery!["code_challenge"].FirstOrDefault());
        Assert.True(f.ContainsKey("access_token"), string.Join("&", f));
    }

    [Fact]
    public async Task TokenEndpoint_HttpBasicFirst_FormWhenRefused()
    {
        // Go oauth2's auto-detection: Basic first; this provider takes only the form, so the second try.
        var id = await CreateAsync("oauth2");
        NextUser();
        Assert.True(Fragment(await BrowseAsync(Authorize(id))).ContainsKey("access_token"));
        Assert.Equal("form", Idp.LastTokenAuth);

        Idp.AcceptBasicAuth = true;
        try
        {
            NextUser();
            Assert.True(Fragment(await BrowseAsync(Authorize(id))).ContainsKey("access_token"));
            Assert.Equal("basic", Idp.LastTokenAuth);
        }
        finally
        {
            Idp.AcceptBasicAuth = false;
        }
    }

    [Fact]
    [Trait("catalogue", "CP2")]
    public async Task ProviderCertificateFromAnotherAuthority_ServerRefusesIt()
    {
        // The server trusts the test CA through its handler only: an issuer whose certificate another CA signed
        // stays unreachable, so certificate validation is on.
        using var otherTls = new TestTls();
        await using var stranger = OidcIssuer.Start(otherTls.ServerCertificate);
        var id = $"custom:stranger-{Guid.NewGuid().ToString("N")[..8]}";
        using (var admin = server.CreateClient(bearer: Admin))
        {
            var created = await admin.PostAsJsonAsync("/admin/custom-providers", new
            {
                provider_type = "oidc",
                identifier = id,
                name = "Stranger",
                client_id = OidcIssuer.ClientId,
                client_secret = OidcIssuer.ClientSecret,
                issuer = stranger.Issuer,
            });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/authorize?provider={id}"), 503, "unexpected_failure",
            "Unable to reach the identity provider, please retry");
        Assert.Equal(0, stranger.JwksHits);
    }
}
