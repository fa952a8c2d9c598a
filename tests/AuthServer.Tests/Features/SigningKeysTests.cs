using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Security;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace AuthServer.Tests.Features;

/// <summary>ES256 signing key A only (jwt.md §3).</summary>
public sealed class Es256KeyFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_JWT_KEYS"] = TestKeys.Keys(TestKeys.EcJwk(TestKeys.Es256A, TestKeys.KidA, sign: true));
}

/// <summary>RS256 signing plus ES256 key A verify-only, with HS256 accepted too (as the Supabase CLI configures it).</summary>
public sealed class Rs256KeyFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_JWT_KEYS"] = TestKeys.Keys(TestKeys.RsaJwk(TestKeys.Rs256, TestKeys.KidRsa, sign: true),
            TestKeys.EcJwk(TestKeys.Es256A, TestKeys.KidA, sign: false));
        settings["GOTRUE_JWT_VALID_METHODS"] = "HS256,RS256,ES256";
    }
}

/// <summary>The secret with GOTRUE_JWT_KEY_ID and a short secret GoTrue accepts (IdentityModel would not).</summary>
public sealed class OtherSecretKeyIdFixture : AuthServerFixture
{
    public const string OtherSecret = "another-hs256-secret-of-at-least-32-bytes";
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_JWT_SECRET"] = OtherSecret;
        settings["GOTRUE_JWT_KEY_ID"] = "legacy-secret";
    }
}

/// <summary>Key rotation: a server signing with key A, then one (same database) signing with B and keeping A verify-only.</summary>
public sealed class RotationFixture : IAsyncLifetime
{
    sealed class Before : AuthServerFixture
    {
        protected override void Configure(IDictionary<string, string> settings) =>
            settings["GOTRUE_JWT_KEYS"] = TestKeys.Keys(TestKeys.EcJwk(TestKeys.Es256A, TestKeys.KidA, sign: true));
    }

    sealed class After(string databaseUrl) : AuthServerFixture
    {
        protected override void Configure(IDictionary<string, string> settings)
        {
            settings["DATABASE_URL"] = databaseUrl;
            settings["GOTRUE_JWT_KEYS"] = TestKeys.Keys(TestKeys.EcJwk(TestKeys.Es256B, TestKeys.KidB, sign: true),
                TestKeys.EcJwk(TestKeys.Es256A, TestKeys.KidA, sign: false));
        }
    }

    public AuthServerFixture Old { get; private set; } = null!;
    public AuthServerFixture New { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Old = new Before();
        await Old.InitializeAsync();
        New = new After(Old.Db.ConnectionString);
        await New.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await New.DisposeAsync();
        await Old.DisposeAsync();
    }
}

public sealed class Es256SigningTests(Es256KeyFixture server) : IClassFixture<Es256KeyFixture>
{
    [Fact]
    public async Task Signup_WithEs256Key_TokenCarriesAlgAndKidAndVerifiesWithPublicKey()
    {
        var (_, _, session) = await server.NewUserAsync("es256");
        var token = (string)session["access_token"]!;

        ApiAssert.JsonEqual($$"""{"alg":"ES256","kid":"{{TestKeys.KidA}}","typ":"JWT"}""", Jwt.Header(token));
        Assert.True(TestKeys.VerifyEs256(token, TestKeys.Es256A));
        using var client = server.CreateClient(bearer: token);
        await server.OkJsonAsync(await client.GetAsync("/user"));
        // The refreshed token is signed the same way.
        var refreshed = await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)session["refresh_token"]! }));
        Assert.True(TestKeys.VerifyEs256((string)refreshed["access_token"]!, TestKeys.Es256A));
    }

    [Fact]
    public async Task Jwks_PublishesPublicKeyOnlyWithCacheHeaders()
    {
        using var client = server.CreateClient();
        var response = await client.GetAsync("/.well-known/jwks.json");
        var body = await server.OkJsonAsync(response);

        Assert.Equal("public, max-age=600", response.Headers.CacheControl!.ToString());
        var key = Assert.Single(body["keys"]!.AsArray())!.AsObject();
        Assert.Equal(["alg", "crv", "key_ops", "kid", "kty", "use", "x", "y"], key.Select(p => p.Key));
        var p = TestKeys.Es256A.ExportParameters(false);
        ApiAssert.JsonEqual($$"""
            {"alg":"ES256","crv":"P-256","key_ops":["verify"],"kid":"{{TestKeys.KidA}}","kty":"EC","use":"sig",
             "x":"{{Base64Url(p.Q.X!)}}","y":"{{Base64Url(p.Q.Y!)}}"}
            """, key);
        Assert.Equal(body.ToJsonString(), await (await client.GetAsync("/auth/v1/.well-known/jwks.json")).Content.ReadAsStringAsync());
    }

    [Fact]
    [Trait("catalogue", "T2")]
    public async Task AdminRoute_Hs256ServiceKeyWhenOnlyEs256Accepted_Returns403BadJwt() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "bad_jwt",
            "invalid JWT: unable to parse or verify signature, token signature is invalid: signing method HS256 is invalid",
            bearer: TestKeys.ServiceRoleKey());

    [Fact]
    public async Task AdminRoute_Es256ServiceKeyWithKid_IsAccepted()
    {
        var token = TestKeys.SignEs256(new JsonObject { ["role"] = "service_role" }, TestKeys.Es256A, TestKeys.KidA);
        using var client = server.CreateClient(bearer: token);
        await server.OkJsonAsync(await client.GetAsync("/admin/users"));
    }

    [Theory]
    [InlineData("unknown-kid", "token is unverifiable: error while executing keyfunc: invalid kid: unknown-kid")]
    [InlineData(null, "token is unverifiable: error while executing keyfunc: missing kid")]
    [Trait("catalogue", "T3")]
    public async Task AdminRoute_Es256WithUnknownOrMissingKid_Returns403BadJwt(string? kid, string reason)
    {
        var token = TestKeys.SignEs256(new JsonObject { ["role"] = "service_role" }, TestKeys.Es256A, kid);
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "bad_jwt",
            "invalid JWT: unable to parse or verify signature, " + reason, bearer: token);
    }

    [Fact]
    [Trait("catalogue", "T2")]
    public async Task AdminRoute_Es256SignedByAnotherKeyUnderOurKid_Returns403BadJwt()
    {
        var token = TestKeys.SignEs256(new JsonObject { ["role"] = "service_role" }, TestKeys.Es256B, TestKeys.KidA);
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "bad_jwt",
            "invalid JWT: unable to parse or verify signature, token signature is invalid: crypto/ecdsa: verification error", bearer: token);
    }

    [Fact]
    [Trait("catalogue", "T1")]
    public async Task UserRoute_AlgNone_Returns403BadJwt()
    {
        var (_, _, session) = await server.NewUserAsync("none");
        var token = Jwt.Unsigned(Jwt.Payload((string)session["access_token"]!));
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "bad_jwt",
            "invalid JWT: unable to parse or verify signature, token signature is invalid: signing method none is invalid", bearer: token);
    }

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

public sealed class Rs256SigningTests(Rs256KeyFixture server) : IClassFixture<Rs256KeyFixture>
{
    [Fact]
    public async Task Signup_WithRs256Key_TokenVerifiesWithRsaKey()
    {
        var (_, _, session) = await server.NewUserAsync("rs256");
        var token = (string)session["access_token"]!;
        ApiAssert.JsonEqual($$"""{"alg":"RS256","kid":"{{TestKeys.KidRsa}}","typ":"JWT"}""", Jwt.Header(token));
        Assert.True(TestKeys.VerifyRs256(token, TestKeys.Rs256));
        using var client = server.CreateClient(bearer: token);
        await server.OkJsonAsync(await client.GetAsync("/user"));
    }

    [Fact]
    public async Task Jwks_ListsRsaAndVerifyOnlyEcKey()
    {
        using var client = server.CreateClient();
        var keys = (await server.OkJsonAsync(await client.GetAsync("/.well-known/jwks.json")))["keys"]!.AsArray();
        Assert.Equal([TestKeys.KidA, TestKeys.KidRsa], keys.Select(k => (string)k!["kid"]!).Order());
        var rsa = keys.Single(k => (string?)k!["kty"] == "RSA")!.AsObject();
        Assert.Equal(["alg", "e", "key_ops", "kid", "kty", "n", "use"], rsa.Select(p => p.Key));
        Assert.All(keys, k => Assert.False(k!.AsObject().ContainsKey("d")));
    }

    [Fact]
    public async Task AdminRoute_Hs256ServiceKeyListedInValidMethods_IsAccepted()
    {
        using var client = server.CreateClient(bearer: TestKeys.ServiceRoleKey(withExp: false));
        await server.OkJsonAsync(await client.GetAsync("/admin/users"));
    }

    [Fact]
    [Trait("catalogue", "T2")]
    public async Task AdminRoute_Hs256TokenSignedWithRsaKidAndPublicKeyBytes_Returns403BadJwt()
    {
        // Key confusion: an HS256 MAC keyed with the RSA public key, pointing at the RSA kid.
        var header = new JsonObject { ["alg"] = "HS256", ["kid"] = TestKeys.KidRsa, ["typ"] = "JWT" };
        var token = Jwt.Sign(new JsonObject { ["role"] = "service_role" }, TestKeys.Rs256.ExportSubjectPublicKeyInfoPem(), header);
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "bad_jwt",
            "invalid JWT: unable to parse or verify signature, token signature is invalid: key is of invalid type", bearer: token);
    }
}

public sealed class OtherSecretSigningTests(OtherSecretKeyIdFixture server) : IClassFixture<OtherSecretKeyIdFixture>
{
    [Fact]
    public async Task Signup_OtherSecretWithKeyId_SignsHs256WithKid()
    {
        var (_, _, session) = await server.NewUserAsync("short");
        var token = (string)session["access_token"]!;
        ApiAssert.JsonEqual("""{"alg":"HS256","kid":"legacy-secret","typ":"JWT"}""", Jwt.Header(token));
        Assert.True(Jwt.HasValidHs256Signature(token, OtherSecretKeyIdFixture.OtherSecret));
        using var client = server.CreateClient(bearer: token);
        await server.OkJsonAsync(await client.GetAsync("/user"));
    }

    [Fact]
    public async Task Jwks_SecretOnly_IsEmpty()
    {
        using var client = server.CreateClient();
        ApiAssert.JsonEqual("""{"keys":[]}""", await server.OkJsonAsync(await client.GetAsync("/.well-known/jwks.json")));
    }

    [Fact]
    public async Task AdminRoute_Hs256WithUnknownKid_Returns403BadJwt()
    {
        var header = new JsonObject { ["alg"] = "HS256", ["kid"] = "other", ["typ"] = "JWT" };
        var token = Jwt.Sign(new JsonObject { ["role"] = "service_role" }, OtherSecretKeyIdFixture.OtherSecret, header);
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "bad_jwt",
            "invalid JWT: unable to parse or verify signature, token is unverifiable: error while executing keyfunc: invalid kid: other",
            bearer: token);
    }

    [Fact]
    public async Task AdminRoute_Hs256WithoutKid_IsAccepted()
    {
        using var client = server.CreateClient(bearer: TestKeys.ServiceRoleKey(OtherSecretKeyIdFixture.OtherSecret, withExp: false));
        await server.OkJsonAsync(await client.GetAsync("/admin/users"));
    }
}

public sealed class KeyRotationTests(RotationFixture servers) : IClassFixture<RotationFixture>
{
    [Fact]
    [Trait("catalogue", "M6")]
    public async Task Rotation_OldTokensStillAccepted_NewTokensCarryNewKid_JwksShowsBoth()
    {
        var (email, password, before) = await servers.Old.NewUserAsync("rotate");
        var oldToken = (string)before["access_token"]!;
        Assert.Equal(TestKeys.KidA, (string?)Jwt.Header(oldToken)["kid"]);

        // The rotated server accepts the token signed before the rotation…
        using var client = servers.New.CreateClient(bearer: oldToken);
        await servers.New.OkJsonAsync(await client.GetAsync("/user"));
        // …and signs new ones (sign-in and refresh) with key B.
        var after = await servers.New.SignInAsync(email, password);
        Assert.Equal(TestKeys.KidB, (string?)Jwt.Header((string)after["access_token"]!)["kid"]);
        Assert.True(TestKeys.VerifyEs256((string)after["access_token"]!, TestKeys.Es256B));
        var refreshed = await servers.New.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)before["refresh_token"]! }));
        Assert.Equal(TestKeys.KidB, (string?)Jwt.Header((string)refreshed["access_token"]!)["kid"]);

        using var anon = servers.New.CreateClient();
        var keys = (await servers.New.OkJsonAsync(await anon.GetAsync("/.well-known/jwks.json")))["keys"]!.AsArray();
        Assert.Equal([TestKeys.KidA, TestKeys.KidB], keys.Select(k => (string)k!["kid"]!).Order());

        // The old server does not know key B.
        using var old = servers.Old.CreateClient(AuthServerFixture.ApiVersion2024, (string)after["access_token"]!);
        await ApiAssert.ErrorAsync(await old.GetAsync("/user"), 403, "bad_jwt");
    }
}

/// <summary>GOTRUE_JWT_KEYS parsing: a bad key set stops the boot with a message naming the variable.</summary>
public sealed class SigningKeysConfigTests
{
    static SigningKeys Load(string? keys, string? validMethods = null)
    {
        var values = new Dictionary<string, string?> { ["GOTRUE_JWT_SECRET"] = "config-test-secret-of-at-least-32-bytes", ["GOTRUE_JWT_KEYS"] = keys, ["GOTRUE_JWT_VALID_METHODS"] = validMethods };
        var env = new EnvReader(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        return SigningKeys.Load(env, JwtOptions.Load(env));
    }

    [Theory]
    [InlineData("not json", "GOTRUE_JWT_KEYS: not valid JSON")]
    [InlineData("{}", "GOTRUE_JWT_KEYS: must be a JSON array")]
    [InlineData("""[{"kty":"oct","k":"c2VjcmV0","kid":"a","key_ops":["verify"]}]""", "GOTRUE_JWT_KEYS: no signing key detected")]
    [InlineData("""[{"kty":"oct","k":"c2VjcmV0","kid":"a","key_ops":["sign"]},{"kty":"oct","k":"c2VjcmV0","kid":"b","key_ops":["sign"]}]""", "GOTRUE_JWT_KEYS: multiple signing keys detected")]
    [InlineData("""[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"a","key_ops":["sign"]}]""", "GOTRUE_JWT_KEYS: signing key a has no private part")]
    [InlineData("""[{"kty":"XYZ","kid":"a","key_ops":["sign"]}]""", "GOTRUE_JWT_KEYS: unsupported kty XYZ")]
    public void Load_InvalidKeys_ThrowsConfigException(string keys, string message) =>
        Assert.StartsWith(message, Assert.Throws<ConfigException>(() => Load(keys)).Message);

    [Theory]
    [InlineData("ES256")]
    [InlineData("RS256")]
    [InlineData("EdDSA")]
    public void GeneratedJwk_IsAcceptedAsSigningKey_AndSignsVerifiableTokens(string alg)
    {
        var keys = Load("[" + JwkGenerator.Generate(alg) + "]");
        Assert.Equal(alg, keys.Signing.Alg);
        Assert.Equal([alg], keys.ValidMethods);
        var tokens = new AccessTokens(keys);
        var token = tokens.Sign(new JsonObject { ["sub"] = "x", ["exp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 60 });
        Assert.True(tokens.TryVerify(token, DateTimeOffset.UtcNow, out var claims, out var reason), reason);
        Assert.Equal("x", claims!.Sub);
        Assert.Equal(alg, (string?)Jwt.Header(token)["alg"]);
        Assert.DoesNotContain("\"d\"", Assert.Single(keys.PublicJwks).ToJsonString());
        // Tampering with the payload breaks the signature.
        var parts = token.Split('.');
        var forged = parts[0] + "." + parts[1][..^2] + (parts[1][^2] == 'A' ? "B" : "A") + parts[1][^1] + "." + parts[2];
        Assert.False(tokens.TryVerify(forged, DateTimeOffset.UtcNow, out _, out _));
    }

    [Fact]
    public void SecretOnly_AcceptsHs256Only()
    {
        var keys = Load(null);
        Assert.Equal(["HS256"], keys.ValidMethods);
        Assert.Empty(keys.PublicJwks);
    }

    [Fact]
    public void OctKey_IsNeverPublished()
    {
        var keys = Load("""[{"kty":"oct","k":"c2VjcmV0LXNlY3JldA","kid":"sym","alg":"HS256","key_ops":["sign","verify"]}]""");
        Assert.Empty(keys.PublicJwks);
        Assert.Equal("sym", keys.Signing.Kid);
    }
}
