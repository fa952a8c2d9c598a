using System.Security.Cryptography;
using AuthServer.Config;
using AuthServer.Features.Sso;
using Microsoft.Extensions.Configuration;

namespace AuthServer.Tests.Config;

/// <summary>GOTRUE_SAML_* boot checks as GoTrue's `SAMLConfiguration.Validate` (internal/conf/saml.go).</summary>
public sealed class SamlBootTests
{
    static readonly Uri External = new("https://auth.example.com");

    static SamlOptions Load(params (string Key, string Value)[] values) =>
        SamlOptions.Load(new EnvReader(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build()), External);

    static string Key(int bits) => Convert.ToBase64String(RSA.Create(bits).ExportRSAPrivateKey());

    [Fact]
    public void Enabled_WithGoodKey_DerivesCertificateAndDefaults()
    {
        var options = Load(("GOTRUE_SAML_ENABLED", "true"), ("GOTRUE_SAML_PRIVATE_KEY", Key(2048)));
        Assert.Equal("CN=SAML 2.0 Certificate for auth.example.com", options.Certificate!.Subject);
        Assert.Equal(TimeSpan.FromMinutes(2), options.RelayStateValidity);
        Assert.Equal("https://auth.example.com/sso/saml/acs", options.AcsUrl);
        Assert.Equal("https://auth.example.com/sso/saml/metadata", options.MetadataUrl);
    }

    [Fact]
    public void Disabled_NeedsNoKey() => Assert.False(Load().Enabled);

    [Theory]
    [InlineData("not base64!", "SAML private key not in standard Base64 format")]
    [InlineData("AAAA", "SAML private key not in PKCS#1 format")]
    public void Enabled_BadKey_StopsBootNamingTheVariable(string key, string message)
    {
        var e = Assert.Throws<ConfigException>(() => Load(("GOTRUE_SAML_ENABLED", "true"), ("GOTRUE_SAML_PRIVATE_KEY", key)));
        Assert.Equal("GOTRUE_SAML_PRIVATE_KEY: " + message, e.Message);
    }

    [Fact]
    public void Enabled_SmallKey_StopsBoot()
    {
        var e = Assert.Throws<ConfigException>(() => Load(("GOTRUE_SAML_ENABLED", "true"), ("GOTRUE_SAML_PRIVATE_KEY", Key(1024))));
        Assert.Equal("GOTRUE_SAML_PRIVATE_KEY: SAML private key must be at least RSA 2048", e.Message);
    }

    [Fact]
    public void Enabled_BadNextKey_StopsBoot()
    {
        var e = Assert.Throws<ConfigException>(() => Load(("GOTRUE_SAML_ENABLED", "true"), ("GOTRUE_SAML_PRIVATE_KEY", Key(2048)),
            ("GOTRUE_SAML_PRIVATE_KEY_NEXT", "AAAA")));
        Assert.Equal("GOTRUE_SAML_PRIVATE_KEY_NEXT: SAML next private key not in PKCS#1 format", e.Message);
    }
}
