using System.Net;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Key rotation: an unknown kid triggers one JWKS refetch, which picks up the new key.</summary>
public sealed class IdTokenKeyRotationTests(OidcFixture server) : IClassFixture<OidcFixture>
{
    [Fact]
    [Trait("catalogue", "I6")]
    [Trait("catalogue", "I7")]
    public async Task IdToken_KeyRotated_RefetchesOnceAndValidates()
    {
        var (before, _, _) = server.GoogleToken();
        await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = before }));
        var hits = server.Google.JwksHits;

        server.Google.RotateRsaKey();
        var (after, _, _) = server.GoogleToken();
        await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = after }));

        Assert.Equal(hits + 1, server.Google.JwksHits);
        // The cache serves the next token without another fetch.
        var (again, _, _) = server.GoogleToken();
        await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = again }));
        Assert.Equal(hits + 1, server.Google.JwksHits);
    }
}

/// <summary>Random kids cannot make the server hammer the issuer: at most one refetch per cooldown.</summary>
public sealed class IdTokenRandomKidTests(OidcFixture server) : IClassFixture<OidcFixture>
{
    [Fact]
    [Trait("catalogue", "I6")]
    public async Task IdToken_ManyUnknownKids_AtMostOneRefetch()
    {
        var (valid, _, _) = server.GoogleToken();
        await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = valid }));
        var hits = server.Google.JwksHits;

        for (var i = 0; i < 20; i++)
        {
            var claims = server.Google.Claims(OidcFixture.GoogleClientId, "kid-" + i, now: server.Clock.GetUtcNow());
            var response = await server.IdTokenGrantAsync(new { provider = "google", id_token = server.Google.Sign(claims, kid: Guid.NewGuid().ToString()) });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        Assert.InRange(server.Google.JwksHits - hits, 0, 1);
    }
}

/// <summary>JWKS outage: nothing cached → 503 (bounded by GOTRUE_INTERNAL_HTTP_TIMEOUT); cached keys keep working.</summary>
public sealed class IdTokenOutageTests(OidcOutageFixture server) : IClassFixture<OidcOutageFixture>
{
    [Theory]
    [InlineData(OidcIssuer.JwksMode.Error500)]
    [InlineData(OidcIssuer.JwksMode.Garbage)]
    [InlineData(OidcIssuer.JwksMode.Hang)]
    [Trait("catalogue", "I7")]
    public async Task IdToken_JwksDownNothingCached_503(OidcIssuer.JwksMode mode)
    {
        // Apple's issuer is never healthy in this class, so nothing is ever cached for it.
        server.Apple.Mode = mode;
        var claims = server.Apple.Claims(OidcFixture.AppleServiceId, "apple-outage", now: server.Clock.GetUtcNow());

        var response = await server.IdTokenGrantAsync(new { provider = "apple", id_token = server.Apple.Sign(claims) });

        await ApiAssert.ErrorAsync(response, 503, "unexpected_failure");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.identities where provider = 'apple'"));
    }

    [Fact]
    [Trait("catalogue", "I7")]
    public async Task IdToken_JwksDownAfterCaching_StillValidates()
    {
        var (first, _, _) = server.GoogleToken();
        await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = first }));
        server.Google.Mode = OidcIssuer.JwksMode.Error500;

        var (second, _, _) = server.GoogleToken();
        await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = second }));
    }
}
