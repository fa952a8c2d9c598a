using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AuthServer.Config;

namespace AuthServer.Features.Sso;

/// <summary>`GOTRUE_SAML_*` (GoTrue internal/conf/saml.go), with GoTrue's boot checks.</summary>
internal sealed class SamlOptions
{
    /// <summary>`GOTRUE_SAML_ENABLED`: serves /sso and /sso/saml/*.</summary>
    public bool Enabled { get; init; }
    /// <summary>`GOTRUE_SAML_PRIVATE_KEY`: base64 of a PKCS#1 DER RSA key (≥ 2048 bits, e = 65537). Signs our
    /// authentication requests; with encrypted assertions allowed, IdPs encrypt to it.</summary>
    public RSA? Key { get; init; }
    /// <summary>The self-signed certificate GoTrue derives from the key (a vessel for the public key).</summary>
    public X509Certificate2? Certificate { get; init; }
    /// <summary>`GOTRUE_SAML_PRIVATE_KEY_NEXT`: a second key for rotation; only tried to decrypt assertions.</summary>
    public RSA? NextKey { get; init; }
    /// <summary>`GOTRUE_SAML_ALLOW_ENCRYPTED_ASSERTIONS`: advertise an encryption key and accept EncryptedAssertion.</summary>
    public bool AllowEncryptedAssertions { get; init; }
    /// <summary>`GOTRUE_SAML_RELAY_STATE_VALIDITY_PERIOD` (default 2m): how long a /sso request may take at the IdP.</summary>
    public TimeSpan RelayStateValidity { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>`GOTRUE_SAML_EXTERNAL_URL` (default `API_EXTERNAL_URL`): base of the SAML URLs.</summary>
    public Uri ExternalUrl { get; init; } = null!;
    /// <summary>`GOTRUE_SAML_RATE_LIMIT_ASSERTION` (default 15 per 5 minutes, burst 30): POST /sso/saml/acs per client.</summary>
    public Bucket AssertionRate { get; init; } = new("sso_assertion", 30, 15 / 300.0);

    /// The SP's URLs (GoTrue `getSAMLServiceProvider`): `<external>/sso/saml/{metadata,acs,slo}`. The metadata
    /// URL is also our EntityID, so the Audience an IdP must name.
    public string SsoBase => ExternalUrl.AbsoluteUri.TrimEnd('/') + "/sso/";
    public string MetadataUrl => SsoBase + "saml/metadata";
    public string AcsUrl => SsoBase + "saml/acs";
    public string SloUrl => SsoBase + "saml/slo";

    public static SamlOptions Load(EnvReader env, Uri apiExternalUrl)
    {
        var enabled = env.Bool("GOTRUE_SAML_ENABLED", false);
        var rate = env.Double("GOTRUE_SAML_RATE_LIMIT_ASSERTION", 15);
        var options = new SamlOptions
        {
            Enabled = enabled,
            ExternalUrl = apiExternalUrl,
            AssertionRate = new Bucket("sso_assertion", 30, rate / 300.0),
            AllowEncryptedAssertions = env.Bool("GOTRUE_SAML_ALLOW_ENCRYPTED_ASSERTIONS", false),
        };
        if (!enabled) return options;

        var key = ParseKey(env.String("GOTRUE_SAML_PRIVATE_KEY") ?? "", "GOTRUE_SAML_PRIVATE_KEY", "SAML private key");
        var nextText = env.String("GOTRUE_SAML_PRIVATE_KEY_NEXT");
        var next = nextText is null ? null : ParseKey(nextText, "GOTRUE_SAML_PRIVATE_KEY_NEXT", "SAML next private key");
        var validity = env.Duration("GOTRUE_SAML_RELAY_STATE_VALIDITY_PERIOD") ?? TimeSpan.Zero;
        if (validity < TimeSpan.Zero)
            throw new ConfigException("GOTRUE_SAML_RELAY_STATE_VALIDITY_PERIOD: SAML RelayState validity period should be a positive duration");
        var external = apiExternalUrl;
        if (env.String("GOTRUE_SAML_EXTERNAL_URL") is { } samlExternal)
        {
            if (!Uri.TryCreate(samlExternal, UriKind.Absolute, out var parsed))
                throw new ConfigException($"GOTRUE_SAML_EXTERNAL_URL: '{samlExternal}' is not an absolute URL");
            external = parsed;
        }
        return new SamlOptions
        {
            Enabled = true,
            Key = key,
            NextKey = next,
            Certificate = SelfSigned(key, external, options.AllowEncryptedAssertions),
            AllowEncryptedAssertions = options.AllowEncryptedAssertions,
            RelayStateValidity = validity == TimeSpan.Zero ? TimeSpan.FromMinutes(2) : validity,
            ExternalUrl = external,
            AssertionRate = options.AssertionRate,
        };
    }

    /// GoTrue `Validate`: standard base64, PKCS#1, exponent 65537, at least 2048 bits; its messages.
    static RSA ParseKey(string text, string name, string what)
    {
        byte[] der;
        try
        {
            der = Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            throw new ConfigException($"{name}: {what} not in standard Base64 format");
        }
        var rsa = RSA.Create();
        try
        {
            rsa.ImportRSAPrivateKey(der, out _);
        }
        catch (CryptographicException)
        {
            throw new ConfigException($"{name}: {what} not in PKCS#1 format");
        }
        var parameters = rsa.ExportParameters(false);
        if (!parameters.Exponent!.AsSpan().SequenceEqual(new byte[] { 1, 0, 1 }))
            throw new ConfigException($"{name}: {what} should use the 65537 (0x10001) RSA public exponent");
        if (rsa.KeySize < 2048)
            throw new ConfigException($"{name}: {what} must be at least RSA 2048");
        return rsa;
    }

    /// GoTrue `PopulateFields`: serial 0, `CN=SAML 2.0 Certificate for <host>`, DNS `_samlsp.<host>`, valid
    /// from the epoch for 200 years, digital signature (+ data encipherment when encryption is allowed).
    static X509Certificate2 SelfSigned(RSA key, Uri external, bool encryption)
    {
        var host = external.Host;
        var request = new CertificateRequest($"CN=SAML 2.0 Certificate for {host}", key, HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("_samlsp." + host);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.DigitalSignature | (encryption ? X509KeyUsageFlags.DataEncipherment : 0), false));
        var epoch = DateTimeOffset.UnixEpoch;
        return request.Create(request.SubjectName, X509SignatureGenerator.CreateForRSA(key, RSASignaturePadding.Pkcs1),
            epoch, epoch.AddYears(200), [0]);
    }
}
