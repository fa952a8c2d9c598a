using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AuthServer.Config;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace AuthServer.Security;

/// The token is not acceptable (signature, algorithm, issuer, lifetime, at_hash). The reason is for
/// logs only: clients get GoTrue's "Bad ID token".
internal sealed class IdTokenInvalidException(string reason, Exception? inner = null) : Exception(reason, inner);

/// The token's `iss` is not one the provider's configuration accepts (checked before any key fetch).
internal sealed class IdTokenIssuerException(string issuer) : Exception($"issuer '{issuer}' is not accepted");

/// The issuer's discovery document or JWKS could not be obtained and nothing is cached: retryable (503).
internal sealed class IssuerUnavailableException(string issuer, Exception inner)
    : Exception($"OIDC configuration of {issuer} is unavailable", inner);

/// A verified ID token: its claims as the issuer signed them.
internal sealed record VerifiedIdToken(JsonElement Claims, string Issuer)
{
    public string? Str(string name) =>
        Claims.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
    public IReadOnlyList<string> Audiences => Claims.TryGetProperty("aud", out var aud)
        ? aud.ValueKind switch
        {
            JsonValueKind.String => [aud.GetString()!],
            JsonValueKind.Array => aud.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String)
                .Select(a => a.GetString()!).ToList(),
            _ => [],
        }
        : [];
}

/// OIDC plumbing for external providers: one IdentityModel `ConfigurationManager` per issuer over its
/// discovery document and JWKS (cached `GOTRUE_EXTERNAL_OIDC_PROVIDER_CACHE_TTL`), one refetch when a
/// token names an unknown `kid` (at most one per cooldown per issuer, so random kids cannot turn us into
/// a request amplifier), every fetch bounded by `GOTRUE_INTERNAL_HTTP_TIMEOUT`. The issuer and its
/// discovery address always come from configuration (CVE-2026-31813), never from the token or request.
internal sealed class IdTokens : IDisposable
{
    // Refresh synchronously when asked: IdentityModel 8 otherwise refreshes in the background and hands
    // back the stale keys, so a key rotation would fail the very request that noticed it.
    static IdTokens() => AppContext.SetSwitch("Switch.Microsoft.IdentityModel.UpdateConfigAsBlocking", true);

    // RFC 8725 §3.1: asymmetric algorithms only, so `none` and HS256-keyed-with-the-public-key never verify.
    static readonly string[] Algorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    // go-oidc's allowed clock skew for `nbf`; we apply it to a future `iat` too.
    static readonly TimeSpan Leeway = TimeSpan.FromMinutes(5);

    readonly ExternalOptions options;
    readonly HttpClient http;
    readonly ConcurrentDictionary<string, ConfigurationManager<OpenIdConnectConfiguration>> managers = new();
    readonly JsonWebTokenHandler handler = new();

    public IdTokens(ExternalOptions options) : this(options, new SocketsHttpHandler { AllowAutoRedirect = false })
    {
    }

    /// Tests hand in a handler that trusts their loopback CA (certificate validation stays on); not public, so
    /// DI never picks it and production always uses the handler above.
    internal IdTokens(ExternalOptions options, HttpMessageHandler handler)
    {
        this.options = options;
        http = new HttpClient(handler) { Timeout = options.HttpTimeout };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("AuthServer");
    }

    /// Outbound calls to providers (token exchange, userinfo) share the bounded client.
    public HttpClient Http => http;

    /// The issuer's discovery document with its signing keys, from cache when fresh.
    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string issuer, CancellationToken ct)
    {
        var manager = Manager(issuer);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.HttpTimeout * 2); // discovery + JWKS
        try
        {
            return await manager.GetConfigurationAsync(timeout.Token);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            throw new IssuerUnavailableException(issuer, e);
        }
    }

    /// Verifies signature, algorithm, `iss` (one of <paramref name="acceptedIssuers"/>), `exp`, `nbf`,
    /// `iat` and — when an access token is given and the token has one — `at_hash`. Audience and nonce
    /// are the caller's (GoTrue checks them with its own messages).
    public async Task<VerifiedIdToken> VerifyAsync(string idToken, IReadOnlyList<string> acceptedIssuers,
        DateTimeOffset now, string? accessToken, CancellationToken ct)
    {
        JsonWebToken jwt;
        string iss;
        try
        {
            jwt = handler.ReadJsonWebToken(idToken);
            iss = jwt.Issuer;
            _ = jwt.Kid;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever the client sent, an unreadable token is a 400, never a 500.
            throw new IdTokenInvalidException("malformed token", e);
        }
        if (!Algorithms.Contains(jwt.Alg, StringComparer.Ordinal))
            throw new IdTokenInvalidException($"algorithm '{jwt.Alg}' is not allowed");
        if (!acceptedIssuers.Contains(iss, StringComparer.Ordinal))
            throw new IdTokenIssuerException(iss);

        // Keys come from the configured issuer; Google's bare `accounts.google.com` form has none of its own.
        var discoveryIssuer = iss.StartsWith("https://", StringComparison.Ordinal) || iss.StartsWith("http://", StringComparison.Ordinal)
            ? iss : acceptedIssuers[0];
        var config = await GetConfigurationAsync(discoveryIssuer, ct);
        if (jwt.Kid is { Length: > 0 } kid && !config.SigningKeys.Any(k => k.KeyId == kid))
        {
            // Key rotation: refetch once; RequestRefresh is a no-op inside the cooldown.
            Manager(discoveryIssuer).RequestRefresh();
            config = await GetConfigurationAsync(discoveryIssuer, ct);
            if (!config.SigningKeys.Any(k => k.KeyId == kid))
                throw new IdTokenInvalidException("unknown kid");
        }

        var result = await handler.ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidateIssuer = false, // checked above against configuration, and covered by the signature
            ValidateAudience = false,
            ValidateLifetime = false, // checked below on our clock
            RequireSignedTokens = true,
            ValidAlgorithms = Algorithms,
            IssuerSigningKeys = config.SigningKeys,
            TryAllIssuerSigningKeys = jwt.Kid is not { Length: > 0 },
        });
        if (!result.IsValid)
            throw new IdTokenInvalidException("signature", result.Exception);

        JsonElement claims;
        try { claims = JsonDocument.Parse(Base64UrlEncoder.Decode(jwt.EncodedPayload)).RootElement.Clone(); }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            throw new IdTokenInvalidException("unreadable claims", e);
        }
        if (claims.ValueKind != JsonValueKind.Object) throw new IdTokenInvalidException("claims are not an object");
        // go-oidc decodes these into strings and fails the token otherwise.
        foreach (var name in new[] { "sub", "nonce", "azp", "at_hash" })
            if (claims.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.String)
                throw new IdTokenInvalidException($"claim {name} is not a string");
        if (claims.TryGetProperty("aud", out var aud) && aud.ValueKind != JsonValueKind.String &&
            !(aud.ValueKind == JsonValueKind.Array && aud.EnumerateArray().All(a => a.ValueKind == JsonValueKind.String)))
            throw new IdTokenInvalidException("claim aud is not a string or a list of strings");
        var unix = now.ToUnixTimeSeconds();
        if (!NumericDate(claims, "exp", out var exp) || exp is null) throw new IdTokenInvalidException("missing exp");
        if (unix > exp) throw new IdTokenInvalidException("expired");
        if (!NumericDate(claims, "nbf", out var nbf) || nbf > unix + Leeway.TotalSeconds)
            throw new IdTokenInvalidException("not valid yet");
        if (!NumericDate(claims, "iat", out var iat) || iat > unix + Leeway.TotalSeconds)
            throw new IdTokenInvalidException("issued in the future");

        if (!string.IsNullOrEmpty(accessToken) && claims.TryGetProperty("at_hash", out var atHash) &&
            atHash.ValueKind == JsonValueKind.String &&
            !Secrets.FixedTimeEquals(AccessTokenHash(jwt.Alg, accessToken), atHash.GetString()!))
            throw new IdTokenInvalidException("at_hash mismatch");

        return new VerifiedIdToken(claims, iss);
    }

    /// OIDC Core §3.1.3.6: left half of the hash of the access token, hash size from the token's alg.
    static string AccessTokenHash(string alg, string accessToken)
    {
        var bytes = Encoding.ASCII.GetBytes(accessToken);
        var digest = alg[^3..] switch
        {
            "384" => SHA384.HashData(bytes),
            "512" => SHA512.HashData(bytes),
            _ => SHA256.HashData(bytes),
        };
        return Base64Url.Encode(digest.AsSpan(0, digest.Length / 2));
    }

    /// False if the claim is present but not a number; value null when absent.
    static bool NumericDate(JsonElement claims, string name, out double? value)
    {
        value = null;
        if (!claims.TryGetProperty(name, out var v)) return true;
        if (!v.TryGetDouble(out var d)) return false;
        value = d;
        return true;
    }

    // Azure takes any tenant's issuer from the token (as GoTrue does), so the set of issuers is the client's to
    // choose: past this many, entries are dropped (a dropped issuer is fetched again when next used).
    internal const int MaxIssuers = 256;

    ConfigurationManager<OpenIdConnectConfiguration> Manager(string issuer)
    {
        if (managers.TryGetValue(issuer, out var known)) return known;
        foreach (var key in managers.Keys.Take(Math.Max(0, managers.Count - MaxIssuers + 1)))
            managers.TryRemove(key, out _);
        return managers.GetOrAdd(issuer, NewManager);
    }

    internal int CachedIssuers => managers.Count;

    ConfigurationManager<OpenIdConnectConfiguration> NewManager(string i)
    {
        var loopback = Uri.TryCreate(i, UriKind.Absolute, out var uri) && uri.IsLoopback;
        return new ConfigurationManager<OpenIdConnectConfiguration>(
            i.TrimEnd('/') + "/.well-known/openid-configuration",
            new OpenIdConnectConfigurationRetriever(),
            new HttpDocumentRetriever(http) { RequireHttps = !loopback })
        {
            AutomaticRefreshInterval = Max(options.OidcCacheTtl, BaseConfigurationManager.MinimumAutomaticRefreshInterval),
            RefreshInterval = Max(options.KeyRefreshCooldown, BaseConfigurationManager.MinimumRefreshInterval),
        };
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    public void Dispose() => http.Dispose();
}
