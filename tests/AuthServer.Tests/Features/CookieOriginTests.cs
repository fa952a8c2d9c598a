using System.Net;
using System.Net.Http.Json;
using AuthServer.Config;
using AuthServer.Sessions;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace AuthServer.Tests.Features;

/// <summary>
/// Security review 2026-12, M-4: with cookie sessions on, only trusted origins (site URL, allow-list
/// globs, GOTRUE_COOKIE_ALLOWED_ORIGINS) get credentialed CORS or may use the cookies, and every
/// cookie-authenticated route that changes state needs `x-use-cookie`, GETs included. The cookies are
/// sent by hand (`Cookie:` header) so each request states exactly what a browser would send.
/// </summary>
[Trait("catalogue", "M-4")]
public sealed class CookieOriginTests(CookieFixture server) : IClassFixture<CookieFixture>
{
    const string Site = "http://localhost:3000";
    const string Evil = "https://evil.example";

    async Task<(string Cookies, string UserId, string Email)> SignInAsync()
    {
        var (email, password, session) = await server.NewUserAsync();
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token?grant_type=password") { Content = JsonContent.Create(new { email, password }) };
        request.Headers.Add("x-use-cookie", "1");
        request.Headers.Add("Origin", Site);
        var response = await client.SendAsync(request);
        await server.OkJsonAsync(response);
        var cookies = string.Join("; ", response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
        return (cookies, (string)session["user"]!["id"]!, email);
    }

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string cookies, string? origin = null,
        bool useCookie = true, string? fetchSite = null, object? body = null)
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        request.Headers.Add("Cookie", cookies);
        if (useCookie) request.Headers.Add("x-use-cookie", "1");
        if (origin is not null) request.Headers.Add("Origin", origin);
        if (fetchSite is not null) request.Headers.Add("Sec-Fetch-Site", fetchSite);
        return await client.SendAsync(request);
    }

    async Task<HttpResponseMessage> PreflightAsync(string origin)
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Options, "/user");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "PUT");
        request.Headers.Add("Access-Control-Request-Headers", "x-use-cookie,content-type");
        return await client.SendAsync(request);
    }

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    Task<long> ReauthenticationTokensAsync(string email) => server.Db.ScalarAsync<long>(
        "select count(*) from auth.one_time_tokens where relates_to = @email and token_type = 'reauthentication_token'", new { email });

    /// <summary>The review's reproduction: a script on another origin of the same site, whose requests carry
    /// the Lax cookies, asks for fresh tokens, changes the user and reads it.</summary>
    [Fact]
    public async Task M4_UntrustedOriginWithTheCookies_GetsNoCredentialedCorsAndIsRefused()
    {
        var (cookies, userId, _) = await SignInAsync();

        var preflight = await PreflightAsync(Evil);
        Assert.Null(Header(preflight, "Access-Control-Allow-Credentials"));

        var refresh = await SendAsync(HttpMethod.Post, "/token?grant_type=refresh_token", cookies, Evil);
        await ApiAssert.ErrorAsync(refresh, 403, "cookie_origin_not_allowed");
        Assert.False(refresh.Headers.Contains("Set-Cookie"));
        Assert.Null(Header(refresh, "Access-Control-Allow-Credentials"));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.refresh_tokens where user_id = @userId and revoked", new { userId }));

        var update = await SendAsync(HttpMethod.Put, "/user", cookies, Evil, body: new { data = new { theme = "evil" } });
        await ApiAssert.ErrorAsync(update, 403, "cookie_origin_not_allowed");
        Assert.Null(await server.Db.ScalarAsync<string?>("select raw_user_meta_data->>'theme' from auth.users where id = @userId::uuid", new { userId }));

        await ApiAssert.ErrorAsync(await SendAsync(HttpMethod.Get, "/user", cookies, Evil, useCookie: false), 403, "cookie_origin_not_allowed");
    }

    /// <summary>GETs that send mail or start a flow are state changes: a cross-site navigation carries Lax
    /// cookies but can't add `x-use-cookie`, so the cookie alone does not authenticate them.</summary>
    [Theory]
    [InlineData("/reauthenticate")]
    [InlineData("/user/identities/authorize?provider=google&skip_http_redirect=true")]
    public async Task M4_StateChangingGet_CookieWithoutUseCookieHeader_Returns401(string path)
    {
        var (cookies, _, email) = await SignInAsync();

        var response = await SendAsync(HttpMethod.Get, path, cookies, useCookie: false, fetchSite: "same-site");

        await ApiAssert.ErrorAsync(response, 401, "no_authorization");
        Assert.Equal(0, await ReauthenticationTokensAsync(email));
    }

    [Fact]
    public async Task Reauthenticate_CookieWithUseCookieHeader_SendsTheCode()
    {
        var (cookies, _, email) = await SignInAsync();

        var response = await SendAsync(HttpMethod.Get, "/reauthenticate", cookies, Site);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, await ReauthenticationTokensAsync(email));
    }

    [Fact]
    public async Task IdentitiesAuthorize_CookieWithUseCookieHeader_IsAuthenticated()
    {
        var (cookies, _, _) = await SignInAsync();

        var response = await SendAsync(HttpMethod.Get, "/user/identities/authorize?provider=google&skip_http_redirect=true", cookies, Site);

        // Past authentication and the manual-linking gate: Google is simply not configured here.
        await ApiAssert.ErrorAsync(response, 400, "validation_failed");
    }

    [Theory]
    [InlineData(Site)]
    [InlineData("https://app.trusted.example")] // GOTRUE_URI_ALLOW_LIST https://*.trusted.example/**
    [InlineData("https://extra.example")]       // GOTRUE_COOKIE_ALLOWED_ORIGINS
    public async Task Cors_CookieModeTrustedOrigin_AllowsCredentials(string origin)
    {
        var response = await PreflightAsync(origin);

        Assert.True(response.IsSuccessStatusCode, response.StatusCode.ToString());
        Assert.Equal(origin, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
    }

    [Theory]
    [InlineData(Evil)]
    [InlineData("http://localhost:3001")]             // same site as the site URL, other port
    [InlineData("https://a.b.trusted.example")]       // `*` stays within one label
    [InlineData("https://trusted.example.evil.example")]
    [InlineData("null")]
    public async Task Cors_CookieModeUntrustedOrigin_NoCredentials(string origin)
    {
        var response = await PreflightAsync(origin);

        Assert.Null(Header(response, "Access-Control-Allow-Credentials"));
    }

    [Theory]
    [InlineData(Site, null)]
    [InlineData("https://app.trusted.example", "cross-site")] // a trusted app on another site
    [InlineData(null, "same-origin")]                        // a page on the auth server's own origin
    [InlineData(null, "same-site")]                          // a navigation: no Origin on GET, and it can't read the answer
    [InlineData(null, null)]                                 // not a browser
    public async Task GetUser_CookieFromTrustedContext_Returns200(string? origin, string? fetchSite)
    {
        var (cookies, userId, _) = await SignInAsync();

        var user = await server.OkJsonAsync(await SendAsync(HttpMethod.Get, "/user", cookies, origin, useCookie: false, fetchSite));

        Assert.Equal(userId, (string?)user["id"]);
    }

    [Theory]
    [InlineData(Evil, null)]
    [InlineData("http://localhost:3001", "same-site")]
    [InlineData(null, "cross-site")] // a cross-site navigation
    public async Task GetUser_CookieFromUntrustedContext_Returns403CookieOriginNotAllowed(string? origin, string? fetchSite)
    {
        var (cookies, _, _) = await SignInAsync();

        var response = await SendAsync(HttpMethod.Get, "/user", cookies, origin, useCookie: false, fetchSite);

        await ApiAssert.ErrorAsync(response, 403, "cookie_origin_not_allowed");
    }

    [Fact]
    public async Task PasswordGrant_UseCookieFromUntrustedOrigin_SetsNoCookies()
    {
        var (email, password, _) = await server.NewUserAsync();
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token?grant_type=password") { Content = JsonContent.Create(new { email, password }) };
        request.Headers.Add("x-use-cookie", "1");
        request.Headers.Add("Origin", Evil);

        var response = await client.SendAsync(request);

        var session = await server.OkJsonAsync(response);
        Assert.False(response.Headers.Contains("Set-Cookie"));
        Assert.NotNull(session["access_token"]); // the caller proved the password itself; no cookie to protect
    }

    [Fact]
    public async Task BearerToken_FromUntrustedOrigin_IsNotSubjectToTheCookieChecks()
    {
        var (_, _, session) = await server.NewUserAsync();
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        using var request = new HttpRequestMessage(HttpMethod.Put, "/user") { Content = JsonContent.Create(new { data = new { theme = "dark" } }) };
        request.Headers.Add("Origin", Evil);
        request.Headers.Add("Sec-Fetch-Site", "cross-site");

        var user = await server.OkJsonAsync(await client.SendAsync(request));

        Assert.Equal("dark", (string?)user["user_metadata"]!["theme"]);
    }
}

/// <summary>The trusted-origin rules without a server (Sessions/CookieOrigins, GOTRUE_COOKIE_ALLOWED_ORIGINS).</summary>
[Trait("catalogue", "M-4")]
public sealed class CookieOriginRuleTests
{
    static EnvReader Env(params (string Key, string Value)[] values) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    static bool Allowed(string origin, string allowList = "", string extra = "")
    {
        var env = Env(("GOTRUE_SITE_URL", "https://app.example.com/welcome"), ("API_EXTERNAL_URL", "https://auth.example.com"),
            ("GOTRUE_URI_ALLOW_LIST", allowList), ("GOTRUE_COOKIE_ALLOWED_ORIGINS", extra));
        return CookieOrigins.IsAllowed(ApiOptions.Load(env), CookieSessionOptions.Load(env), origin);
    }

    [Theory]
    [InlineData("https://app.example.com")]                                     // the site URL's origin (path ignored)
    [InlineData("https://APP.example.com")]
    [InlineData("https://preview-1.vercel.app", "https://*.vercel.app/**")]     // allow-list glob, origin part
    [InlineData("http://localhost:5173", "http://localhost:5173/auth/callback")] // exact allow-list entry with a path
    [InlineData("https://admin.example.org", "", "https://admin.example.org, https://other.example.org/")]
    public void IsAllowed_TrustedOrigin_True(string origin, string allowList = "", string extra = "") =>
        Assert.True(Allowed(origin, allowList, extra));

    [Theory]
    [InlineData("https://app.example.com:8443")]                 // another port of the site
    [InlineData("http://app.example.com")]                       // another scheme
    [InlineData("https://evil.example.com")]                     // a sibling subdomain
    [InlineData("https://a.b.vercel.app", "https://*.vercel.app/**")]
    [InlineData("https://vercel.app.evil.com", "https://*.vercel.app/**")]
    [InlineData("http://127.0.0.1:3000")]                        // loopback passes the redirect check, not this one
    [InlineData("null")]
    [InlineData("https://app.example.com/path")]
    [InlineData("")]
    [InlineData("https://evil.example.net", "**")]               // an entry without scheme://host trusts no origin
    public void IsAllowed_OtherOrigin_False(string origin, string allowList = "") =>
        Assert.False(Allowed(origin, allowList));

    [Theory]
    [InlineData("https://app.example.com/callback")]
    [InlineData("app.example.com")]
    [InlineData("https://user@app.example.com")]
    public void Options_CookieAllowedOriginNotAnOrigin_StopsTheBoot(string value) =>
        Assert.Throws<ConfigException>(() => CookieSessionOptions.Load(Env(("GOTRUE_SITE_URL", "http://localhost:3000"),
            ("GOTRUE_COOKIE_ALLOWED_ORIGINS", value))));
}
