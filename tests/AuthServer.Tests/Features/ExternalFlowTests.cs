using System.Net;
using System.Text.Json.Nodes;
using System.Web;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>`GET /authorize` → local issuer → `GET /callback`, driven by an HTTP client acting as the browser.</summary>
public sealed class ExternalFlowTests(OidcFixture server) : IClassFixture<OidcFixture>
{
    const string App = "http://localhost:3000/app";

    /// <summary>Follows the provider's redirect back to our /callback; returns our final response.</summary>
    async Task<HttpResponseMessage> BrowseAsync(string authorizeUrl, string? bearer = null)
    {
        using var client = server.CreateClient(bearer: bearer);
        var start = await client.GetAsync(authorizeUrl);
        Assert.True(start.StatusCode == HttpStatusCode.Found, await start.Content.ReadAsStringAsync());
        return await FollowProviderAsync(start.Headers.Location!);
    }

    async Task<HttpResponseMessage> FollowProviderAsync(Uri providerAuthorize)
    {
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var atProvider = await browser.GetAsync(providerAuthorize);
        Assert.Equal(HttpStatusCode.Found, atProvider.StatusCode);
        // redirect_uri is API_EXTERNAL_URL/callback; the test server listens elsewhere.
        using var client = server.CreateClient();
        return await client.GetAsync(atProvider.Headers.Location!.PathAndQuery);
    }

    static Dictionary<string, string> Fragment(Uri location) => ApiAssert.Fragment(location);

    /// One redirect check for OAuth and email flows (Http/Redirects, api.md §5.1): an unlisted target falls back
    /// to the site URL, a loopback IP passes.
    [Theory]
    [InlineData("https://evil.example.com/app", "http://localhost:3000#")]
    [InlineData("http://2130706433/app", "http://localhost:3000#")]
    [InlineData("http://127.0.0.1:4000/cb", "http://127.0.0.1:4000/cb#")]
    public async Task Callback_RedirectTo_AllowedOrFallsBackToSiteUrl(string redirectTo, string expectedPrefix)
    {
        server.Google.NextUser = new JsonObject
        {
            ["sub"] = "r-" + Guid.NewGuid().ToString("N"),
            ["email"] = OidcFixture.NewEmail("redir"),
            ["email_verified"] = true,
        };

        var response = await BrowseAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(redirectTo)}");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.StartsWith(expectedPrefix + "access_token=", response.Headers.NonValidated["Location"].ToString());
    }

    [Fact]
    public async Task Authorize_Google_RedirectsToProviderWithStateAndPkce()
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(App)}&scopes=calendar&access_type=offline&prompt=consent");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith(server.Google.Issuer + "/authorize?", location.ToString());
        var q = HttpUtility.ParseQueryString(location.Query);
        Assert.Equal(OidcIssuer.ClientId, q["client_id"]);
        Assert.Equal("http://localhost:9999/callback", q["redirect_uri"]);
        Assert.Equal("code", q["response_type"]);
        Assert.Equal("openid email profile calendar", q["scope"]);
        Assert.Equal("S256", q["code_challenge_method"]);
        Assert.Equal("offline", q["access_type"]);
        Assert.Null(q["redirect_to"]);
        var flow = await server.Db.SingleAsync<(string Provider, string Method, string Referrer, string? Challenge)>(
            "select provider_type, authentication_method, referrer, code_challenge from auth.flow_state where id = @id::uuid",
            new { id = q["state"] });
        Assert.Equal(("google", "oauth", App, (string?)null), flow);
    }

    [Fact]
    public async Task Authorize_UnknownOrDisabledProvider_ValidationFailed()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/authorize?provider=myspace"), 400, "validation_failed",
            "Unsupported provider: Provider myspace could not be found");
    }

    [Fact]
    [Trait("catalogue", "P2")]
    public async Task Authorize_BadPkceParams_ValidationFailed()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/authorize?provider=google&code_challenge=short&code_challenge_method=s256"),
            400, "validation_failed", "code challenge has to be between 43 and 128 characters");
    }

    [Fact]
    public async Task Callback_ImplicitFlow_NewUserGetsSessionInFragmentWithSignupMarker()
    {
        var email = OidcFixture.NewEmail("oauth");
        server.Google.NextUser = new JsonObject { ["sub"] = "o-" + Guid.NewGuid().ToString("N"), ["email"] = email, ["email_verified"] = true };

        var response = await BrowseAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(App)}");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith(App + "#", location.ToString());
        var f = Fragment(location);
        Assert.Equal("bearer", f["token_type"]);
        Assert.Equal("true", f["signup"]);
        Assert.Equal("", f["sb"]);
        Assert.StartsWith("at-", f["provider_token"]);
        Assert.StartsWith("rt-", f["provider_refresh_token"]);
        using var authed = server.CreateClient(bearer: f["access_token"]);
        var user = await server.OkJsonAsync(await authed.GetAsync("/user"));
        Assert.Equal(email, (string?)user["email"]);
        Assert.Equal("google", (string?)user["identities"]![0]!["provider"]);
        var state = server.Google.LastAuthorizeQuery!["state"].ToString();
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.flow_state where id = @state::uuid", new { state }));

        // Second sign-in of the same person: no signup marker.
        var again = await BrowseAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(App)}");
        Assert.False(Fragment(again.Headers.Location!).ContainsKey("signup"));
    }

    [Fact]
    public async Task Callback_UserinfoWhenNoIdToken_SignsIn()
    {
        var email = OidcFixture.NewEmail("userinfo");
        server.Google.NextUser = new JsonObject { ["sub"] = "ui-" + Guid.NewGuid().ToString("N"), ["email"] = email, ["email_verified"] = true };
        server.Google.ReturnIdToken = false;
        try
        {
            var response = await BrowseAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(App)}");

            Assert.True(Fragment(response.Headers.Location!).ContainsKey("access_token"), response.Headers.Location!.ToString());
        }
        finally
        {
            server.Google.ReturnIdToken = true;
        }
    }

    [Fact]
    public async Task Callback_PkceFlow_RedirectsWithCodeAndStoresFlowState()
    {
        server.Google.NextUser = new JsonObject { ["sub"] = "p-" + Guid.NewGuid().ToString("N"), ["email"] = OidcFixture.NewEmail("pkce"), ["email_verified"] = true };
        var challenge = new string('a', 43);

        using var client = server.CreateClient();
        var start = await client.GetAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(App)}&code_challenge={challenge}&code_challenge_method=S256");
        var state = HttpUtility.ParseQueryString(start.Headers.Location!.Query)["state"]!;
        var response = await FollowProviderAsync(start.Headers.Location!);

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var q = HttpUtility.ParseQueryString(response.Headers.Location!.Query);
        var row = await server.Db.SingleAsync<(string AuthCode, Guid? UserId, DateTime? IssuedAt, string? ProviderToken, string Method)>(
            "select auth_code, user_id, auth_code_issued_at, provider_access_token, code_challenge_method::text from auth.flow_state where id = @state::uuid",
            new { state });
        Assert.Equal(row.AuthCode, q["code"]);
        Assert.Equal("true", q["signup"]);
        Assert.NotNull(row.UserId);
        Assert.NotNull(row.IssuedAt);
        Assert.StartsWith("at-", row.ProviderToken);
        Assert.Equal("s256", row.Method);

        // The same state again: already used.
        using var replay = server.CreateClient();
        var again = await replay.GetAsync($"/callback?state={state}&code=whatever");
        Assert.Equal(HttpStatusCode.SeeOther, again.StatusCode);
        Assert.Contains("error_code=flow_state_already_used", again.Headers.Location!.Query);
    }

    [Theory]
    [InlineData("", "bad_oauth_callback")]
    [InlineData("?state=not-a-uuid&code=x", "bad_oauth_state")]
    [InlineData("?state=6f1c3c2e-0000-4000-8000-000000000000&code=x", "bad_oauth_state")]
    public async Task Callback_BadState_SeeOtherToSiteUrl(string query, string errorCode)
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync("/callback" + query);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith("http://localhost:3000/?", location.ToString());
        var q = HttpUtility.ParseQueryString(location.Query);
        Assert.Equal("invalid_request", q["error"]);
        Assert.Equal(errorCode, q["error_code"]);
    }

    [Fact]
    public async Task Callback_ExpiredState_BadOAuthState()
    {
        using var client = server.CreateClient();
        var start = await client.GetAsync("/authorize?provider=google");
        var state = HttpUtility.ParseQueryString(start.Headers.Location!.Query)["state"];
        await server.Db.ExecuteAsync("update auth.flow_state set created_at = created_at - interval '301 seconds' where id = @state::uuid", new { state });

        var response = await client.GetAsync($"/callback?state={state}&code=x");

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Contains("error_code=bad_oauth_state", response.Headers.Location!.Query);
    }

    [Fact]
    public async Task Callback_ProviderError_RedirectsWithErrorInQueryAndFragment()
    {
        using var client = server.CreateClient();
        var start = await client.GetAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(App)}");
        var state = HttpUtility.ParseQueryString(start.Headers.Location!.Query)["state"];

        var response = await client.GetAsync($"/callback?state={state}&error=access_denied&error_description=User+said+no");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith(App + "?", location.ToString());
        Assert.Equal("User said no", HttpUtility.ParseQueryString(location.Query)["error_description"]);
        Assert.Equal("access_denied", Fragment(location)["error"]);
    }

    [Fact]
    public async Task Callback_BadCode_ServerErrorRedirect()
    {
        using var client = server.CreateClient();
        var start = await client.GetAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(App)}");
        var state = HttpUtility.ParseQueryString(start.Headers.Location!.Query)["state"];

        var response = await client.GetAsync($"/callback?state={state}&code=forged");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var q = HttpUtility.ParseQueryString(response.Headers.Location!.Query);
        Assert.Equal("server_error", q["error"]);
        Assert.Equal("Unable to exchange external code", q["error_description"]);
    }

    [Fact]
    public async Task Callback_PostForm_AcceptsStateAndCode()
    {
        server.Google.NextUser = new JsonObject { ["sub"] = "post-" + Guid.NewGuid().ToString("N"), ["email"] = OidcFixture.NewEmail("post"), ["email_verified"] = true };
        using var client = server.CreateClient();
        var start = await client.GetAsync($"/authorize?provider=google&redirect_to={Uri.EscapeDataString(App)}");
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var back = HttpUtility.ParseQueryString((await browser.GetAsync(start.Headers.Location!)).Headers.Location!.Query);

        var response = await client.PostAsync("/callback", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["state"] = back["state"]!,
            ["code"] = back["code"]!,
        }));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.True(Fragment(response.Headers.Location!).ContainsKey("access_token"));
    }

    [Fact]
    public async Task LinkIdentity_ByOAuth_AddsIdentityToSignedInUser()
    {
        var (_, _, session) = await NewConfirmedUserAsync();
        var sub = "link-" + Guid.NewGuid().ToString("N");
        server.Google.NextUser = new JsonObject { ["sub"] = sub, ["email"] = OidcFixture.NewEmail("other"), ["email_verified"] = true };
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var url = (string)(await server.OkJsonAsync(await client.GetAsync(
            $"/user/identities/authorize?provider=google&skip_http_redirect=true&redirect_to={Uri.EscapeDataString(App)}")))["url"]!;
        var response = await FollowProviderAsync(new Uri(url));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.True(Fragment(response.Headers.Location!).ContainsKey("access_token"), response.Headers.Location!.ToString());
        var owner = await server.Db.ScalarAsync<Guid>("select user_id from auth.identities where provider_id = @sub", new { sub });
        Assert.Equal((string?)session["user"]!["id"], owner.ToString());

        // Linking it again: identity_already_exists, by redirect.
        var second = (string)(await server.OkJsonAsync(await client.GetAsync("/user/identities/authorize?provider=google&skip_http_redirect=true")))["url"]!;
        var again = await FollowProviderAsync(new Uri(second));
        Assert.Contains("error_code=identity_already_exists", again.Headers.Location!.Query);
    }

    [Fact]
    [Trait("catalogue", "X1")]
    public async Task UnlinkIdentity_Rules()
    {
        var (email, userId, session) = await NewConfirmedUserAsync();
        var token = (string)session["access_token"]!;
        var emailIdentity = await server.Db.ScalarAsync<Guid>("select id from auth.identities where user_id = @userId", new { userId });

        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/user/identities/{emailIdentity}"), 422,
            "single_identity_not_deletable", "User must have at least 1 identity after unlinking", bearer: token);

        var (google, _, _) = server.GoogleToken(edit: c => c["email"] = email);
        var linked = await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = google }));
        token = (string)linked["access_token"]!;
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync("/user/identities/not-a-uuid"), 404, "validation_failed",
            "identity_id must be an UUID", bearer: token);
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/user/identities/{Guid.NewGuid()}"), 422, "identity_not_found",
            "Identity doesn't exist", bearer: token);
        await server.AssertErrorBothShapesAsync(c =>
        {
            var request = new HttpRequestMessage(HttpMethod.Delete, $"/user/identities/{emailIdentity}");
            request.Headers.Add("X-JWT-AUD", "other");
            return c.SendAsync(request);
        }, 403, "unexpected_audience", "Token audience doesn't match request audience", bearer: token);

        using var authed = server.CreateClient(bearer: token);
        var googleIdentity = await server.Db.ScalarAsync<Guid>("select id from auth.identities where user_id = @userId and provider = 'google'", new { userId });
        Assert.Equal("{}", await (await authed.DeleteAsync($"/user/identities/{googleIdentity}")).Content.ReadAsStringAsync());

        var user = await server.OkJsonAsync(await authed.GetAsync("/user"));
        ApiAssert.JsonEqual("""["email"]""", user["app_metadata"]!["providers"]);
        Assert.Equal(email, (string?)user["email"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'identity_unlinked' and payload->>'actor_id' = @id",
            new { id = userId.ToString() }));
    }

    [Fact]
    public async Task Callback_InviteToken_ConfirmsInvitedUserWithProviderIdentity()
    {
        var email = OidcFixture.NewEmail("invited");
        var invite = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(28));
        var userId = await server.Db.InsertEmailUserAsync(email, "unknown-password", confirmed: false);
        await server.Db.ExecuteAsync("update auth.users set invited_at = now(), confirmation_token = @invite where id = @userId", new { invite, userId });
        server.Google.NextUser = new JsonObject { ["sub"] = "inv-" + Guid.NewGuid().ToString("N"), ["email"] = email, ["email_verified"] = true };

        var response = await BrowseAsync($"/authorize?provider=google&invite_token={invite}&redirect_to={Uri.EscapeDataString(App)}");

        Assert.True(Fragment(response.Headers.Location!).ContainsKey("access_token"), response.Headers.Location!.ToString());
        var row = await server.Db.SingleAsync<(DateTime? ConfirmedAt, string Password)>(
            "select email_confirmed_at, encrypted_password from auth.users where id = @userId", new { userId });
        Assert.NotNull(row.ConfirmedAt);
        Assert.Equal("", row.Password);
        ApiAssert.JsonEqual("""["google"]""", JsonNode.Parse(await server.Db.ScalarAsync<string>(
            "select raw_app_meta_data->'providers' from auth.users where id = @userId", new { userId })));
    }

    [Fact]
    public async Task Callback_InviteForAnotherEmail_ValidationFailedRedirect()
    {
        var email = OidcFixture.NewEmail("invited2");
        var invite = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(28));
        var userId = await server.Db.InsertEmailUserAsync(email, "unknown-password", confirmed: false);
        await server.Db.ExecuteAsync("update auth.users set invited_at = now(), confirmation_token = @invite where id = @userId", new { invite, userId });
        server.Google.NextUser = new JsonObject { ["sub"] = "inv-" + Guid.NewGuid().ToString("N"), ["email"] = "someone@else.example", ["email_verified"] = true };

        var response = await BrowseAsync($"/authorize?provider=google&invite_token={invite}&redirect_to={Uri.EscapeDataString(App)}");

        Assert.Contains("error_code=validation_failed", response.Headers.Location!.Query);
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.identities where user_id = @userId", new { userId }));
    }

    [Fact]
    public async Task Authorize_UnknownInvite_UserNotFound() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/authorize?provider=google&invite_token=nope"), 404,
            "user_not_found", "User identified by token not found");

    [Fact]
    public async Task Authorize_Apple_AsksNameAndEmailByFormPost()
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync("/authorize?provider=apple");

        var q = HttpUtility.ParseQueryString(response.Headers.Location!.Query);
        Assert.Equal("name email", q["scope"]);
        Assert.Equal("form_post", q["response_mode"]);
        Assert.Equal(OidcFixture.AppleServiceId, q["client_id"]);
    }

    [Fact]
    public async Task Settings_ReportEnabledProviders()
    {
        using var client = server.CreateClient();

        var settings = await server.OkJsonAsync(await client.GetAsync("/settings"));

        Assert.True((bool)settings["external"]!["google"]!);
        Assert.True((bool)settings["external"]!["apple"]!);
        Assert.True((bool)settings["external"]!["anonymous_users"]!);
        Assert.False((bool)settings["external"]!["github"]!);
    }

    async Task<(string Email, Guid UserId, JsonObject Session)> NewConfirmedUserAsync()
    {
        var email = OidcFixture.NewEmail("linker");
        var userId = await server.Db.InsertEmailUserAsync(email, "password-1");
        var session = await server.SignInAsync(email, "password-1");
        return (email, userId, session);
    }
}

/// <summary>Identity routes while GOTRUE_SECURITY_MANUAL_LINKING_ENABLED is off.</summary>
public sealed class IdentityLinkingDisabledTests(OidcLockedDownFixture server) : IClassFixture<OidcLockedDownFixture>
{
    [Fact]
    [Trait("catalogue", "I9")]
    public async Task IdentityRoutes_LinkingDisabled_ManualLinkingDisabled()
    {
        var email = OidcFixture.NewEmail("nolink");
        await server.Db.InsertEmailUserAsync(email, "password-1");
        var token = (string)(await server.SignInAsync(email, "password-1"))["access_token"]!;

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user/identities/authorize?provider=google"), 404,
            "manual_linking_disabled", "Manual linking is disabled", bearer: token);
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/user/identities/{Guid.NewGuid()}"), 404,
            "manual_linking_disabled", "Manual linking is disabled", bearer: token);
    }

    [Fact]
    public async Task IdentityRoutes_NoToken_NoAuthorization() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user/identities/authorize?provider=google"), 401, "no_authorization");
}
