using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AuthServer.Tests.Infrastructure;

/// <summary>Who "logs in" at a fake provider. <see cref="Email"/> null: the provider answers none.</summary>
public sealed record FakePerson(string Id, string? Email, bool Verified, string Name);

/// <summary>
/// GitHub, GitLab, Discord… on one loopback server, each under `/&lt;provider&gt;` (what its
/// `GOTRUE_EXTERNAL_&lt;P&gt;_URL` points at), speaking the provider's wire format as its public API documents
/// it and GoTrue's provider code reads it: authorize, token (client authentication style, form-encoded
/// GitHub answers, WorkOS's profile, ID tokens) and user / email endpoints. Paths that are not the
/// provider's own answer 404, so a wrong endpoint fails the test.
/// </summary>
public sealed class FakeOAuthProviders : IAsyncDisposable
{
    public const string ClientId = "fake-client";
    public const string ClientSecret = "fake-secret";

    /// <summary>Authorize path, token path, whether the client authenticates in the form (else HTTP Basic).</summary>
    static readonly Dictionary<string, (string Authorize, string Token, bool ParamsAuth)> Paths = new()
    {
        ["azure"] = ("/oauth2/v2.0/authorize", "/oauth2/v2.0/token", false),
        ["bitbucket"] = ("/site/oauth2/authorize", "/site/oauth2/access_token", false),
        ["discord"] = ("/api/oauth2/authorize", "/api/oauth2/token", false),
        ["facebook"] = ("/dialog/oauth", "/oauth/access_token", false),
        ["figma"] = ("/oauth", "/api/oauth/token", false),
        ["fly"] = ("/oauth/authorize", "/oauth/token", false),
        ["github"] = ("/login/oauth/authorize", "/login/oauth/access_token", false),
        ["gitlab"] = ("/oauth/authorize", "/oauth/token", false),
        ["kakao"] = ("/oauth/authorize", "/oauth/token", true),
        ["linkedin"] = ("/oauth/v2/authorization", "/oauth/v2/accessToken", false),
        ["linkedin_oidc"] = ("/oauth/v2/authorization", "/oauth/v2/accessToken", false),
        ["notion"] = ("/v1/oauth/authorize", "/v1/oauth/token", false),
        ["slack"] = ("/oauth/authorize", "/api/oauth.access", false),
        ["slack_oidc"] = ("/openid/connect/authorize", "/api/openid.connect.token", false),
        ["snapchat"] = ("/accounts/oauth2/auth", "/accounts/oauth2/token", false),
        ["spotify"] = ("/authorize", "/api/token", false),
        ["twitch"] = ("/oauth2/authorize", "/oauth2/token", false),
        ["twitter"] = ("/oauth/authenticate", "/oauth/access_token", false), // OAuth 1.0a: see Twitter*
        ["vercel_marketplace"] = ("/oauth/v2/authorization", "/oauth/v2/accessToken", false),
        ["workos"] = ("/sso/authorize", "/sso/token", false),
        ["x"] = ("/i/oauth2/authorize", "/2/oauth2/token", false),
        ["zoom"] = ("/oauth/authorize", "/oauth/token", false),
    };

    public static IEnumerable<string> Names => Paths.Keys;
    public static bool UsesIdToken(string provider) => provider is "azure" or "linkedin_oidc" or "vercel_marketplace";

    readonly WebApplication app;
    readonly ConcurrentDictionary<string, (string Provider, FakePerson Person, string RedirectUri, string? Challenge)> codes = new();
    readonly ConcurrentDictionary<string, (string Provider, FakePerson Person)> tokens = new();

    /// <summary>Signs the ID tokens of Azure, LinkedIn (OIDC) and Vercel; point their `_ISSUER` here.</summary>
    public OidcIssuer Issuer { get; }
    public string BaseUrl { get; private set; } = "";
    public ConcurrentDictionary<string, FakePerson> Next { get; } = new();
    /// <summary>Providers whose token endpoint answers `invalid_grant`.</summary>
    public ConcurrentDictionary<string, bool> FailToken { get; } = new();
    /// <summary>Providers where the user denies consent.</summary>
    public ConcurrentDictionary<string, bool> Deny { get; } = new();
    public ConcurrentDictionary<string, IQueryCollection> LastAuthorize { get; } = new();

    FakeOAuthProviders(WebApplication app, OidcIssuer issuer)
    {
        this.app = app;
        Issuer = issuer;
    }

    public string Url(string provider) => BaseUrl + "/" + provider;

    public static FakeOAuthProviders Start()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var fake = new FakeOAuthProviders(app, OidcIssuer.Start());
        app.MapGet("/{provider}/{**rest}", (string provider, string rest, HttpContext http) => fake.Get(provider, "/" + rest, http));
        app.MapPost("/{provider}/{**rest}", (string provider, string rest, HttpContext http) => fake.TokenAsync(provider, "/" + rest, http));
        app.StartAsync().GetAwaiter().GetResult();
        fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
        return fake;
    }

    /// <summary>Settings enabling every provider against this fake.</summary>
    public void Configure(IDictionary<string, string> settings)
    {
        foreach (var name in Names)
        {
            var p = "GOTRUE_EXTERNAL_" + name.ToUpperInvariant();
            settings[p + "_ENABLED"] = "true";
            settings[p + "_CLIENT_ID"] = ClientId;
            settings[p + "_SECRET"] = ClientSecret;
            settings[p + "_URL"] = Url(name);
            if (UsesIdToken(name)) settings[p + "_ISSUER"] = Issuer.Issuer;
        }
    }

    IResult Get(string provider, string path, HttpContext http)
    {
        if (provider == "twitter") return TwitterGet(path, http);
        if (!Paths.TryGetValue(provider, out var paths)) return Results.NotFound();
        if (path == paths.Authorize) return Authorize(provider, http.Request.Query);
        var bearer = http.Request.Headers.Authorization.ToString();
        if (!bearer.StartsWith("Bearer ", StringComparison.Ordinal) || !tokens.TryGetValue(bearer[7..], out var grant) || grant.Provider != provider)
            return Results.Json(new { message = "Bad credentials" }, statusCode: 401);
        var body = UserApi(provider, path, grant.Person, http.Request);
        return body is null ? Results.NotFound() : Results.Json(body);
    }

    IResult Authorize(string provider, IQueryCollection q)
    {
        LastAuthorize[provider] = q;
        var redirect = q["redirect_uri"].ToString();
        var sep = redirect.Contains('?') ? "&" : "?";
        var state = Uri.EscapeDataString(q["state"].ToString());
        if (q["client_id"] != ClientId) return Results.BadRequest("unknown client");
        if (Deny.TryRemove(provider, out _))
            return Results.Redirect($"{redirect}{sep}error=access_denied&error_description={Uri.EscapeDataString("The user denied the request")}&state={state}");
        var code = Guid.NewGuid().ToString("N");
        var person = Next.TryGetValue(provider, out var p) ? p : throw new InvalidOperationException("no person for " + provider);
        codes[code] = (provider, person, redirect, q["code_challenge"].ToString() is { Length: > 0 } c ? c : null);
        return Results.Redirect($"{redirect}{sep}code={code}&state={state}");
    }

    async Task<IResult> TokenAsync(string provider, string path, HttpContext http)
    {
        if (provider == "twitter") return TwitterPost(path, http);
        if (!Paths.TryGetValue(provider, out var paths) || path != paths.Token) return Results.NotFound();
        var form = await http.Request.ReadFormAsync();
        var basic = http.Request.Headers.Authorization.ToString();
        var authenticated = paths.ParamsAuth
            ? form["client_id"] == ClientId && form["client_secret"] == ClientSecret
            : basic == "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(ClientId + ":" + ClientSecret));
        if (!authenticated) return Results.Json(new { error = "invalid_client" }, statusCode: 401);
        if (FailToken.TryRemove(provider, out _) || form["grant_type"] != "authorization_code"
            || !codes.TryRemove(form["code"].ToString(), out var grant) || grant.Provider != provider
            || grant.RedirectUri != form["redirect_uri"])
            return Results.Json(new { error = "invalid_grant", error_description = "Bad verification code." }, statusCode: 400);
        if (grant.Challenge is not null && grant.Challenge != OidcIssuer.Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString()))))
            return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
        var accessToken = "at-" + Guid.NewGuid().ToString("N");
        tokens[accessToken] = (provider, grant.Person);
        if (provider == "github")
            // GitHub answers form-encoded unless asked for JSON.
            return Results.Text($"access_token={accessToken}&scope=user%3Aemail&token_type=bearer", "application/x-www-form-urlencoded");
        var response = new JsonObject { ["access_token"] = accessToken, ["token_type"] = "Bearer", ["expires_in"] = 3600 };
        if (provider is not ("workos" or "notion")) response["refresh_token"] = "rt-" + Guid.NewGuid().ToString("N");
        if (provider == "workos") response["profile"] = WorkOSProfile(grant.Person);
        if (UsesIdToken(provider))
        {
            var claims = Issuer.Claims(ClientId, grant.Person.Id, grant.Person.Email, grant.Person.Verified);
            claims["name"] = grant.Person.Name;
            // Azure's optional email-verification claim, LinkedIn's name parts, Vercel's user claims (GoTrue provider/oidc.go reads these).
            if (provider == "azure") claims["xms_edov"] = grant.Person.Verified;
            if (provider == "linkedin_oidc")
            {
                claims["given_name"] = grant.Person.Name.Split(' ')[0];
                claims["family_name"] = grant.Person.Name.Split(' ')[^1];
            }
            if (provider == "vercel_marketplace")
            {
                claims["user_email"] = grant.Person.Email;
                claims["user_name"] = grant.Person.Name;
            }
            response["id_token"] = Issuer.Sign(claims);
        }
        return Results.Json(response);
    }

    // Twitter, OAuth 1.0a: request tokens (secret, callback), verifiers, access tokens (secret, person).
    readonly ConcurrentDictionary<string, (string Secret, string Callback)> requestTokens = new();
    readonly ConcurrentDictionary<string, (string RequestToken, FakePerson Person)> verifiers = new();
    readonly ConcurrentDictionary<string, (string Secret, FakePerson Person)> twitterTokens = new();

    /// <summary>The `Authorization: OAuth` parameters when the signature checks out with these secrets.</summary>
    Dictionary<string, string>? VerifiedOAuth1(HttpContext http, Func<string, string?> tokenSecret)
    {
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("OAuth ", StringComparison.Ordinal)) return null;
        var oauth = header[6..].Split(", ").Select(p => p.Split('=', 2))
            .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p[1].Trim('"')));
        if (oauth.GetValueOrDefault("oauth_consumer_key") != ClientId || oauth.GetValueOrDefault("oauth_signature_method") != "HMAC-SHA1")
            return null;
        var secret = oauth.TryGetValue("oauth_token", out var token) ? tokenSecret(token) : "";
        if (secret is null) return null;
        var parameters = oauth.Where(p => p.Key != "oauth_signature")
            .Concat(http.Request.Query.Select(q => KeyValuePair.Create(q.Key, q.Value.ToString())));
        var url = new Uri($"{http.Request.Scheme}://{http.Request.Host}{http.Request.Path}");
        var expected = AuthServer.Features.External.Providers.OAuth1.Sign(
            AuthServer.Features.External.Providers.OAuth1.BaseString(http.Request.Method, url, parameters), ClientSecret, secret);
        return expected == oauth.GetValueOrDefault("oauth_signature") ? oauth : null;
    }

    IResult TwitterPost(string path, HttpContext http)
    {
        if (path == "/oauth/request_token")
        {
            var oauth = VerifiedOAuth1(http, _ => null);
            if (oauth is null || !oauth.TryGetValue("oauth_callback", out var callback)) return Results.StatusCode(401);
            var token = "rt-" + Guid.NewGuid().ToString("N");
            var secret = "rs-" + Guid.NewGuid().ToString("N");
            requestTokens[token] = (secret, callback);
            return Results.Text($"oauth_token={token}&oauth_token_secret={secret}&oauth_callback_confirmed=true", "text/html");
        }
        if (path == "/oauth/access_token")
        {
            var oauth = VerifiedOAuth1(http, t => requestTokens.TryGetValue(t, out var r) ? r.Secret : null);
            if (oauth is null || FailToken.TryRemove("twitter", out _)
                || !verifiers.TryRemove(oauth.GetValueOrDefault("oauth_verifier") ?? "", out var grant) || grant.RequestToken != oauth["oauth_token"])
                return Results.StatusCode(401);
            var token = Random.Shared.NextInt64(1, 1_000_000) + "-at" + Guid.NewGuid().ToString("N");
            var secret = "as-" + Guid.NewGuid().ToString("N");
            twitterTokens[token] = (secret, grant.Person);
            return Results.Text($"oauth_token={token}&oauth_token_secret={secret}&user_id={grant.Person.Id}&screen_name=tw{grant.Person.Id}", "text/html");
        }
        return Results.NotFound();
    }

    IResult TwitterGet(string path, HttpContext http)
    {
        if (path == "/oauth/authenticate")
        {
            var q = http.Request.Query;
            LastAuthorize["twitter"] = q;
            if (!requestTokens.TryGetValue(q["oauth_token"].ToString(), out var request)) return Results.BadRequest("unknown token");
            var sep = request.Callback.Contains('?') ? "&" : "?";
            if (Deny.TryRemove("twitter", out _)) return Results.Redirect($"{request.Callback}{sep}denied={q["oauth_token"]}");
            var verifier = "v-" + Guid.NewGuid().ToString("N");
            verifiers[verifier] = (q["oauth_token"].ToString(), Next["twitter"]);
            return Results.Redirect($"{request.Callback}{sep}oauth_token={q["oauth_token"]}&oauth_verifier={verifier}");
        }
        if (path == "/1.1/account/verify_credentials.json")
        {
            var oauth = VerifiedOAuth1(http, t => twitterTokens.TryGetValue(t, out var a) ? a.Secret : null);
            if (oauth is null || http.Request.Query["include_email"] != "true") return Results.StatusCode(401);
            var p = twitterTokens[oauth["oauth_token"]].Person;
            return Results.Json(new JsonObject { ["id"] = long.Parse(p.Id), ["id_str"] = p.Id, ["name"] = p.Name, ["screen_name"] = "tw" + p.Id, ["profile_image_url_https"] = "https://pbs.twimg.example/p.jpg", ["email"] = p.Email });
        }
        return Results.NotFound();
    }

    static JsonObject WorkOSProfile(FakePerson p) => new()
    {
        ["object"] = "profile",
        ["id"] = p.Id,
        ["connection_id"] = "conn_1",
        ["organization_id"] = "org_1",
        ["connection_type"] = "GoogleOAuth",
        ["email"] = p.Email,
        ["first_name"] = p.Name.Split(' ')[0],
        ["last_name"] = p.Name.Split(' ')[^1],
        ["idp_id"] = "idp",
        ["raw_attributes"] = new JsonObject(),
    };

    /// <summary>The provider's user API for <paramref name="path"/>, null for a path it does not have.</summary>
    static JsonNode? UserApi(string provider, string path, FakePerson p, HttpRequest request)
    {
        var number = JsonValue.Create(long.Parse(p.Id));
        switch (provider, path)
        {
            case ("github", "/api/v3/user"):
                return new JsonObject { ["id"] = number, ["login"] = "octo" + p.Id, ["email"] = null, ["name"] = p.Name, ["avatar_url"] = "https://avatars.example/" + p.Id };
            case ("github", "/api/v3/user/emails"):
                return p.Email is null ? new JsonArray() : new JsonArray(
                    new JsonObject { ["email"] = "other-" + p.Email, ["primary"] = false, ["verified"] = true, ["visibility"] = null },
                    new JsonObject { ["email"] = p.Email, ["primary"] = true, ["verified"] = p.Verified, ["visibility"] = "public" });
            case ("gitlab", "/api/v4/user"):
                return new JsonObject { ["id"] = number, ["username"] = "gl" + p.Id, ["email"] = p.Email, ["name"] = p.Name, ["avatar_url"] = "https://gitlab.example/a.png", ["confirmed_at"] = p.Verified ? "2024-01-01T00:00:00Z" : null };
            case ("gitlab", "/api/v4/user/emails"):
                return p.Email is null ? new JsonArray()
                    : new JsonArray(new JsonObject { ["id"] = 7, ["email"] = "secondary-" + p.Email, ["confirmed_at"] = null });
            case ("bitbucket", "/2.0/user"):
                return new JsonObject { ["uuid"] = "{" + p.Id + "}", ["display_name"] = p.Name, ["avatar"] = new JsonObject { ["href"] = "https://bitbucket.example/a.png" } };
            case ("bitbucket", "/2.0/user/emails"):
                return new JsonObject { ["values"] = p.Email is null ? new JsonArray() : new JsonArray(new JsonObject { ["email"] = p.Email, ["is_primary"] = true, ["is_confirmed"] = p.Verified, ["type"] = "email" }) };
            case ("discord", "/api/users/@me"):
                return new JsonObject { ["id"] = p.Id, ["username"] = "disc" + p.Id, ["discriminator"] = "0", ["global_name"] = p.Name, ["avatar"] = "a_hash", ["email"] = p.Email, ["verified"] = p.Verified };
            case ("facebook", "/me"):
                // Graph API: the requested fields and an appsecret_proof for this token.
                var proof = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(ClientSecret),
                    Encoding.UTF8.GetBytes(request.Headers.Authorization.ToString()[7..])));
                if (request.Query["appsecret_proof"] != proof || request.Query["fields"] != "email,first_name,last_name,name,picture") return null;
                return new JsonObject { ["id"] = p.Id, ["email"] = p.Email, ["first_name"] = p.Name.Split(' ')[0], ["last_name"] = p.Name.Split(' ')[^1], ["name"] = p.Name, ["picture"] = new JsonObject { ["data"] = new JsonObject { ["url"] = "https://fb.example/p.jpg" } } };
            case ("figma", "/v1/me"):
                return new JsonObject { ["id"] = p.Id, ["email"] = p.Email, ["handle"] = p.Name, ["img_url"] = "https://figma.example/i.png" };
            case ("fly", "/oauth/token/info"):
                return new JsonObject { ["resource_owner_id"] = "ro" + p.Id, ["user_id"] = p.Id, ["user_name"] = p.Name, ["email"] = p.Email, ["organizations"] = new JsonArray(new JsonObject { ["id"] = "org", ["role"] = "admin" }), ["scope"] = new JsonArray("read"), ["application"] = new JsonObject { ["uid"] = "app" }, ["expires_in"] = 7200, ["created_at"] = 1700000000 };
            case ("kakao", "/v2/user/me"):
                return new JsonObject { ["id"] = number, ["kakao_account"] = new JsonObject { ["profile"] = new JsonObject { ["nickname"] = p.Name, ["profile_image_url"] = "https://kakao.example/p.jpg" }, ["email"] = p.Email, ["is_email_valid"] = true, ["is_email_verified"] = p.Verified } };
            case ("linkedin", "/v2/me"):
                return new JsonObject { ["id"] = p.Id, ["firstName"] = Localized(p.Name.Split(' ')[0]), ["lastName"] = Localized(p.Name.Split(' ')[^1]) };
            case ("linkedin", "/v2/emailAddress"):
                return new JsonObject { ["elements"] = new JsonArray(new JsonObject { ["handle"] = "urn:li:emailAddress:1", ["handle~"] = new JsonObject { ["emailAddress"] = p.Email ?? "" } }) };
            case ("notion", "/v1/users/me"):
                if (request.Headers["Notion-Version"] != "2021-08-16") return null;
                return new JsonObject { ["object"] = "user", ["type"] = "bot", ["bot"] = new JsonObject { ["owner"] = new JsonObject { ["type"] = "user", ["user"] = new JsonObject { ["id"] = p.Id, ["name"] = p.Name, ["avatar_url"] = "https://notion.example/a.png", ["person"] = new JsonObject { ["email"] = p.Email } } } } };
            case ("slack" or "slack_oidc", "/api/openid.connect.userInfo"):
                return new JsonObject { ["ok"] = true, ["sub"] = p.Id, ["https://slack.com/user_id"] = p.Id, ["https://slack.com/team_id"] = "T1", ["email"] = p.Email, ["name"] = p.Name, ["picture"] = "https://slack.example/p.png" };
            case ("snapchat", "/v1/me"):
                if (!request.Query["query"].ToString().Contains("externalId")) return null;
                return new JsonObject { ["data"] = new JsonObject { ["me"] = new JsonObject { ["externalId"] = p.Id, ["displayName"] = p.Name, ["bitmoji"] = new JsonObject { ["avatar"] = "https://snap.example/b.png" }, ["email"] = p.Email } } };
            case ("spotify", "/me"):
                return new JsonObject { ["id"] = p.Id, ["display_name"] = p.Name, ["email"] = p.Email, ["images"] = new JsonArray(new JsonObject { ["url"] = "https://spotify.example/i.jpg", ["height"] = 300, ["width"] = 300 }) };
            case ("twitch", "/helix/users"):
                if (request.Headers["Client-Id"] != ClientId) return null;
                return new JsonObject { ["data"] = new JsonArray(new JsonObject { ["id"] = p.Id, ["login"] = "tw" + p.Id, ["display_name"] = p.Name, ["type"] = "", ["broadcaster_type"] = "partner", ["description"] = "hi", ["profile_image_url"] = "https://twitch.example/p.png", ["offline_image_url"] = "", ["view_count"] = 5, ["email"] = p.Email, ["created_at"] = "2020-01-01T00:00:00Z" }) };
            case ("x", "/2/users/me"):
                return new JsonObject { ["data"] = new JsonObject { ["id"] = p.Id, ["name"] = p.Name, ["username"] = "x" + p.Id, ["confirmed_email"] = p.Email, ["profile_image_url"] = "https://x.example/p.jpg", ["url"] = "https://example.com", ["created_at"] = "2020-01-01T00:00:00.000Z" } };
            case ("zoom", "/v2/users/me"):
                return new JsonObject { ["id"] = p.Id, ["first_name"] = p.Name.Split(' ')[0], ["last_name"] = p.Name.Split(' ')[^1], ["email"] = p.Email, ["verified"] = p.Verified ? 1 : 0, ["login_type"] = "100", ["pic_url"] = "https://zoom.example/p.jpg" };
            default:
                return null;
        }
    }

    static JsonObject Localized(string value) => new()
    {
        ["localized"] = new JsonObject { ["en_US"] = value },
        ["preferredLocale"] = new JsonObject { ["country"] = "US", ["language"] = "en" },
    };

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        await Issuer.DisposeAsync();
    }
}
