using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Xml;
using AuthServer.Http;

namespace AuthServer.Features.Sso;

/// SAML XML namespaces and the one way we load untrusted XML.
internal static class Saml
{
    public const string Md = "urn:oasis:names:tc:SAML:2.0:metadata";
    public const string Protocol = "urn:oasis:names:tc:SAML:2.0:protocol";
    public const string Assertion = "urn:oasis:names:tc:SAML:2.0:assertion";
    public const string Dsig = "http://www.w3.org/2000/09/xmldsig#";
    public const string Xenc = "http://www.w3.org/2001/04/xmlenc#";
    public const string RedirectBinding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    public const string PostBinding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    public const string ArtifactBinding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact";
    public const string PersistentNameId = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    public const string TransientNameId = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
    public const string EmailNameId = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    public const string UnspecifiedNameId = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

    /// Largest XML document we parse (metadata or a decoded response); real ones are a few KiB.
    public const int MaxXmlChars = 512 * 1024;

    /// No DTD (so no entity expansion or XXE), no resolver (so nothing is fetched), a size cap, whitespace
    /// kept (signatures cover it). Throws <see cref="XmlException"/> for anything else.
    public static XmlDocument Load(string xml)
    {
        if (xml.Length > MaxXmlChars) throw new XmlException("document too large");
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxXmlChars,
            MaxCharactersFromEntities = 0,
            IgnoreProcessingInstructions = false,
        };
        var doc = new XmlDocument { PreserveWhitespace = true, XmlResolver = null };
        using var reader = XmlReader.Create(new StringReader(xml), settings);
        doc.Load(reader);
        return doc;
    }

    public static IEnumerable<XmlElement> Children(XmlElement parent, string ns, string name) =>
        parent.ChildNodes.OfType<XmlElement>().Where(e => e.LocalName == name && e.NamespaceURI == ns);

    public static XmlElement? Child(XmlElement parent, string ns, string name) => Children(parent, ns, name).FirstOrDefault();

    /// An xs:dateTime attribute in UTC, or null when absent; malformed is an error.
    public static DateTime? Time(XmlElement element, string attribute)
    {
        var text = element.GetAttribute(attribute);
        if (text.Length == 0) return null;
        return DateTime.TryParse(text, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value)
            ? DateTime.SpecifyKind(value, DateTimeKind.Utc)
            : throw new XmlException($"{attribute} is not a date-time");
    }

    public static string Iso(DateTime value) => value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)
        .Replace(".0000000Z", "Z");
}

/// What we use of an IdP's metadata (GoTrue stores the XML and parses it with `samlsp.ParseMetadata`).
internal sealed record IdpMetadata(string EntityId, DateTime? ValidUntil, TimeSpan? CacheDuration,
    IReadOnlyList<X509Certificate2> SigningCertificates, string? RedirectSsoUrl, string? PostSsoUrl)
{
    /// GoTrue `parseSAMLMetadata`: UTF-8, an EntityID, exactly one IDPSSODescriptor. An EntitiesDescriptor
    /// contributes its first EntityDescriptor that describes an IdP, as `samlsp.ParseMetadata` does.
    public static IdpMetadata Parse(string xml)
    {
        XmlDocument doc;
        try
        {
            doc = Saml.Load(xml);
        }
        catch (XmlException e)
        {
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Metadata could not be parsed: " + e.Message);
        }
        var root = doc.DocumentElement!;
        if (root.NamespaceURI == Saml.Md && root.LocalName == "EntitiesDescriptor")
            root = root.GetElementsByTagName("EntityDescriptor", Saml.Md).OfType<XmlElement>()
                .FirstOrDefault(e => Saml.Child(e, Saml.Md, "IDPSSODescriptor") is not null) ?? root;
        if (root.NamespaceURI != Saml.Md || root.LocalName != "EntityDescriptor")
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Metadata could not be parsed: no EntityDescriptor");
        var entityId = root.GetAttribute("entityID");
        if (entityId.Length == 0)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Metadata does not contain an EntityID");
        var descriptors = Saml.Children(root, Saml.Md, "IDPSSODescriptor").ToList();
        if (descriptors.Count < 1)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Metadata does not contain any IDPSSODescriptor");
        if (descriptors.Count > 1)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Metadata contains multiple IDPSSODescriptors");
        var idp = descriptors[0];

        // Signing keys: KeyDescriptors with use="signing" or no use (crewjam `getIDPSigningCerts`).
        var certificates = new List<X509Certificate2>();
        foreach (var descriptor in Saml.Children(idp, Saml.Md, "KeyDescriptor"))
        {
            if (descriptor.GetAttribute("use") is var use && use.Length > 0 && use != "signing") continue;
            foreach (var data in descriptor.GetElementsByTagName("X509Certificate", Saml.Dsig).OfType<XmlElement>())
            {
                try
                {
                    var der = Convert.FromBase64String(string.Concat(data.InnerText.Where(c => !char.IsWhiteSpace(c))));
                    certificates.Add(X509CertificateLoader.LoadCertificate(der));
                }
                catch (Exception e) when (e is FormatException or CryptographicException)
                {
                    throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Metadata could not be parsed: bad X509Certificate");
                }
            }
        }
        string? Location(string binding) => Saml.Children(idp, Saml.Md, "SingleSignOnService")
            .FirstOrDefault(s => s.GetAttribute("Binding") == binding)?.GetAttribute("Location");
        DateTime? validUntil;
        try
        {
            validUntil = Saml.Time(root, "validUntil");
        }
        catch (XmlException e)
        {
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Metadata could not be parsed: " + e.Message);
        }
        TimeSpan? cache = null;
        if (root.GetAttribute("cacheDuration") is { Length: > 0 } duration)
        {
            try
            {
                cache = XmlConvert.ToTimeSpan(duration);
            }
            catch (FormatException)
            {
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "SAML Metadata could not be parsed: bad cacheDuration");
            }
        }
        return new IdpMetadata(entityId, validUntil, cache, certificates, Location(Saml.RedirectBinding), Location(Saml.PostBinding));
    }

    /// GoTrue `IsSAMLMetadataStale`: past validUntil, past cacheDuration since the last update, or a day old
    /// when the metadata says neither.
    public bool IsStale(DateTime updatedAt, DateTime now) =>
        (ValidUntil is { } until && now > until) ||
        (CacheDuration is { } cache && cache > TimeSpan.Zero && now > updatedAt + cache) ||
        (ValidUntil is null && (CacheDuration ?? TimeSpan.Zero) == TimeSpan.Zero && now > updatedAt.AddHours(24));
}

/// Our SP metadata (GoTrue `SAMLMetadata`, crewjam `ServiceProvider.Metadata`).
internal static class SpMetadata
{
    public static string Build(SamlOptions options, DateTime now, bool download)
    {
        // crewjam: valid for 2 days; the download is valid for 5 years, "comparable to what GSuite does".
        var validUntil = download ? now.AddYears(5) : now.AddDays(2);
        var cert = Convert.ToBase64String(options.Certificate!.RawData);
        string Key(string use) =>
            $"""<KeyDescriptor use="{use}"><KeyInfo xmlns="{Saml.Dsig}"><X509Data><X509Certificate>{cert}</X509Certificate></X509Data></KeyInfo>""" +
            (use == "encryption"
                ? """<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"></EncryptionMethod><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes192-cbc"></EncryptionMethod><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"></EncryptionMethod><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"></EncryptionMethod>"""
                : "") + "</KeyDescriptor>";
        var xml = new StringBuilder();
        xml.Append($"""<EntityDescriptor xmlns="{Saml.Md}" validUntil="{Saml.Iso(validUntil)}" entityID="{Escape(options.MetadataUrl)}">""");
        xml.Append("""<SPSSODescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" validUntil=""" + $"\"{Saml.Iso(validUntil)}\"" +
                   """ protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAssertionsSigned="true">""");
        xml.Append(Key("signing"));
        if (options.AllowEncryptedAssertions) xml.Append(Key("encryption"));
        xml.Append($"""<SingleLogoutService Binding="{Saml.PostBinding}" Location="{Escape(options.SloUrl)}" ResponseLocation="{Escape(options.SloUrl)}"></SingleLogoutService>""");
        xml.Append($"<NameIDFormat>{Saml.EmailNameId}</NameIDFormat><NameIDFormat>{Saml.PersistentNameId}</NameIDFormat>");
        xml.Append($"""<AssertionConsumerService Binding="{Saml.PostBinding}" Location="{Escape(options.AcsUrl)}" index="1"></AssertionConsumerService>""");
        xml.Append($"""<AssertionConsumerService Binding="{Saml.ArtifactBinding}" Location="{Escape(options.AcsUrl)}" index="2"></AssertionConsumerService>""");
        xml.Append("</SPSSODescriptor></EntityDescriptor>");
        return xml.ToString();
    }

    static string Escape(string value) => System.Security.SecurityElement.Escape(value);
}
