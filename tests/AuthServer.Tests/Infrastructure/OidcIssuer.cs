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

/// <summary>
/// A stand-in for Google / Apple / any OIDC provider on 127.0.0.1: its own RSA and EC keys, discovery
/// document, JWKS (with fault modes: 500, hang, garbage), authorize, token and userinfo endpoints, and
/// <see cref="Sign"/> to mint any ID token a test needs, well-formed or not.
/// </summary>
public sealed class OidcIssuer : IAsyncDisposable
{
    public enum JwksMode { Ok, Error500, Hang, Garbage }

    public const string ClientId = "oauth-client";
    public const string ClientSecret = "oauth-secret";

    readonly WebApplication app;
    readonly ConcurrentDictionary<string, Grant> codes = new();
    readonly ConcurrentDictionary<string, JsonObject> accessTokens = new();
    int jwksHits;
    RSA rsa = RSA.Create(2048);
    readonly ECDsa ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    sealed record Grant(JsonObject Claims, string RedirectUri, string? Challenge, string? Nonce);

    public string Issuer { get; private set; } = "";
    public string RsaKid { get; private set; } = "rsa-" + Guid.NewGuid().ToString("N")[..8];
    public string EcKid { get; } = "ec-" + Guid.NewGuid().ToString("N")[..8];
    public JwksMode Mode { get; set; }
    public int JwksHits => Volatile.Read(ref jwksHits);
    /// <summary>Claims of whoever "logs in" at the next /authorize (sub, email, email_verified…).</summary>
    public JsonObject NextUser { get; set; } = new() { ["sub"] = "oauth-user", ["email"] = "oauth@example.com", ["email_verified"] = true };
    /// <summary>False: the token response carries no id_token, so the server must call userinfo.</summary>
    public bool ReturnIdToken { get; set; } = true;
    /// <summary>The query of the last /authorize request the browser made.</summary>
    public IQueryCollection? LastAuthorizeQuery { get; private set; }
    /// <summary>True: the next /authorize answers `error=access_denied` (the user refused consent).</summary>
    public bool DenyNext { get; set; }
    /// <summary>Also take client credentials by HTTP Basic at /token (RFC 6749 §2.3.1); by default only in the form.</summary>
    public bool AcceptBasicAuth { get; set; }
    /// <summary>How the last successful /token request authenticated: "basic" or "form".</summary>
    public string? LastTokenAuth { get; private set; }

    OidcIssuer(WebApplication app) => this.app = app;

    /// <param name="tls">Serve HTTPS with this certificate (see <see cref="TestTls"/>), as real issuers do.</param>
    public static OidcIssuer Start(System.Security.Cryptography.X509Certificates.X509Certificate2? tls = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (tls is not null) listen.UseHttps(tls);
        }));
        var app = builder.Build();
        var issuer = new OidcIssuer(app);
        issuer.Map();
        app.StartAsync().GetAwaiter().GetResult();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        issuer.Issuer = address.TrimEnd('/');
        return issuer;
    }

    void Map()
    {
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new JsonObject
        {
            ["issuer"] = Issuer,
            ["authorization_endpoint"] = Issuer + "/authorize",
            ["token_endpoint"] = Issuer + "/token",
            ["userinfo_endpoint"] = Issuer + "/userinfo",
            ["jwks_uri"] = Issuer + "/jwks",
            ["response_types_supported"] = new JsonArray("code"),
            ["subject_types_supported"] = new JsonArray("public"),
            ["id_token_signing_alg_values_supported"] = new JsonArray("RS256", "ES256"),
        }));
        app.MapGet("/jwks", async (HttpContext http) =>
        {
            Interlocked.Increment(ref jwksHits);
            switch (Mode)
            {
                case JwksMode.Error500: return Results.StatusCode(500);
                case JwksMode.Hang:
                    await Task.Delay(Timeout.Infinite, http.RequestAborted).ContinueWith(_ => { });
                    return Results.StatusCode(504);
                case JwksMode.Garbage: return Results.Text("{\"keys\": [ not json", "application/json");
                default: return Results.Json(Jwks());
            }
        });
        app.MapGet("/authorize", (HttpContext http) =>
        {
            var q = http.Request.Query;
            LastAuthorizeQuery = q;
            if (q["client_id"] != ClientId) return Results.BadRequest("unknown client");
            var sep = q["redirect_uri"].ToString().Contains('?') ? "&" : "?";
            if (DenyNext)
            {
                DenyNext = false;
                return Results.Redirect($"{q["redirect_uri"]}{sep}error=access_denied&error_description={Uri.EscapeDataString("The user denied the request")}&state={Uri.EscapeDataString(q["state"].ToString())}");
            }
            var code = Guid.NewGuid().ToString("N");
            codes[code] = new Grant((JsonObject)NextUser.DeepClone(), q["redirect_uri"].ToString(),
                q["code_challenge"].ToString() is { Length: > 0 } c ? c : null, q["nonce"].ToString() is { Length: > 0 } n ? n : null);
            return Results.Redirect($"{q["redirect_uri"]}{sep}code={code}&state={Uri.EscapeDataString(q["state"].ToString())}");
        });
        app.MapPost("/token", async (HttpContext http) =>
        {
            var form = await http.Request.ReadFormAsync();
            var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(ClientId + ":" + ClientSecret));
            var auth = form["client_id"] == ClientId && form["client_secret"] == ClientSecret ? "form"
                : AcceptBasicAuth && http.Request.Headers.Authorization == basic ? "basic" : null;
            if (auth is null) return Results.Json(new { error = "invalid_client" }, statusCode: 401);
            if (!codes.TryRemove(form["code"].ToString(), out var grant) || grant.RedirectUri != form["redirect_uri"])
                return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
            if (grant.Challenge is not null)
            {
                var expected = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString())));
                if (expected != grant.Challenge) return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
            }
            var accessToken = "at-" + Guid.NewGuid().ToString("N");
            accessTokens[accessToken] = grant.Claims;
            LastTokenAuth = auth;
            var response = new JsonObject
            {
                ["access_token"] = accessToken,
                ["token_type"] = "Bearer",
                ["expires_in"] = 3600,
                ["refresh_token"] = "rt-" + Guid.NewGuid().ToString("N"),
            };
            if (ReturnIdToken)
            {
                var claims = Claims(ClientId, (string)grant.Claims["sub"]!);
                foreach (var (k, v) in grant.Claims) claims[k] = v?.DeepClone();
                if (grant.Nonce is not null) claims["nonce"] = grant.Nonce;
                response["id_token"] = Sign(claims);
            }
            return Results.Json(response);
        });
        app.MapGet("/userinfo", (HttpContext http) =>
        {
            var token = http.Request.Headers.Authorization.ToString().Replace("Bearer ", "");
            return accessTokens.TryGetValue(token, out var claims) ? Results.Json(claims) : Results.StatusCode(401);
        });
    }

    public JsonObject Jwks()
    {
        var r = rsa.ExportParameters(false);
        var e = ec.ExportParameters(false);
        return new JsonObject
        {
            ["keys"] = new JsonArray(
                new JsonObject { ["kty"] = "RSA", ["kid"] = RsaKid, ["use"] = "sig", ["alg"] = "RS256", ["n"] = Base64Url(r.Modulus!), ["e"] = Base64Url(r.Exponent!) },
                new JsonObject { ["kty"] = "EC", ["kid"] = EcKid, ["use"] = "sig", ["alg"] = "ES256", ["crv"] = "P-256", ["x"] = Base64Url(e.Q.X!), ["y"] = Base64Url(e.Q.Y!) }),
        };
    }

    /// <summary>A new RSA key under a new kid; the old one is gone from the JWKS.</summary>
    public void RotateRsaKey()
    {
        rsa = RSA.Create(2048);
        RsaKid = "rsa-" + Guid.NewGuid().ToString("N")[..8];
    }

    /// <summary>Standard claims for a token valid now: iss, aud, sub, iat, exp (+1 h).</summary>
    public JsonObject Claims(string aud, string sub, string? email = null, bool emailVerified = true, DateTimeOffset? now = null)
    {
        var t = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var claims = new JsonObject { ["iss"] = Issuer, ["aud"] = aud, ["sub"] = sub, ["iat"] = t, ["exp"] = t + 3600 };
        if (email is not null)
        {
            claims["email"] = email;
            claims["email_verified"] = emailVerified;
        }
        return claims;
    }

    /// <summary>Signs with the issuer's RSA key (RS256) or EC key (ES256); header fields can be overridden.</summary>
    public string Sign(JsonObject claims, string alg = "RS256", string? kid = null, RSA? otherKey = null)
    {
        var header = new JsonObject { ["alg"] = alg, ["kid"] = kid ?? (alg == "ES256" ? EcKid : RsaKid), ["typ"] = "JWT" };
        var input = Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var data = Encoding.ASCII.GetBytes(input);
        var signature = alg switch
        {
            "ES256" => ec.SignData(data, HashAlgorithmName.SHA256),
            "HS256" => HMACSHA256.HashData(Encoding.ASCII.GetBytes(PublicKeyPem()), data),
            _ => (otherKey ?? rsa).SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        };
        return input + "." + Base64Url(signature);
    }

    /// <summary>`alg: none`, no signature.</summary>
    public static string Unsigned(JsonObject claims) =>
        Base64Url(Encoding.UTF8.GetBytes("{\"alg\":\"none\",\"typ\":\"JWT\"}")) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString())) + ".";

    public string PublicKeyPem() => rsa.ExportSubjectPublicKeyInfoPem();

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
