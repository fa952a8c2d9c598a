using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// A rolling rotation from ES256 key A to key B on one database: replica X still signs with A and already
/// trusts B, replica Y signs with B and still trusts A, and a last replica has retired A.
/// </summary>
public sealed class RollingRotationFixture : IAsyncLifetime
{
    public AuthServerFixture X { get; private set; } = null!;
    public AuthServerFixture Y { get; private set; } = null!;
    public AuthServerFixture Retired { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        X = new ConfiguredServer(s => s["GOTRUE_JWT_KEYS"] = TestKeys.Keys(
            TestKeys.EcJwk(TestKeys.Es256A, TestKeys.KidA, sign: true), TestKeys.EcJwk(TestKeys.Es256B, TestKeys.KidB, sign: false)));
        await X.InitializeAsync();
        Y = new SameDatabaseServer(X.Db.ConnectionString, s => s["GOTRUE_JWT_KEYS"] = TestKeys.Keys(
            TestKeys.EcJwk(TestKeys.Es256B, TestKeys.KidB, sign: true), TestKeys.EcJwk(TestKeys.Es256A, TestKeys.KidA, sign: false)));
        await Y.InitializeAsync();
        Retired = new SameDatabaseServer(X.Db.ConnectionString, s => s["GOTRUE_JWT_KEYS"] = TestKeys.Keys(
            TestKeys.EcJwk(TestKeys.Es256B, TestKeys.KidB, sign: true)));
        await Retired.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Retired.DisposeAsync();
        await Y.DisposeAsync();
        await X.DisposeAsync();
    }
}

/// <summary>Catalogue M6 (key rotation across replicas) and T6★ (a retired key is refused).</summary>
public sealed class KeyRotationCatalogueTests(RollingRotationFixture servers) : IClassFixture<RollingRotationFixture>
{
    [Fact]
    [Trait("catalogue", "M6")]
    public async Task RollingRotation_EachReplicaAcceptsTheOthersTokensAndRefreshes()
    {
        var (email, password, onX) = await servers.X.NewUserAsync("rolling");
        var onY = await servers.Y.SignInAsync(email, password);
        Assert.Equal(TestKeys.KidA, (string?)Jwt.Header((string)onX["access_token"]!)["kid"]);
        Assert.Equal(TestKeys.KidB, (string?)Jwt.Header((string)onY["access_token"]!)["kid"]);

        using (var client = servers.Y.CreateClient(bearer: (string)onX["access_token"]!))
            await servers.Y.OkJsonAsync(await client.GetAsync("/user"));
        using (var client = servers.X.CreateClient(bearer: (string)onY["access_token"]!))
            await servers.X.OkJsonAsync(await client.GetAsync("/user"));

        // A session started on X refreshes on Y (new token under B) and back on X (under A).
        using var anon = servers.Y.CreateClient();
        var refreshedOnY = await servers.Y.OkJsonAsync(await anon.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)onX["refresh_token"]! }));
        Assert.Equal(TestKeys.KidB, (string?)Jwt.Header((string)refreshedOnY["access_token"]!)["kid"]);
        using var anonX = servers.X.CreateClient();
        var refreshedOnX = await servers.X.OkJsonAsync(await anonX.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)refreshedOnY["refresh_token"]! }));
        Assert.Equal(TestKeys.KidA, (string?)Jwt.Header((string)refreshedOnX["access_token"]!)["kid"]);

        foreach (var server in new[] { servers.X, servers.Y })
        {
            using var client = server.CreateClient();
            var keys = (await server.OkJsonAsync(await client.GetAsync("/.well-known/jwks.json")))["keys"]!.AsArray();
            Assert.Equal([TestKeys.KidA, TestKeys.KidB], keys.Select(k => (string)k!["kid"]!).Order());
        }
    }

    [Fact]
    [Trait("catalogue", "T6")]
    public async Task RetiredKey_TokenSignedWithIt_Returns403ButTheSessionRefreshesUnderTheNewKey()
    {
        var (_, _, onX) = await servers.X.NewUserAsync("retired");
        var old = (string)onX["access_token"]!;
        Assert.Equal(TestKeys.KidA, (string?)Jwt.Header(old)["kid"]);

        await servers.Retired.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "bad_jwt", bearer: old);
        // Re-signed by the retired key under the new key's kid: still refused.
        var forged = TestKeys.SignEs256(Jwt.Payload(old), TestKeys.Es256A, TestKeys.KidB);
        await servers.Retired.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "bad_jwt", bearer: forged);

        using var anon = servers.Retired.CreateClient();
        var refreshed = await servers.Retired.OkJsonAsync(await anon.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)onX["refresh_token"]! }));
        Assert.Equal(TestKeys.KidB, (string?)Jwt.Header((string)refreshed["access_token"]!)["kid"]);
        using var client = servers.Retired.CreateClient();
        var keys = (await servers.Retired.OkJsonAsync(await client.GetAsync("/.well-known/jwks.json")))["keys"]!.AsArray();
        Assert.Equal([TestKeys.KidB], keys.Select(k => (string)k!["kid"]!));
    }
}
