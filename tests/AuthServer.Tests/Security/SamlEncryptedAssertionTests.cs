using System.Security.Cryptography;
using System.Xml;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>GOTRUE_SAML_ALLOW_ENCRYPTED_ASSERTIONS=true: encrypted to our key signs in; anything else is refused.</summary>
[Trait("catalogue", "SAML")]
public sealed class SamlEncryptedAssertionTests(SamlEncryptedFixture server) : IClassFixture<SamlEncryptedFixture>
{
    static RSA SpKey()
    {
        var rsa = RSA.Create();
        rsa.ImportRSAPrivateKey(Convert.FromBase64String(SamlFixture.SpKey), out _);
        return rsa;
    }

    async Task<(SamlIdp Idp, string Domain, XmlDocument Doc, string RelayState)> SignedResponseAsync()
    {
        var idp = new SamlIdp();
        var domain = $"enc-{Guid.NewGuid():N}.test";
        await server.CreateProviderAsync(idp, [domain]);
        var (requestId, relayState) = await server.StartAsync(new { domain, skip_http_redirect = true });
        var doc = idp.Build(new SamlIdp.Response
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = requestId,
            NameId = $"enc@{domain}",
        });
        idp.Sign(SamlIdp.AssertionOf(doc));
        return (idp, domain, doc, relayState);
    }

    [Fact]
    public async Task EncryptedToOurKey_SignsIn_AndMetadataAdvertisesEncryption()
    {
        var (_, _, doc, relayState) = await SignedResponseAsync();
        SamlIdp.Encrypt(doc, SpKey());
        Assert.NotNull(SamlFixture.Fragment(await server.PostAcsAsync(SamlIdp.Encode(doc), relayState))["access_token"]);

        using var client = server.CreateClient();
        Assert.Contains("use=\"encryption\"", await client.GetStringAsync("/sso/saml/metadata"));
    }

    [Fact]
    public async Task EncryptedToAnotherKey_Refused()
    {
        var (_, domain, doc, relayState) = await SignedResponseAsync();
        SamlIdp.Encrypt(doc, RSA.Create(2048));
        SamlFixture.AssertRefused(await server.PostAcsAsync(SamlIdp.Encode(doc), relayState), "validation_failed", "SAML Assertion is not valid");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email like @p", new { p = "%@" + domain }));
    }

    [Fact]
    public async Task EncryptedButUnsigned_Refused()
    {
        var idp = new SamlIdp();
        var domain = $"enc-{Guid.NewGuid():N}.test";
        await server.CreateProviderAsync(idp, [domain]);
        var (requestId, relayState) = await server.StartAsync(new { domain, skip_http_redirect = true });
        var doc = idp.Build(new SamlIdp.Response
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = requestId,
            NameId = $"enc@{domain}",
        });
        SamlIdp.Encrypt(doc, SpKey()); // encryption is not authentication: anyone can encrypt to our public key
        SamlFixture.AssertRefused(await server.PostAcsAsync(SamlIdp.Encode(doc), relayState), "validation_failed", "SAML Assertion is not valid");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email like @p", new { p = "%@" + domain }));
    }
}
