using System.IO.Compression;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography.Xml;
using System.Text;
using System.Web;
using System.Xml;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// A local SAML 2.0 identity provider: its own RSA key and certificate, its metadata, and real signed
/// responses built as XML documents, so attack tests can rearrange them after signing.
/// </summary>
public sealed class SamlIdp
{
    public const string Protocol = "urn:oasis:names:tc:SAML:2.0:protocol";
    public const string AssertionNs = "urn:oasis:names:tc:SAML:2.0:assertion";
    public const string EmailFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    public const string PersistentFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    public const string RsaSha1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    public const string RsaSha256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

    public RSA Key { get; } = RSA.Create(2048);
    public X509Certificate2 Certificate { get; }
    public string EntityId { get; }
    public string SsoUrl => "https://idp.example.test/sso";

    public SamlIdp(string? entityId = null)
    {
        EntityId = entityId ?? $"https://idp-{Guid.NewGuid():N}.example.test/metadata";
        var request = new CertificateRequest("CN=Test IdP", Key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
    }

    public string Metadata() =>
        $"""
        <md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{EntityId}">
          <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="false">
            <md:KeyDescriptor use="signing">
              <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{Convert.ToBase64String(Certificate.RawData)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
            </md:KeyDescriptor>
            <md:NameIDFormat>{EmailFormat}</md:NameIDFormat>
            <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{SsoUrl}"/>
            <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{SsoUrl}"/>
          </md:IDPSSODescriptor>
        </md:EntityDescriptor>
        """;

    /// <summary>What a response says; defaults describe a valid answer to <see cref="InResponseTo"/>.</summary>
    public sealed record Response
    {
        public required string Acs { get; init; }
        public required string Audience { get; init; }
        public string? InResponseTo { get; init; }
        public string NameId { get; init; } = "";
        public string NameIdFormat { get; init; } = EmailFormat;
        public Dictionary<string, string[]> Attributes { get; init; } = [];
        public DateTime Now { get; init; } = DateTime.UtcNow;
        public string? Issuer { get; init; }
        public string? Destination { get; init; }
        public string? Recipient { get; init; }
        public string Status { get; init; } = "urn:oasis:names:tc:SAML:2.0:status:Success";
        public DateTime? SessionNotOnOrAfter { get; init; }
    }

    /// <summary>The response document, unsigned.</summary>
    public XmlDocument Build(Response r)
    {
        static string T(DateTime t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        static string E(string v) => System.Security.SecurityElement.Escape(v);
        var issuer = r.Issuer ?? EntityId;
        var inResponseTo = r.InResponseTo is null ? "" : $" InResponseTo=\"{E(r.InResponseTo)}\"";
        var attributes = string.Concat(r.Attributes.Select(a =>
            $"<saml:Attribute Name=\"{E(a.Key)}\">" +
            string.Concat(a.Value.Select(v => $"<saml:AttributeValue>{E(v)}</saml:AttributeValue>")) + "</saml:Attribute>"));
        var session = r.SessionNotOnOrAfter is { } s ? $" SessionNotOnOrAfter=\"{T(s)}\"" : "";
        var xml =
            $"<samlp:Response xmlns:samlp=\"{Protocol}\" xmlns:saml=\"{AssertionNs}\" ID=\"_r{Guid.NewGuid():N}\" Version=\"2.0\" " +
            $"IssueInstant=\"{T(r.Now)}\" Destination=\"{E(r.Destination ?? r.Acs)}\"{inResponseTo}>" +
            $"<saml:Issuer>{E(issuer)}</saml:Issuer>" +
            $"<samlp:Status><samlp:StatusCode Value=\"{r.Status}\"/></samlp:Status>" +
            $"<saml:Assertion ID=\"_a{Guid.NewGuid():N}\" Version=\"2.0\" IssueInstant=\"{T(r.Now)}\">" +
            $"<saml:Issuer>{E(issuer)}</saml:Issuer>" +
            $"<saml:Subject><saml:NameID Format=\"{r.NameIdFormat}\">{E(r.NameId)}</saml:NameID>" +
            $"<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">" +
            $"<saml:SubjectConfirmationData{inResponseTo} NotOnOrAfter=\"{T(r.Now.AddMinutes(5))}\" Recipient=\"{E(r.Recipient ?? r.Acs)}\"/>" +
            "</saml:SubjectConfirmation></saml:Subject>" +
            $"<saml:Conditions NotBefore=\"{T(r.Now.AddSeconds(-30))}\" NotOnOrAfter=\"{T(r.Now.AddMinutes(5))}\">" +
            $"<saml:AudienceRestriction><saml:Audience>{E(r.Audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>" +
            $"<saml:AuthnStatement AuthnInstant=\"{T(r.Now)}\"{session}><saml:AuthnContext><saml:AuthnContextClassRef>" +
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>" +
            (attributes.Length > 0 ? $"<saml:AttributeStatement>{attributes}</saml:AttributeStatement>" : "") +
            "</saml:Assertion></samlp:Response>";
        var doc = new XmlDocument { PreserveWhitespace = true };
        doc.LoadXml(xml);
        return doc;
    }

    public static XmlElement AssertionOf(XmlDocument doc) =>
        (XmlElement)doc.GetElementsByTagName("Assertion", AssertionNs)[0]!;

    /// <summary>Enveloped signature over the element (by its ID), inserted after its Issuer, KeyInfo with the cert.</summary>
    public void Sign(XmlElement element, string method = RsaSha256, RSA? key = null, X509Certificate2? certificate = null)
    {
        var signed = new SignedXml(element) { SigningKey = key ?? Key };
        signed.SignedInfo!.CanonicalizationMethod = SignedXml.XmlDsigExcC14NTransformUrl;
        signed.SignedInfo.SignatureMethod = method;
        var reference = new Reference("#" + element.GetAttribute("ID"))
        {
            DigestMethod = method == RsaSha1 ? SignedXml.XmlDsigSHA1Url : SignedXml.XmlDsigSHA256Url,
        };
        reference.AddTransform(new XmlDsigEnvelopedSignatureTransform());
        reference.AddTransform(new XmlDsigExcC14NTransform());
        signed.AddReference(reference);
        var info = new KeyInfo();
        info.AddClause(new KeyInfoX509Data(certificate ?? Certificate));
        signed.KeyInfo = info;
        signed.ComputeSignature();
        var signature = element.OwnerDocument.ImportNode(signed.GetXml(), true);
        var issuer = element.GetElementsByTagName("Issuer", AssertionNs).Cast<XmlNode>().FirstOrDefault(n => n.ParentNode == element);
        element.InsertAfter(signature, issuer);
    }

    /// <summary>Replaces the assertion by an EncryptedAssertion: AES-256-CBC, the key wrapped with RSA-OAEP to <paramref name="recipient"/>.</summary>
    public static void Encrypt(XmlDocument doc, RSA recipient)
    {
        var assertion = AssertionOf(doc);
        using var aes = Aes.Create();
        aes.KeySize = 256;
        var data = new EncryptedData
        {
            Type = EncryptedXml.XmlEncElementUrl,
            EncryptionMethod = new EncryptionMethod(EncryptedXml.XmlEncAES256Url),
        };
        data.CipherData.CipherValue = new EncryptedXml().EncryptData(assertion, aes, false);
        var key = new EncryptedKey { EncryptionMethod = new EncryptionMethod(EncryptedXml.XmlEncRSAOAEPUrl) };
        key.CipherData = new CipherData(EncryptedXml.EncryptKey(aes.Key, recipient, true));
        data.KeyInfo = new KeyInfo();
        data.KeyInfo.AddClause(new KeyInfoEncryptedKey(key));
        var wrapper = doc.CreateElement("saml", "EncryptedAssertion", AssertionNs);
        wrapper.AppendChild(doc.ImportNode(data.GetXml(), true));
        doc.DocumentElement!.ReplaceChild(wrapper, assertion);
    }

    public static string Encode(XmlDocument doc) => Convert.ToBase64String(Encoding.UTF8.GetBytes(doc.OuterXml));

    /// <summary>The AuthnRequest ID and RelayState of the URL /sso answered, after checking our SP signed it.</summary>
    public static (string RequestId, string RelayState, XmlDocument Request) ReadRedirect(string url)
    {
        var query = HttpUtility.ParseQueryString(new Uri(url).Query);
        var deflated = Convert.FromBase64String(query["SAMLRequest"]!);
        using var inflate = new DeflateStream(new MemoryStream(deflated), CompressionMode.Decompress);
        var xml = new StreamReader(inflate, Encoding.UTF8).ReadToEnd();
        var doc = new XmlDocument();
        doc.LoadXml(xml);
        return (doc.DocumentElement!.GetAttribute("ID"), query["RelayState"]!, doc);
    }
}
