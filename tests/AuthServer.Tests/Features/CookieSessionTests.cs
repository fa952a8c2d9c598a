using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Cookie sessions (issue 7 §3) through a real HttpClient cookie jar.</summary>
public sealed class CookieSessionTests(CookieFixture server) : IClassFixture<CookieFixture>
{
    const string Password = "correct-horse-battery";

    /// <summary>A browser-like client: its own cookie jar, no bearer token.</summary>
    sealed class Browser : IDisposable
    {
        readonly SocketsHttpHandler handler;
        public CookieContainer Jar { get; } = new();
        public HttpClient Http { get; }

        public Browser(Uri baseAddress)
        {
            handler = new SocketsHttpHandler { CookieContainer = Jar, UseCookies = true, AllowAutoRedirect = false };
            Http = new HttpClient(handler) { BaseAddress = baseAddress };
        }

        public string? Cookie(string name) => Jar.GetCookies(Http.BaseAddress!).FirstOrDefault(c => c.Name == name)?.Value;

        public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, string? useCookie = "1")
        {
            var request = new HttpRequestMessage(method, path);
            if (body is not null) request.Content = JsonContent.Create(body);
            if (useCookie is not null) request.Headers.Add("x-use-cookie", useCookie);
            return Http.SendAsync(request);
        }

        public void Dispose()
        {
            Http.Dispose();
            handler.Dispose();
        }
    }

    /// <summary>A token response to an `x-use-cookie` request: the session minus the tokens, which are in the jar.</summary>
    static void AssertTokensOnlyInCookies(JsonObject session, Browser browser)
    {
        Assert.False(session.ContainsKey("access_token"), session.ToJsonString());
        Assert.False(session.ContainsKey("refresh_token"), session.ToJsonString());
        Assert.NotNull(session["user"]?["id"]);
        Assert.NotNull(session["expires_at"]);
        Assert.Equal(3, browser.Cookie("myapp-access-token")!.Split('.').Length); // a JWT
        Assert.False(string.IsNullOrEmpty(browser.Cookie("myapp-refresh-token")));
    }

    static List<string> SetCookies(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? values.ToList() : [];

    async Task<(Browser Browser, string Email, JsonObject Session)> SignedInBrowserAsync(string useCookie = "1")
    {
        var (email, _, _) = await server.NewUserAsync();
        var browser = new Browser(server.BaseAddress);
        var session = await server.OkJsonAsync(await browser.SendAsync(HttpMethod.Post, "/token?grant_type=password",
            new { email, password = "correct-horse-battery" }, useCookie));
        return (browser, email, session);
    }

    [Fact]
    public async Task PasswordGrant_WithUseCookieHeader_SetsHttpOnlyLaxCookiesNamedFromCookieKey()
    {
        var (email, _, _) = await server.NewUserAsync();
        using var browser = new Browser(server.BaseAddress);

        var response = await browser.SendAsync(HttpMethod.Post, "/token?grant_type=password", new { email, password = Password });

        var session = await server.OkJsonAsync(response);
        var cookies = SetCookies(response);
        Assert.Equal(2, cookies.Count);
        AssertTokensOnlyInCookies(session, browser);
        var access = cookies.Single(c => c.StartsWith("myapp-access-token=", StringComparison.Ordinal)).ToLowerInvariant();
        var refresh = cookies.Single(c => c.StartsWith("myapp-refresh-token=", StringComparison.Ordinal)).ToLowerInvariant();
        foreach (var cookie in new[] { access, refresh })
        {
            Assert.Contains("; httponly", cookie);
            Assert.Contains("; samesite=lax", cookie);
            Assert.Contains("; path=/", cookie);
            Assert.Contains("; max-age=604800", cookie);
            Assert.DoesNotContain("secure", cookie); // site URL is http://localhost:3000
        }
    }

    [Fact]
    public async Task PasswordGrant_UseCookieSession_SetsSessionCookies()
    {
        var (browser, _, _) = await SignedInBrowserAsync(useCookie: "session");
        using var _ = browser;
        Assert.NotNull(browser.Cookie("myapp-access-token"));
        var jarCookie = browser.Jar.GetCookies(server.BaseAddress).Single(c => c.Name == "myapp-refresh-token");
        Assert.Equal(DateTime.MinValue, jarCookie.Expires); // no Max-Age/Expires: ends with the browser session
    }

    [Fact]
    public async Task PasswordGrant_WithoutUseCookieHeader_SetsNoCookies()
    {
        var (email, _, _) = await server.NewUserAsync();
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = Password });

        var session = await server.OkJsonAsync(response);
        Assert.Empty(SetCookies(response));
        Assert.False(string.IsNullOrEmpty((string?)session["access_token"])); // supabase-js never sends x-use-cookie
        Assert.False(string.IsNullOrEmpty((string?)session["refresh_token"]));
    }

    [Fact]
    public async Task Signup_WithUseCookieHeader_SetsCookies()
    {
        using var browser = new Browser(server.BaseAddress);

        var session = await server.OkJsonAsync(await browser.SendAsync(HttpMethod.Post, "/signup",
            new { email = AuthServerFixture.NewEmail(), password = Password }));

        AssertTokensOnlyInCookies(session, browser);
    }

    [Fact]
    public async Task CookieFlow_GetUserRefreshLogout_WorksWithoutBearerTokens()
    {
        var (browser, email, session) = await SignedInBrowserAsync();
        using var _ = browser;
        var userId = (string)session["user"]!["id"]!;

        // GET is safe: the cookie alone authenticates.
        var user = await server.OkJsonAsync(await browser.SendAsync(HttpMethod.Get, "/user", useCookie: null));
        Assert.Equal(email, (string?)user["email"]);

        // Refresh from the cookie, no body: new pair in the jar, old token revoked.
        var oldRefresh = browser.Cookie("myapp-refresh-token")!;
        var refreshed = await server.OkJsonAsync(await browser.SendAsync(HttpMethod.Post, "/token?grant_type=refresh_token"));
        Assert.Equal(userId, (string?)refreshed["user"]!["id"]);
        AssertTokensOnlyInCookies(refreshed, browser);
        Assert.NotEqual(oldRefresh, browser.Cookie("myapp-refresh-token"));
        Assert.True(await server.Db.ScalarAsync<bool>("select revoked from auth.refresh_tokens where token = @oldRefresh", new { oldRefresh }));

        // PUT /user with the header.
        var updated = await server.OkJsonAsync(await browser.SendAsync(HttpMethod.Put, "/user", new { data = new { theme = "dark" } }));
        Assert.Equal("dark", (string?)updated["user_metadata"]!["theme"]);

        // Logout clears both cookies and ends the session.
        var logout = await browser.SendAsync(HttpMethod.Post, "/logout");
        await ApiAssert.NoContentAsync(logout);
        Assert.Contains(SetCookies(logout), c => c.StartsWith("myapp-access-token=;", StringComparison.Ordinal));
        Assert.Contains(SetCookies(logout), c => c.StartsWith("myapp-refresh-token=;", StringComparison.Ordinal));
        Assert.Null(browser.Cookie("myapp-access-token"));
        Assert.Null(browser.Cookie("myapp-refresh-token"));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @userId::uuid", new { userId }));
        var after = await browser.SendAsync(HttpMethod.Get, "/user", useCookie: null);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Theory]
    [InlineData("PUT", "/user")]
    [InlineData("POST", "/logout")]
    [InlineData("POST", "/token?grant_type=refresh_token")]
    public async Task StateChangingCookieRequest_WithoutUseCookieHeader_IsNotAuthenticated(string method, string path)
    {
        var (browser, _, session) = await SignedInBrowserAsync();
        using var _ = browser;
        var userId = (string)session["user"]!["id"]!;
        var refreshCookie = browser.Cookie("myapp-refresh-token");
        var sessions = await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @userId::uuid", new { userId });

        // What a cross-site form post looks like: the cookies, but no custom header.
        var response = await browser.SendAsync(new HttpMethod(method), path, new { data = new { theme = "evil" } }, useCookie: null);

        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest,
            $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(sessions, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @userId::uuid", new { userId }));
        Assert.Null(await server.Db.ScalarAsync<string?>("select raw_user_meta_data->>'theme' from auth.users where id = @userId::uuid", new { userId }));
        Assert.Equal(refreshCookie, browser.Cookie("myapp-refresh-token"));
    }

    [Fact]
    public async Task RefreshGrant_RevokedCookieToken_Returns400AndClearsCookies()
    {
        var (browser, _, _) = await SignedInBrowserAsync();
        using var _ = browser;
        // Rotate twice with the body token: the jar's token is now two generations old, so presenting
        // it is reuse (family revoked), and the dead cookies are cleared.
        var child = Refresh.Token(await Refresh.OkAsync(server, browser.Cookie("myapp-refresh-token")!));
        await Refresh.OkAsync(server, child);
        var response = await browser.SendAsync(HttpMethod.Post, "/token?grant_type=refresh_token");

        await ApiAssert.ErrorAsync(response, 400, "refresh_token_already_used");
        Assert.Null(browser.Cookie("myapp-refresh-token"));
        Assert.Null(browser.Cookie("myapp-access-token"));
    }

    [Fact]
    public async Task BearerToken_WinsOverCookie()
    {
        var (browser, _, _) = await SignedInBrowserAsync();
        using var _ = browser;
        var (otherEmail, _, other) = await server.NewUserAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/user");
        request.Headers.Authorization = new("Bearer", (string)other["access_token"]!);

        var user = await server.OkJsonAsync(await browser.Http.SendAsync(request));

        Assert.Equal(otherEmail, (string?)user["email"]);
    }
}

/// <summary>Cookie mode off (the default): the header and cookies are ignored, CORS is unchanged.</summary>
public sealed class CookieSessionDisabledTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Fact]
    public async Task UseCookieHeader_CookieModeOff_SetsNoCookiesAndCookiesDoNotAuthenticate()
    {
        var (email, password, _) = await server.NewUserAsync();
        using var client = server.CreateClient();
        using var signIn = new HttpRequestMessage(HttpMethod.Post, "/token?grant_type=password")
        {
            Content = JsonContent.Create(new { email, password }),
        };
        signIn.Headers.Add("x-use-cookie", "1");

        var response = await client.SendAsync(signIn);
        var session = await server.OkJsonAsync(response);
        Assert.False(response.Headers.Contains("Set-Cookie"));

        using var getUser = new HttpRequestMessage(HttpMethod.Get, "/user");
        getUser.Headers.Add("Cookie", $"sb-access-token={session["access_token"]}");
        await ApiAssert.ErrorAsync(await client.SendAsync(getUser), 401, "no_authorization");
    }

    /// <summary>CORS as GoTrue's (internal/api/api.go, rs/cors): any origin, with credentials.</summary>
    [Fact]
    public async Task Cors_CookieModeOff_AnyOriginGetsCredentialedCorsAsInGoTrue()
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Options, "/user");
        request.Headers.Add("Origin", "https://evil.example");
        request.Headers.Add("Access-Control-Request-Method", "PUT");
        request.Headers.Add("Access-Control-Request-Headers", "x-use-cookie,content-type");

        var response = await client.SendAsync(request);

        Assert.True(response.IsSuccessStatusCode, response.StatusCode.ToString());
        Assert.Equal("https://evil.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", response.Headers.GetValues("Access-Control-Allow-Credentials").Single());
    }
}

/// <summary>https site URL: cookies are Secure, with the configured Domain and Max-Age.</summary>
public sealed class SecureCookieTests(SecureCookieFixture server) : IClassFixture<SecureCookieFixture>
{
    [Fact]
    public async Task PasswordGrant_HttpsSiteUrl_SetsSecureCookiesWithDomainAndDuration()
    {
        var (email, password, _) = await server.NewUserAsync();
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token?grant_type=password") { Content = JsonContent.Create(new { email, password }) };
        request.Headers.Add("x-use-cookie", "1");

        var response = await client.SendAsync(request);

        await server.OkJsonAsync(response);
        var cookies = response.Headers.GetValues("Set-Cookie").Select(c => c.ToLowerInvariant()).ToList();
        Assert.Equal(2, cookies.Count);
        Assert.All(cookies, c =>
        {
            Assert.StartsWith("sb-", c);
            Assert.Contains("; secure", c);
            Assert.Contains("; domain=example.com", c);
            Assert.Contains("; max-age=3600", c);
        });
    }
}
