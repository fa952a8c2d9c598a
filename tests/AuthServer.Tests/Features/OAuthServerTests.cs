using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace AuthServer.Tests.Features;

/// <summary>The OAuth 2.1 server as local-cli-stack.env turns it on: RS256 signing key, dynamic registration,
/// consent page at SITE_URL/oauth/consent.</summary>
public sealed class OAuthServerFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_OAUTH_SERVER_ENABLED"] = "true";
        settings["GOTRUE_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION"] = "true";
        settings["GOTRUE_OAUTH_SERVER_AUTHORIZATION_PATH"] = "/oauth/consent";
        settings["GOTRUE_JWT_ISSUER"] = "http://localhost:9999/auth/v1";
        settings["GOTRUE_JWT_KEYS"] = TestKeys.Keys(TestKeys.RsaJwk(TestKeys.Rs256, TestKeys.KidRsa, sign: true));
        settings["GOTRUE_JWT_VALID_METHODS"] = "HS256,RS256";
    }
}

/// <summary>The server on, but HS256 only, no dynamic registration and no consent path.</summary>
public sealed class OAuthServerBareFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_OAUTH_SERVER_ENABLED"] = "true";
}

/// <summary>Drives the flow the way an app and its consent page do.</summary>
sealed class OAuthFlow(AuthServerFixture server)
{
    public const string Redirect = "http://localhost:4000/callback";
    public readonly string Verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
    public string Challenge => Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(Verifier)));

    public HttpClient Admin() => server.CreateClient(bearer: TestKeys.ServiceRoleKey());

    public async Task<JsonObject> RegisterAsync(object? body = null)
    {
        using var admin = Admin();
        var response = await admin.PostAsJsonAsync("/admin/oauth/clients",
            body ?? new { redirect_uris = new[] { Redirect }, client_name = "Example App" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    /// <summary>GET /oauth/authorize; returns the Location it redirects to.</summary>
    public async Task<Uri> AuthorizeAsync(string clientId, string scope = "openid email profile", string? state = "xyz",
        string? nonce = "n-0S6", string redirect = Redirect, string? challenge = null)
    {
        using var client = server.CreateClient();
        var query = $"client_id={clientId}&redirect_uri={Uri.EscapeDataString(redirect)}&response_type=code" +
            $"&scope={Uri.EscapeDataString(scope)}&code_challenge={challenge ?? Challenge}&code_challenge_method=S256" +
            (state is null ? "" : $"&state={state}") + (nonce is null ? "" : $"&nonce={nonce}");
        var response = await client.GetAsync("/oauth/authorize?" + query);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        return response.Headers.Location!;
    }

    public static string Param(Uri uri, string name) =>
        System.Web.HttpUtility.ParseQueryString(uri.Query)[name] ?? throw new InvalidOperationException($"{name} missing in {uri}");

    public async Task<string> AuthorizationIdAsync(string clientId, string scope = "openid email profile")
    {
        var location = await AuthorizeAsync(clientId, scope);
        Assert.StartsWith("http://localhost:3000/oauth/consent?authorization_id=", location.ToString());
        return Param(location, "authorization_id");
    }

    public async Task<HttpResponseMessage> DetailsAsync(string authorizationId, string accessToken)
    {
        using var client = server.CreateClient(bearer: accessToken);
        return await client.GetAsync($"/oauth/authorizations/{authorizationId}");
    }

    public async Task<HttpResponseMessage> ConsentAsync(string authorizationId, string accessToken, string action = "approve")
    {
        using var client = server.CreateClient(bearer: accessToken);
        return await client.PostAsJsonAsync($"/oauth/authorizations/{authorizationId}/consent", new { action });
    }

    /// <summary>Authorize → consent page opens it → approve; the code from the redirect.</summary>
    public async Task<string> CodeAsync(string clientId, string accessToken, string scope = "openid email profile")
    {
        var authorizationId = await AuthorizationIdAsync(clientId, scope);
        var details = await server.OkJsonAsync(await DetailsAsync(authorizationId, accessToken));
        var redirect = (string?)details["redirect_url"]
            ?? (string)(await server.OkJsonAsync(await ConsentAsync(authorizationId, accessToken)))["redirect_url"]!;
        return Param(new Uri(redirect), "code");
    }

    public async Task<HttpResponseMessage> TokenAsync(Dictionary<string, string> form, string? basicId = null, string? basicSecret = null)
    {
        using var client = server.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Post, "/oauth/token") { Content = new FormUrlEncodedContent(form) };
        if (basicId is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{basicId}:{basicSecret}")));
        return await client.SendAsync(request);
    }

    public Task<HttpResponseMessage> ExchangeAsync(JsonObject client, string code, string? verifier = null, string redirect = Redirect) =>
        TokenAsync(new()
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = redirect,
            ["code_verifier"] = verifier ?? Verifier
        }, (string)client["client_id"]!, (string)client["client_secret"]!);

    public Task<HttpResponseMessage> RefreshAsync(JsonObject client, string refreshToken) =>
        TokenAsync(new() { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken },
            (string)client["client_id"]!, (string)client["client_secret"]!);

    public static async Task OAuthErrorAsync(HttpResponseMessage response, string error, string description)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(error, (string?)body["error"]);
        Assert.Equal(description, (string?)body["error_description"]);
    }

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>`/admin/oauth/clients*` and RFC 7591 registration (GoTrue oauthserver/handlers.go, service.go).</summary>
public sealed class OAuthClientAdminTests(OAuthServerFixture server) : IClassFixture<OAuthServerFixture>
{
    readonly OAuthFlow flow = new(server);

    [Fact]
    public async Task Create_Confidential_SecretShownOnceAndStoredHashed()
    {
        var client = await flow.RegisterAsync();

        var secret = (string)client["client_secret"]!;
        Assert.Equal("confidential", (string?)client["client_type"]);
        Assert.Equal("client_secret_basic", (string?)client["token_endpoint_auth_method"]);
        Assert.Equal("manual", (string?)client["registration_type"]);
        ApiAssert.JsonEqual("""["authorization_code","refresh_token"]""", client["grant_types"]);
        ApiAssert.JsonEqual("""["code"]""", client["response_types"]);
        var stored = await server.Db.ScalarAsync<string>("select client_secret_hash from auth.oauth_clients where id = @id::uuid",
            new { id = (string)client["client_id"]! });
        Assert.Equal(Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(secret))).TrimEnd('=').Replace('+', '-').Replace('/', '_'), stored);
        using var admin = flow.Admin();
        var fetched = await server.OkJsonAsync(await admin.GetAsync($"/admin/oauth/clients/{client["client_id"]}"));
        Assert.False(fetched.ContainsKey("client_secret"));
        var list = await server.OkJsonAsync(await admin.GetAsync("/admin/oauth/clients"));
        Assert.Contains(list["clients"]!.AsArray(), c => (string?)c!["client_id"] == (string?)client["client_id"]);
    }

    [Fact]
    public async Task Create_Public_NoSecret()
    {
        var client = await flow.RegisterAsync(new { redirect_uris = new[] { "myapp://callback" }, token_endpoint_auth_method = "none" });

        Assert.Equal("public", (string?)client["client_type"]);
        Assert.Equal("none", (string?)client["token_endpoint_auth_method"]);
        Assert.False(client.ContainsKey("client_secret"));
    }

    [Theory]
    [InlineData("""{"client_name":"x"}""", "400: redirect_uris is required")]
    [InlineData("""{"redirect_uris":["http://example.com/cb"]}""", "400: invalid redirect_uri 'http://example.com/cb': HTTP scheme only allowed for localhost")]
    [InlineData("""{"redirect_uris":["javascript://x/alert"]}""", "400: invalid redirect_uri 'javascript://x/alert': scheme 'javascript' is not allowed for security reasons")]
    [InlineData("""{"redirect_uris":["https://a.example/cb"],"grant_types":["password"]}""", "400: grant_types must only contain 'authorization_code' and/or 'refresh_token'")]
    [InlineData("""{"redirect_uris":["https://a.example/cb"],"client_type":"public","token_endpoint_auth_method":"client_secret_post"}""",
        "400: client_type 'public' is inconsistent with token_endpoint_auth_method 'client_secret_post' (expected client_type 'confidential')")]
    [InlineData("""{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}""",
        "400: token_endpoint_auth_method must be one of: [none client_secret_basic client_secret_post]")]
    public async Task Create_Invalid_400ValidationFailedAndNothingStored(string body, string message)
    {
        var before = await server.Db.ScalarAsync<long>("select count(*) from auth.oauth_clients");

        await server.AssertErrorBothShapesAsync(c =>
        {
            c.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.ServiceRoleKey());
            return c.PostAsync("/admin/oauth/clients", new StringContent(body, Encoding.UTF8, "application/json"));
        }, 400, "validation_failed", message);
        Assert.Equal(before, await server.Db.ScalarAsync<long>("select count(*) from auth.oauth_clients"));
    }

    [Fact]
    public async Task Create_NotAdmin_403()
    {
        var (_, _, session) = await server.NewUserAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/admin/oauth/clients", new { redirect_uris = new[] { OAuthFlow.Redirect } }),
            403, "not_admin", "User not allowed", bearer: (string)session["access_token"]!);
    }

    [Fact]
    public async Task Get_UnknownOrMalformed_404Or400()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/admin/oauth/clients/{Guid.NewGuid()}"), 404, "oauth_client_not_found",
            "OAuth client not found", bearer: TestKeys.ServiceRoleKey());
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/oauth/clients/not-a-uuid"), 400, "validation_failed",
            "invalid client_id format", bearer: TestKeys.ServiceRoleKey());
    }

    [Fact]
    public async Task Update_Name_ChangesOnlyThat()
    {
        var client = await flow.RegisterAsync();
        using var admin = flow.Admin();

        var updated = await server.OkJsonAsync(await admin.PutAsJsonAsync($"/admin/oauth/clients/{client["client_id"]}",
            new { client_name = "Renamed" }));

        Assert.Equal("Renamed", (string?)updated["client_name"]);
        ApiAssert.JsonEqual(client["redirect_uris"]!.ToJsonString(), updated["redirect_uris"]);
        Assert.False(updated.ContainsKey("client_secret"));
    }

    [Fact]
    public async Task Update_NothingOrWrongMethod_400()
    {
        var client = await flow.RegisterAsync();
        var path = $"/admin/oauth/clients/{client["client_id"]}";

        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync(path, new { }), 400, "validation_failed",
            "No fields provided for update", bearer: TestKeys.ServiceRoleKey());
        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync(path, new { token_endpoint_auth_method = "none" }), 400,
            "validation_failed", "token_endpoint_auth_method 'none' is not valid for client_type 'confidential'; " +
            "valid methods: [client_secret_basic client_secret_post]", bearer: TestKeys.ServiceRoleKey());
    }

    [Fact]
    public async Task RegenerateSecret_NewWorksOldDoesNot()
    {
        var user = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        using var admin = flow.Admin();

        var regenerated = await server.OkJsonAsync(await admin.PostAsync($"/admin/oauth/clients/{client["client_id"]}/regenerate_secret", null));

        Assert.NotEqual((string)client["client_secret"]!, (string)regenerated["client_secret"]!);
        var code = await flow.CodeAsync((string)client["client_id"]!, (string)user.Session["access_token"]!);
        var response = await flow.ExchangeAsync(client, code);
        await ApiAssert.ErrorAsync(response, 400, "invalid_credentials", "invalid client credentials");
        await server.OkJsonAsync(await flow.ExchangeAsync(regenerated, code));
    }

    [Fact]
    public async Task RegenerateSecret_PublicClient_400()
    {
        var client = await flow.RegisterAsync(new { redirect_uris = new[] { OAuthFlow.Redirect }, client_type = "public" });

        await server.AssertErrorBothShapesAsync(c => c.PostAsync($"/admin/oauth/clients/{client["client_id"]}/regenerate_secret", null),
            400, "validation_failed", "Cannot regenerate secret for public client", bearer: TestKeys.ServiceRoleKey());
    }

    [Fact]
    public async Task Delete_ClientGone_TokensAndCodesStopWorking()
    {
        var user = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var clientId = (string)client["client_id"]!;
        var tokens = await server.OkJsonAsync(await flow.ExchangeAsync(client, await flow.CodeAsync(clientId, (string)user.Session["access_token"]!)));
        var pendingCode = await flow.CodeAsync(clientId, (string)user.Session["access_token"]!);
        using var admin = flow.Admin();

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/admin/oauth/clients/{clientId}")).StatusCode);

        await ApiAssert.ErrorAsync(await admin.GetAsync($"/admin/oauth/clients/{clientId}"), 404, "oauth_client_not_found");
        await ApiAssert.ErrorAsync(await flow.ExchangeAsync(client, pendingCode), 400, "invalid_credentials", "Invalid client credentials");
        await ApiAssert.ErrorAsync(await flow.RefreshAsync(client, (string)tokens["refresh_token"]!), 400, "invalid_credentials");
        using var bearer = server.CreateClient(bearer: (string)tokens["access_token"]!);
        await ApiAssert.ErrorAsync(await bearer.GetAsync("/oauth/userinfo"), 403, "session_not_found");
    }

    [Fact]
    public async Task DynamicRegistration_Public_201Dynamic()
    {
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/oauth/clients/register",
            new { redirect_uris = new[] { OAuthFlow.Redirect }, token_endpoint_auth_method = "none", client_name = "MCP" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("dynamic", (string?)body["registration_type"]);
        Assert.Equal("public", (string?)body["client_type"]);
    }

    [Fact]
    public async Task DynamicRegistration_BadJson_400()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/oauth/clients/register", new StringContent("{", Encoding.UTF8, "application/json")),
            400, "bad_json", "Invalid JSON body");
    }

    [Fact]
    public async Task Discovery_AuthorizationServerMetadata_SameDocumentWithRegistration()
    {
        using var client = server.CreateClient();

        var oidc = await server.OkJsonAsync(await client.GetAsync("/.well-known/openid-configuration"));
        var metadata = await server.OkJsonAsync(await client.GetAsync("/.well-known/oauth-authorization-server"));

        Assert.Equal(oidc.ToJsonString(), metadata.ToJsonString());
        Assert.Equal("http://localhost:9999/auth/v1/oauth/clients/register", (string?)metadata["registration_endpoint"]);
    }
}

/// <summary>`GET /oauth/authorize`, `GET /oauth/authorizations/{id}`, `POST …/consent` (GoTrue oauthserver/authorize.go).</summary>
public sealed class OAuthAuthorizeTests(OAuthServerFixture server) : IClassFixture<OAuthServerFixture>
{
    readonly OAuthFlow flow = new(server);

    [Fact]
    public async Task Authorize_Valid_RedirectsToConsentPageAndStoresPending()
    {
        var client = await flow.RegisterAsync();

        var authorizationId = await flow.AuthorizationIdAsync((string)client["client_id"]!);

        Assert.Equal(32, authorizationId.Length);
        Assert.Equal("pending", await server.Db.ScalarAsync<string>(
            "select status::text from auth.oauth_authorizations where authorization_id = @authorizationId", new { authorizationId }));
    }

    [Theory]
    [InlineData("redirect_uri=http%3A%2F%2Flocalhost%3A4000%2Fcallback", "validation_failed", "client_id is required")]
    [InlineData("client_id=nope&redirect_uri=http%3A%2F%2Flocalhost%3A4000%2Fcallback", "oauth_client_not_found", "invalid client_id format")]
    [InlineData("client_id=00000000-0000-4000-8000-000000000001&redirect_uri=http%3A%2F%2Flocalhost%3A4000%2Fcallback", "oauth_client_not_found", "invalid client_id")]
    public async Task Authorize_BadClient_400NoRedirect(string query, string code, string message)
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/oauth/authorize?" + query), 400, code, message);
    }

    [Fact]
    public async Task Authorize_WrongRedirectUri_400NoRedirect()
    {
        var client = await flow.RegisterAsync();
        var before = await server.Db.ScalarAsync<long>("select count(*) from auth.oauth_authorizations");

        await server.AssertErrorBothShapesAsync(c => c.GetAsync(
            $"/oauth/authorize?client_id={client["client_id"]}&redirect_uri={Uri.EscapeDataString(OAuthFlow.Redirect + "/evil")}&response_type=code&code_challenge={flow.Challenge}&code_challenge_method=S256"),
            400, "validation_failed", "invalid redirect_uri");
        Assert.Equal(before, await server.Db.ScalarAsync<long>("select count(*) from auth.oauth_authorizations"));
    }

    [Fact]
    public async Task Authorize_NoPkce_ErrorRedirectedWithState()
    {
        var client = await flow.RegisterAsync();
        using var http = server.CreateClient();

        var response = await http.GetAsync($"/oauth/authorize?client_id={client["client_id"]}&redirect_uri={Uri.EscapeDataString(OAuthFlow.Redirect)}&state=s1");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("http://localhost:4000/callback?error=invalid_request&error_description=PKCE+flow+requires+both+code_challenge+and+code_challenge_method&state=s1",
            response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Details_Owner_ClientUserAndScope()
    {
        var (email, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var authorizationId = await flow.AuthorizationIdAsync((string)client["client_id"]!);

        var details = await server.OkJsonAsync(await flow.DetailsAsync(authorizationId, (string)session["access_token"]!));

        Assert.Equal(authorizationId, (string?)details["authorization_id"]);
        Assert.Equal(OAuthFlow.Redirect, (string?)details["redirect_uri"]);
        Assert.Equal("Example App", (string?)details["client"]!["name"]);
        Assert.Equal(email, (string?)details["user"]!["email"]);
        Assert.Equal("openid email profile", (string?)details["scope"]);
    }

    [Fact]
    public async Task Details_AnotherUsersAuthorization_404AndUnchanged()
    {
        var owner = await server.NewUserAsync();
        var other = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var authorizationId = await flow.AuthorizationIdAsync((string)client["client_id"]!);
        await server.OkJsonAsync(await flow.DetailsAsync(authorizationId, (string)owner.Session["access_token"]!));

        await ApiAssert.ErrorAsync(await flow.DetailsAsync(authorizationId, (string)other.Session["access_token"]!), 404,
            "oauth_authorization_not_found", "authorization not found");
        await ApiAssert.ErrorAsync(await flow.ConsentAsync(authorizationId, (string)other.Session["access_token"]!), 404,
            "oauth_authorization_not_found", "authorization not found");

        Assert.Equal("pending", await server.Db.ScalarAsync<string>(
            "select status::text from auth.oauth_authorizations where authorization_id = @authorizationId", new { authorizationId }));
    }

    [Fact]
    public async Task Details_UnknownOrUnauthenticated_404Or401()
    {
        var (_, _, session) = await server.NewUserAsync();

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/oauth/authorizations/unknown"), 404, "oauth_authorization_not_found",
            "authorization not found", bearer: (string)session["access_token"]!);
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/oauth/authorizations/unknown"), 401, "no_authorization");
    }

    [Fact]
    public async Task Consent_Approve_CodeAndStateBackToClientAndGrantStored()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var authorizationId = await flow.AuthorizationIdAsync((string)client["client_id"]!);
        await server.OkJsonAsync(await flow.DetailsAsync(authorizationId, (string)session["access_token"]!));

        var body = await server.OkJsonAsync(await flow.ConsentAsync(authorizationId, (string)session["access_token"]!));

        var redirect = new Uri((string)body["redirect_url"]!);
        Assert.Equal(OAuthFlow.Redirect, redirect.GetLeftPart(UriPartial.Path));
        Assert.Equal("xyz", OAuthFlow.Param(redirect, "state"));
        Assert.True(Guid.TryParse(OAuthFlow.Param(redirect, "code"), out _));
        Assert.Equal("openid email profile", await server.Db.ScalarAsync<string>(
            "select scopes from auth.oauth_consents where client_id = @id::uuid", new { id = (string)client["client_id"]! }));
        // Decided: a second decision is refused.
        await ApiAssert.ErrorAsync(await flow.ConsentAsync(authorizationId, (string)session["access_token"]!), 400, "validation_failed",
            "authorization request cannot be processed");
    }

    [Fact]
    public async Task Consent_Deny_AccessDeniedWithState()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var authorizationId = await flow.AuthorizationIdAsync((string)client["client_id"]!);
        await server.OkJsonAsync(await flow.DetailsAsync(authorizationId, (string)session["access_token"]!));

        var body = await server.OkJsonAsync(await flow.ConsentAsync(authorizationId, (string)session["access_token"]!, "deny"));

        Assert.Equal("http://localhost:4000/callback?error=access_denied&error_description=User+denied+the+request&state=xyz",
            (string?)body["redirect_url"]);
    }

    [Fact]
    public async Task Consent_BadActionOrOrigin_400()
    {
        var (_, _, session) = await server.NewUserAsync();
        var token = (string)session["access_token"]!;
        var client = await flow.RegisterAsync();
        var authorizationId = await flow.AuthorizationIdAsync((string)client["client_id"]!);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/oauth/authorizations/{authorizationId}/consent", new { action = "maybe" }),
            400, "validation_failed", "action must be 'approve' or 'deny'", bearer: token);
        await server.AssertErrorBothShapesAsync(c =>
        {
            c.DefaultRequestHeaders.Add("Origin", "https://evil.example");
            return c.PostAsJsonAsync($"/oauth/authorizations/{authorizationId}/consent", new { action = "approve" });
        }, 400, "validation_failed", "unauthorized request origin", bearer: token);
    }

    [Fact]
    public async Task Details_ConsentAlreadyGiven_StraightBackWithCode()
    {
        var (_, _, session) = await server.NewUserAsync();
        var token = (string)session["access_token"]!;
        var client = await flow.RegisterAsync();
        await flow.CodeAsync((string)client["client_id"]!, token);
        var second = await flow.AuthorizationIdAsync((string)client["client_id"]!, "email");

        var details = await server.OkJsonAsync(await flow.DetailsAsync(second, token));

        Assert.StartsWith(OAuthFlow.Redirect + "?code=", (string?)details["redirect_url"]);
    }

    [Fact]
    public async Task Details_Expired_404()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var authorizationId = await flow.AuthorizationIdAsync((string)client["client_id"]!);
        await server.Db.ExecuteAsync("update auth.oauth_authorizations set created_at = now() - interval '1 hour', expires_at = now() - interval '1 minute' where authorization_id = @authorizationId",
            new { authorizationId });

        await ApiAssert.ErrorAsync(await flow.DetailsAsync(authorizationId, (string)session["access_token"]!), 404, "oauth_authorization_not_found");
    }
}

/// <summary>`POST /oauth/token`, userinfo and grants (GoTrue oauthserver/handlers.go).</summary>
public sealed class OAuthTokenTests(OAuthServerFixture server) : IClassFixture<OAuthServerFixture>
{
    readonly OAuthFlow flow = new(server);

    [Fact]
    public async Task Exchange_ConfidentialBasic_TokensBoundToClientAndIdToken()
    {
        var (email, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var clientId = (string)client["client_id"]!;
        var code = await flow.CodeAsync(clientId, (string)session["access_token"]!);

        var response = await flow.ExchangeAsync(client, code);

        var body = await server.OkJsonAsync(response);
        Assert.Equal(["access_token", "expires_in", "id_token", "refresh_token", "token_type"], body.Select(p => p.Key).ToArray());
        var access = Jwt.Payload((string)body["access_token"]!);
        Assert.Equal(clientId, (string?)access["client_id"]);
        Assert.Equal("openid email profile", (string?)access["scope"]);
        Assert.Equal("oauth_provider/authorization_code", (string?)access["amr"]![0]!["method"]);
        var idToken = (string)body["id_token"]!;
        Assert.Equal("RS256", (string?)Jwt.Header(idToken)["alg"]);
        Assert.Equal(TestKeys.KidRsa, (string?)Jwt.Header(idToken)["kid"]);
        var claims = Jwt.Payload(idToken);
        Assert.Equal(clientId, (string?)claims["aud"]);
        Assert.Equal("n-0S6", (string?)claims["nonce"]);
        Assert.Equal(email, (string?)claims["email"]);
        Assert.True((bool)claims["email_verified"]!);
        Assert.Equal("http://localhost:9999/auth/v1", (string?)claims["iss"]);
        Assert.NotNull(claims["auth_time"]);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.oauth_authorizations where authorization_code = @code", new { code }));
    }

    [Fact]
    public async Task Exchange_PublicClientPkce_Works()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync(new { redirect_uris = new[] { OAuthFlow.Redirect }, token_endpoint_auth_method = "none" });
        var code = await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!, "email");

        var body = await server.OkJsonAsync(await flow.TokenAsync(new()
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["client_id"] = (string)client["client_id"]!,
            ["code_verifier"] = flow.Verifier,
        }));

        Assert.False(body.ContainsKey("id_token"));
    }

    [Fact]
    public async Task Exchange_ClientSecretPost_Works()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync(new { redirect_uris = new[] { OAuthFlow.Redirect }, token_endpoint_auth_method = "client_secret_post" });
        var code = await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!);

        await server.OkJsonAsync(await flow.TokenAsync(new()
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["client_id"] = (string)client["client_id"]!,
            ["client_secret"] = (string)client["client_secret"]!,
            ["code_verifier"] = flow.Verifier,
        }));
    }

    [Fact]
    public async Task Exchange_WrongVerifier_InvalidGrantAndCodeStillUsable()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var code = await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!);

        await OAuthFlow.OAuthErrorAsync(await flow.ExchangeAsync(client, code, verifier: new string('a', 43)), "invalid_grant",
            "PKCE verification failed: code challenge does not match previously saved code verifier");
        await OAuthFlow.OAuthErrorAsync(await flow.TokenAsync(new() { ["grant_type"] = "authorization_code", ["code"] = code },
            (string)client["client_id"]!, (string)client["client_secret"]!), "invalid_grant",
            "PKCE verification failed: code_verifier is required when PKCE challenge is present");

        await server.OkJsonAsync(await flow.ExchangeAsync(client, code));
    }

    [Fact]
    public async Task Exchange_WrongRedirectUri_InvalidGrantAndCodeStillUsable()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var code = await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!);

        await OAuthFlow.OAuthErrorAsync(await flow.ExchangeAsync(client, code, redirect: "http://localhost:4000/other"), "invalid_grant",
            "Invalid redirect_uri");

        await server.OkJsonAsync(await flow.ExchangeAsync(client, code));
    }

    [Fact]
    [Trait("catalogue", "OA1")]
    public async Task Exchange_ReplayedCode_InvalidGrantAndFirstSessionRevoked()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var code = await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!);
        var first = await server.OkJsonAsync(await flow.ExchangeAsync(client, code));
        var sessionId = (string)Jwt.Payload((string)first["access_token"]!)["session_id"]!;

        await OAuthFlow.OAuthErrorAsync(await flow.ExchangeAsync(client, code), "invalid_grant", "Invalid authorization code");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where id = @sessionId::uuid", new { sessionId }));
        await OAuthFlow.OAuthErrorAsync(await flow.RefreshAsync(client, (string)first["refresh_token"]!), "invalid_grant",
            "Refresh token is invalid or expired.");
    }

    [Fact]
    public async Task Exchange_UnknownCode_InvalidGrantNothingRevoked()
    {
        var client = await flow.RegisterAsync();
        var sessions = await server.Db.ScalarAsync<long>("select count(*) from auth.sessions");

        await OAuthFlow.OAuthErrorAsync(await flow.ExchangeAsync(client, Guid.NewGuid().ToString()), "invalid_grant", "Invalid authorization code");

        Assert.Equal(sessions, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions"));
    }

    [Fact]
    public async Task Exchange_CodeOfAnotherClient_InvalidGrant()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var other = await flow.RegisterAsync();
        var code = await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!);

        await OAuthFlow.OAuthErrorAsync(await flow.ExchangeAsync(other, code), "invalid_grant", "Authorization code was not issued for this client");
    }

    [Fact]
    public async Task Token_ClientAuthFailures_InvalidCredentials()
    {
        var client = await flow.RegisterAsync();
        var clientId = (string)client["client_id"]!;
        var form = new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = "x" };

        await ApiAssert.ErrorAsync(await flow.TokenAsync(form, clientId, "wrong"), 400, "invalid_credentials", "invalid client credentials");
        await ApiAssert.ErrorAsync(await flow.TokenAsync(new(form) { ["client_id"] = clientId, ["client_secret"] = (string)client["client_secret"]! }),
            400, "invalid_credentials", "invalid authentication method: client is registered for 'client_secret_basic' but 'client_secret_post' was used");
        await ApiAssert.ErrorAsync(await flow.TokenAsync(form), 400, "invalid_credentials", "Invalid client credentials: client_id is required");
        await ApiAssert.ErrorAsync(await flow.TokenAsync(form, "not-a-uuid", "x"), 400, "invalid_credentials", "Invalid client_id format");
    }

    [Fact]
    public async Task Token_GrantTypeMissingOrUnsupported_OAuthErrors()
    {
        var client = await flow.RegisterAsync(new { redirect_uris = new[] { OAuthFlow.Redirect }, grant_types = new[] { "authorization_code" } });
        var (id, secret) = ((string)client["client_id"]!, (string)client["client_secret"]!);

        await OAuthFlow.OAuthErrorAsync(await flow.TokenAsync(new() { ["code"] = "x" }, id, secret), "invalid_request", "grant_type is required");
        await OAuthFlow.OAuthErrorAsync(await flow.TokenAsync(new() { ["grant_type"] = "refresh_token" }, id, secret), "unsupported_grant_type",
            "Client is not allowed to use grant type: refresh_token");
        await OAuthFlow.OAuthErrorAsync(await flow.TokenAsync(new() { ["grant_type"] = "authorization_code" }, id, secret), "invalid_request",
            "code is required for authorization_code grant");
    }

    [Fact]
    public async Task Refresh_Rotates_ReuseOfOldTokenKillsFamily()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var first = await server.OkJsonAsync(await flow.ExchangeAsync(client, await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!)));
        var second = await server.OkJsonAsync(await flow.RefreshAsync(client, (string)first["refresh_token"]!));
        var third = await server.OkJsonAsync(await flow.RefreshAsync(client, (string)second["refresh_token"]!));
        Assert.Equal((string?)client["client_id"], (string?)Jwt.Payload((string)third["access_token"]!)["client_id"]);
        Assert.False(third.ContainsKey("user"));

        await OAuthFlow.OAuthErrorAsync(await flow.RefreshAsync(client, (string)first["refresh_token"]!), "invalid_grant",
            "Refresh token is invalid or expired.");
        await OAuthFlow.OAuthErrorAsync(await flow.RefreshAsync(client, (string)third["refresh_token"]!), "invalid_grant",
            "Refresh token is invalid or expired.");
    }

    [Fact]
    public async Task Refresh_OAuthSessionViaPlainToken_InvalidClient()
    {
        var (_, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var tokens = await server.OkJsonAsync(await flow.ExchangeAsync(client, await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!)));
        using var http = server.CreateClient();

        await OAuthFlow.OAuthErrorAsync(await http.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = (string)tokens["refresh_token"]! }),
            "invalid_client", "Client authentication required for OAuth session");
        await OAuthFlow.OAuthErrorAsync(await flow.RefreshAsync(client, (string)session["refresh_token"]!), "invalid_client",
            "Client authentication not allowed for non-OAuth session");
        // Neither attempt changed anything: the OAuth refresh token still works.
        await server.OkJsonAsync(await flow.RefreshAsync(client, (string)tokens["refresh_token"]!));
    }

    [Fact]
    public async Task UserInfo_ScopedClaims_AndPlainSessionSubOnly()
    {
        var (email, _, session) = await server.NewUserAsync();
        var client = await flow.RegisterAsync();
        var tokens = await server.OkJsonAsync(await flow.ExchangeAsync(client, await flow.CodeAsync((string)client["client_id"]!, (string)session["access_token"]!)));

        using var oauth = server.CreateClient(bearer: (string)tokens["access_token"]!);
        var info = await server.OkJsonAsync(await oauth.GetAsync("/oauth/userinfo"));
        Assert.Equal(email, (string?)info["email"]);
        Assert.True((bool)info["email_verified"]!);
        Assert.Equal(email, (string?)info["name"]);
        Assert.Equal(info.Select(p => p.Key).OrderBy(k => k, StringComparer.Ordinal), info.Select(p => p.Key));
        await server.OkJsonAsync(await oauth.PostAsync("/oauth/userinfo", null));

        using var plain = server.CreateClient(bearer: (string)session["access_token"]!);
        var minimal = await server.OkJsonAsync(await plain.GetAsync("/oauth/userinfo"));
        Assert.Equal(["sub"], minimal.Select(p => p.Key).ToArray());
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/oauth/userinfo"), 401, "no_authorization");
    }

    [Fact]
    public async Task Grants_ListAndRevoke_RevokedGrantKillsTokens()
    {
        var (_, _, session) = await server.NewUserAsync();
        var userToken = (string)session["access_token"]!;
        var client = await flow.RegisterAsync();
        var clientId = (string)client["client_id"]!;
        var tokens = await server.OkJsonAsync(await flow.ExchangeAsync(client, await flow.CodeAsync(clientId, userToken)));
        using var user = server.CreateClient(bearer: userToken);

        var grants = JsonNode.Parse(await (await user.GetAsync("/user/oauth/grants")).Content.ReadAsStringAsync())!.AsArray();
        Assert.Single(grants);
        Assert.Equal(clientId, (string?)grants[0]!["client"]!["id"]);
        ApiAssert.JsonEqual("""["openid","email","profile"]""", grants[0]!["scopes"]);

        Assert.Equal(HttpStatusCode.NoContent, (await user.DeleteAsync($"/user/oauth/grants?client_id={clientId}")).StatusCode);

        Assert.Empty(JsonNode.Parse(await (await user.GetAsync("/user/oauth/grants")).Content.ReadAsStringAsync())!.AsArray());
        await OAuthFlow.OAuthErrorAsync(await flow.RefreshAsync(client, (string)tokens["refresh_token"]!), "invalid_grant",
            "Refresh token is invalid or expired.");
        using var oauth = server.CreateClient(bearer: (string)tokens["access_token"]!);
        await ApiAssert.ErrorAsync(await oauth.GetAsync("/oauth/userinfo"), 403, "session_not_found");
        // A revoked grant means consent again: the next authorization asks.
        var next = await flow.AuthorizationIdAsync(clientId);
        Assert.False((await server.OkJsonAsync(await flow.DetailsAsync(next, userToken))).ContainsKey("redirect_url"));
    }

    [Fact]
    public async Task Grants_RevokeUnknownOrMalformed_404Or400()
    {
        var (_, _, session) = await server.NewUserAsync();
        var token = (string)session["access_token"]!;

        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/user/oauth/grants?client_id={Guid.NewGuid()}"), 404,
            "oauth_consent_not_found", "No active grant found for this client", bearer: token);
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync("/user/oauth/grants"), 400, "validation_failed",
            "client_id query parameter is required", bearer: token);
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync("/user/oauth/grants?client_id=x"), 400, "validation_failed",
            "invalid client_id format", bearer: token);
    }
}

/// <summary>The server on with GoTrue's defaults otherwise: HS256, no dynamic registration, no consent path.</summary>
public sealed class OAuthServerBareTests(OAuthServerBareFixture server) : IClassFixture<OAuthServerBareFixture>
{
    readonly OAuthFlow flow = new(server);

    [Fact]
    public async Task DynamicRegistration_Off_403()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/oauth/clients/register", new { redirect_uris = new[] { OAuthFlow.Redirect } }),
            403, "oauth_dynamic_client_registration_disabled", "Dynamic client registration is not enabled");
        using var client = server.CreateClient();
        Assert.False((await server.OkJsonAsync(await client.GetAsync("/.well-known/oauth-authorization-server"))).ContainsKey("registration_endpoint"));
    }

    [Fact]
    public async Task Authorize_NoAuthorizationPath_ServerErrorToClient()
    {
        var client = await flow.RegisterAsync();

        var location = await flow.AuthorizeAsync((string)client["client_id"]!, state: null);

        Assert.Equal("http://localhost:4000/callback?error=server_error&error_description=oauth+authorization+path+not+configured",
            location.ToString());
    }

    [Fact]
    public async Task Exchange_OpenIdWithHs256_500AndWithoutOpenIdWorks()
    {
        var (_, _, session) = await server.NewUserAsync();
        var token = (string)session["access_token"]!;
        var client = await flow.RegisterAsync();
        var clientId = (string)client["client_id"]!;

        var location = await flow.AuthorizeAsync(clientId, "email");
        var withoutOpenId = await flow.TokenAsync(new()
        {
            ["grant_type"] = "authorization_code",
            ["code"] = await ApproveAsync(location, token),
            ["code_verifier"] = flow.Verifier
        }, clientId, (string)client["client_secret"]!);
        Assert.False((await server.OkJsonAsync(withoutOpenId)).ContainsKey("id_token"));

        var openId = await flow.AuthorizeAsync(clientId, "openid");
        var refused = await flow.TokenAsync(new()
        {
            ["grant_type"] = "authorization_code",
            ["code"] = await ApproveAsync(openId, token),
            ["code_verifier"] = flow.Verifier
        }, clientId, (string)client["client_secret"]!);
        await ApiAssert.ErrorAsync(refused, 500, "unexpected_failure", "Error generating ID token");
    }

    /// <summary>No consent path configured: the test plays the consent page with the authorization id from the database.</summary>
    async Task<string> ApproveAsync(Uri location, string token)
    {
        Assert.Equal("server_error", OAuthFlow.Param(location, "error"));
        var authorizationId = await server.Db.ScalarAsync<string>(
            "select authorization_id from auth.oauth_authorizations where status = 'pending' order by created_at desc limit 1");
        var details = await server.OkJsonAsync(await flow.DetailsAsync(authorizationId, token));
        var redirect = (string?)details["redirect_url"] ?? (string)(await server.OkJsonAsync(await flow.ConsentAsync(authorizationId, token)))["redirect_url"]!;
        return OAuthFlow.Param(new Uri(redirect), "code");
    }
}

/// <summary>GoTrue conf `OAuthServerConfiguration` and the registration rate limit, as env vars.</summary>
public sealed class OAuthServerOptionsTests
{
    static AuthServer.Config.EnvReader Env(params (string Key, string Value)[] values) =>
        new(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Fact]
    public void Load_Defaults_AsGoTrue()
    {
        var options = AuthServer.Features.OAuthServer.OAuthServerOptions.Load(Env());

        Assert.False(options.Enabled);
        Assert.False(options.AllowDynamicRegistration);
        Assert.Equal("", options.AuthorizationPath);
        Assert.Equal(TimeSpan.FromMinutes(10), options.AuthorizationTtl);
        Assert.Equal("email", options.DefaultScope);
        Assert.Equal(10 / 300.0, options.RegisterBucket.RefillPerSecond, 9);
    }

    [Fact]
    public void Load_Set_ReadsBothRateLimitSpellings()
    {
        var options = AuthServer.Features.OAuthServer.OAuthServerOptions.Load(Env(("GOTRUE_OAUTH_SERVER_AUTHORIZATION_TTL", "2m"),
            ("GOTRUE_OAUTH_SERVER_DEFAULT_SCOPE", "openid"), ("GOTRUE_RATE_LIMIT_OAUTH_DYNAMIC_CLIENT_REGISTER", "60")));

        Assert.Equal(TimeSpan.FromMinutes(2), options.AuthorizationTtl);
        Assert.Equal("openid", options.DefaultScope);
        Assert.Equal(60 / 300.0, options.RegisterBucket.RefillPerSecond, 9);
    }

    [Theory]
    [InlineData("GOTRUE_OAUTH_SERVER_AUTHORIZATION_TTL", "soon")]
    [InlineData("GOTRUE_OAUTH_SERVER_AUTHORIZATION_TTL", "0s")]
    [InlineData("GOTRUE_RATE_LIMIT_O_AUTH_DYNAMIC_CLIENT_REGISTER", "many")]
    [InlineData("GOTRUE_OAUTH_SERVER_ENABLED", "yes")]
    public void Load_Invalid_ConfigExceptionNamingTheVariable(string name, string value) =>
        Assert.StartsWith(name + ":", Assert.Throws<AuthServer.Config.ConfigException>(
            () => AuthServer.Features.OAuthServer.OAuthServerOptions.Load(Env((name, value)))).Message);
}

/// <summary>RFC 7591 registration is rate limited per client as GoTrue's `OAuthClientRegister` limiter.</summary>
public sealed class OAuthRegisterRateLimitFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_OAUTH_SERVER_ENABLED"] = "true";
        settings["GOTRUE_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION"] = "true";
        settings["GOTRUE_RATE_LIMIT_HEADER"] = "X-Client-IP";
    }
}

public sealed class OAuthRegisterRateLimitTests(OAuthRegisterRateLimitFixture server) : IClassFixture<OAuthRegisterRateLimitFixture>
{
    [Fact]
    public async Task DynamicRegistration_BurstSpent_429()
    {
        using var client = server.CreateClient();
        client.DefaultRequestHeaders.Add("X-Client-IP", "203.0.113.7");
        var body = new { redirect_uris = new[] { OAuthFlow.Redirect }, token_endpoint_auth_method = "none" };
        for (var i = 0; i < 30; i++)
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/oauth/clients/register", body)).StatusCode);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/oauth/clients/register", body), 429, "over_request_rate_limit",
            "Request rate limit reached");

        using var other = server.CreateClient();
        other.DefaultRequestHeaders.Add("X-Client-IP", "203.0.113.8");
        Assert.Equal(HttpStatusCode.Created, (await other.PostAsJsonAsync("/oauth/clients/register", body)).StatusCode);
    }
}
