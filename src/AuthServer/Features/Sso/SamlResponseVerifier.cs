using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography.Xml;
using System.Text;
using System.Xml;

namespace AuthServer.Features.Sso;

/// Why a SAML response was refused: for the log only; the caller answers GoTrue's one generic error.
internal sealed class SamlInvalidException(string reason) : Exception(reason);

internal sealed record SamlAttribute(string Name, string FriendlyName, IReadOnlyList<string> Values);

/// The one assertion of a verified response, read from the very element whose signature was checked.
internal sealed record VerifiedAssertion(string Id, string? NameId, string? NameIdFormat, IReadOnlyList<SamlAttribute> Attributes,
    DateTime? SessionNotOnOrAfter, DateTime NotOnOrAfter);

/// What the response must match on our side: the ACS URL (Destination, Recipient), our EntityID (Audience),
/// the AuthnRequest IDs it may answer (none for an IdP-initiated sign-in) and the keys encrypted assertions
/// may be decrypted with (none when they are not allowed).
internal sealed record SamlExpectations(string AcsUrl, string EntityId, IReadOnlyList<string> RequestIds, bool IdpInitiated,
    IReadOnlyList<RSA> DecryptionKeys);

/// The security-critical part of SAML: a strict verifier of an HTTP-POST `<samlp:Response>`, with the
/// checks and clock skews of GoTrue's library (crewjam/saml `ParseXMLResponse`, goxmldsig), built on
/// `SignedXml`. Against signature wrapping it does more than check "a signature is valid somewhere":
/// exactly one assertion, a signature only counts as the direct child of the element it signs, its one
/// Reference must name that element's ID, that ID must be unique in the document, and the element read
/// afterwards is that same element. Comments and processing instructions are refused outright (NameID
/// comment truncation), as are DTDs (XXE, entity expansion).
internal static class SamlResponseVerifier
{
    /// crewjam `MaxIssueDelay`: how old a response or assertion IssueInstant may be.
    public static readonly TimeSpan MaxIssueDelay = TimeSpan.FromSeconds(90);
    /// crewjam `MaxClockSkew`: leeway on NotBefore / NotOnOrAfter.
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromSeconds(180);

    const string StatusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success";
    const string ExcC14n = "http://www.w3.org/2001/10/xml-exc-c14n#";
    const string C14n = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    const string Enveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

    // goxmldsig's RSA algorithms, SHA-1 included as GoTrue accepts it (docs/sso-saml.md).
    static readonly HashSet<string> SignatureMethods =
    [
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    ];
    static readonly HashSet<string> DigestMethods =
    [
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmlenc#sha512",
    ];

    public static VerifiedAssertion Verify(string xml, IdpMetadata idp, SamlExpectations sp, DateTime now)
    {
        var doc = LoadStrict(xml);
        var response = doc.DocumentElement!;
        if (response.NamespaceURI != Saml.Protocol || response.LocalName != "Response")
            throw new SamlInvalidException("root is not a samlp:Response");

        var responseSignature = SignatureOf(response);
        if (responseSignature is not null) VerifySignature(response, responseSignature, idp, now);
        var responseSigned = responseSignature is not null;

        // If the response is not signed, its Destination may be omitted (crewjam).
        var destination = response.GetAttribute("Destination");
        if ((responseSigned || destination.Length > 0) && destination != sp.AcsUrl)
            throw new SamlInvalidException($"Destination does not match the ACS URL ({destination})");
        if (!sp.IdpInitiated && !sp.RequestIds.Contains(response.GetAttribute("InResponseTo")))
            throw new SamlInvalidException("InResponseTo does not match a request we made");
        var issued = Required(response, "IssueInstant");
        if (issued + MaxIssueDelay < now) throw new SamlInvalidException("response IssueInstant expired");
        if (Saml.Child(response, Saml.Assertion, "Issuer") is { } issuer && issuer.InnerText != idp.EntityId)
            throw new SamlInvalidException("response Issuer does not match the IdP");
        var status = Saml.Child(response, Saml.Protocol, "Status") is { } s ? Saml.Child(s, Saml.Protocol, "StatusCode") : null;
        if (status?.GetAttribute("Value") != StatusSuccess)
            throw new SamlInvalidException($"status is {status?.GetAttribute("Value")}");

        var plain = Saml.Children(response, Saml.Assertion, "Assertion").ToList();
        var encrypted = Saml.Children(response, Saml.Assertion, "EncryptedAssertion").ToList();
        if (plain.Count + encrypted.Count != 1)
            throw new SamlInvalidException($"expected exactly one Assertion, found {plain.Count + encrypted.Count}");
        var assertion = plain.Count == 1 ? plain[0] : Decrypt(encrypted[0], sp.DecryptionKeys);

        // A valid response signature covers the assertion; otherwise the assertion must carry its own.
        if (!responseSigned)
        {
            var signature = SignatureOf(assertion) ?? throw new SamlInvalidException("neither the response nor the assertion is signed");
            VerifySignature(assertion, signature, idp, now);
        }
        return ReadAssertion(assertion, idp, sp, now);
    }

    static XmlDocument LoadStrict(string xml)
    {
        XmlDocument doc;
        try
        {
            doc = Saml.Load(xml);
        }
        catch (XmlException e)
        {
            throw new SamlInvalidException("invalid XML: " + e.Message);
        }
        // Signatures are computed without comments, so a comment inside a signed value changes what a reader
        // sees but not the signature; nothing legitimate needs one in a response.
        if (doc.SelectNodes("//comment() | //processing-instruction()")!.Count > 0)
            throw new SamlInvalidException("comments or processing instructions are not allowed");
        return doc;
    }

    /// The ds:Signature that is a direct child of the element; two are refused.
    static XmlElement? SignatureOf(XmlElement element)
    {
        var signatures = Saml.Children(element, Saml.Dsig, "Signature").ToList();
        return signatures.Count switch
        {
            0 => null,
            1 => signatures[0],
            _ => throw new SamlInvalidException("more than one Signature"),
        };
    }

    static void VerifySignature(XmlElement element, XmlElement signature, IdpMetadata idp, DateTime now)
    {
        var id = element.GetAttribute("ID");
        if (id.Length == 0) throw new SamlInvalidException($"signed {element.LocalName} has no ID");
        // SignedXml resolves "#id" through the whole document: the ID must name this element and no other.
        var sameId = element.OwnerDocument.SelectNodes("//*")!.OfType<XmlElement>()
            .Count(e => e.GetAttribute("ID") == id || e.GetAttribute("Id") == id || e.GetAttribute("id") == id);
        if (sameId != 1) throw new SamlInvalidException("signed ID is not unique");

        var signedInfo = Saml.Children(signature, Saml.Dsig, "SignedInfo").ToList();
        if (signedInfo.Count != 1) throw new SamlInvalidException("expected one SignedInfo");
        var c14n = Saml.Child(signedInfo[0], Saml.Dsig, "CanonicalizationMethod")?.GetAttribute("Algorithm");
        if (c14n is not (ExcC14n or C14n)) throw new SamlInvalidException($"canonicalization {c14n} not allowed");
        var method = Saml.Child(signedInfo[0], Saml.Dsig, "SignatureMethod")?.GetAttribute("Algorithm") ?? "";
        if (!SignatureMethods.Contains(method)) throw new SamlInvalidException($"signature method {method} not allowed");
        var references = Saml.Children(signedInfo[0], Saml.Dsig, "Reference").ToList();
        if (references.Count != 1) throw new SamlInvalidException("expected exactly one Reference");
        if (references[0].GetAttribute("URI") != "#" + id)
            throw new SamlInvalidException("the Reference does not name the signed element");
        if (Saml.Child(references[0], Saml.Dsig, "Transforms") is { } transforms)
            foreach (var transform in Saml.Children(transforms, Saml.Dsig, "Transform"))
                if (transform.GetAttribute("Algorithm") is not (Enveloped or ExcC14n or C14n))
                    throw new SamlInvalidException($"transform {transform.GetAttribute("Algorithm")} not allowed");
        var digest = Saml.Child(references[0], Saml.Dsig, "DigestMethod")?.GetAttribute("Algorithm") ?? "";
        if (!DigestMethods.Contains(digest)) throw new SamlInvalidException($"digest method {digest} not allowed");

        // Only the IdP's configured certificates verify; one sent along must be one of them (goxmldsig).
        var candidates = idp.SigningCertificates;
        var sent = signature.GetElementsByTagName("X509Certificate", Saml.Dsig).OfType<XmlElement>().FirstOrDefault();
        if (sent is not null)
        {
            byte[] der;
            try
            {
                der = Convert.FromBase64String(string.Concat(sent.InnerText.Where(c => !char.IsWhiteSpace(c))));
            }
            catch (FormatException)
            {
                throw new SamlInvalidException("KeyInfo certificate is not base64");
            }
            candidates = [.. candidates.Where(c => c.RawData.AsSpan().SequenceEqual(der))];
            if (candidates.Count == 0) throw new SamlInvalidException("signing certificate is not configured for this IdP");
        }
        foreach (var certificate in candidates)
        {
            if (now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime()) continue;
            using var key = certificate.GetRSAPublicKey();
            if (key is null) continue;
            var signed = new SignedXml(element);
            signed.LoadXml(signature);
            bool valid;
            try
            {
                valid = signed.CheckSignature(key);
            }
            catch (CryptographicException)
            {
                valid = false;
            }
            if (valid) return;
        }
        throw new SamlInvalidException("signature does not verify with a configured certificate");
    }

    static VerifiedAssertion ReadAssertion(XmlElement assertion, IdpMetadata idp, SamlExpectations sp, DateTime now)
    {
        var id = assertion.GetAttribute("ID");
        if (id.Length == 0) throw new SamlInvalidException("assertion has no ID");
        if (Required(assertion, "IssueInstant") + MaxIssueDelay < now) throw new SamlInvalidException("assertion expired");
        if (Saml.Child(assertion, Saml.Assertion, "Issuer")?.InnerText != idp.EntityId)
            throw new SamlInvalidException("assertion Issuer does not match the IdP");

        var subject = Saml.Child(assertion, Saml.Assertion, "Subject") ?? throw new SamlInvalidException("no Subject");
        foreach (var confirmation in Saml.Children(subject, Saml.Assertion, "SubjectConfirmation"))
        {
            var data = Saml.Child(confirmation, Saml.Assertion, "SubjectConfirmationData")
                ?? throw new SamlInvalidException("SubjectConfirmation without data");
            if (!sp.IdpInitiated && !sp.RequestIds.Contains(data.GetAttribute("InResponseTo")))
                throw new SamlInvalidException("SubjectConfirmation InResponseTo does not match a request we made");
            if (data.GetAttribute("Recipient") != sp.AcsUrl)
                throw new SamlInvalidException("SubjectConfirmation Recipient is not our ACS URL");
            if (Required(data, "NotOnOrAfter") + MaxClockSkew < now)
                throw new SamlInvalidException("SubjectConfirmationData is expired");
        }

        var conditions = Saml.Child(assertion, Saml.Assertion, "Conditions") ?? throw new SamlInvalidException("no Conditions");
        if (Saml.Time(conditions, "NotBefore") is { } notBefore && notBefore - MaxClockSkew > now)
            throw new SamlInvalidException("Conditions not yet valid");
        var notOnOrAfter = Required(conditions, "NotOnOrAfter");
        if (notOnOrAfter + MaxClockSkew < now) throw new SamlInvalidException("Conditions expired");
        var restrictions = Saml.Children(conditions, Saml.Assertion, "AudienceRestriction").ToList();
        if (restrictions.Count > 0 && !restrictions.Any(r => Saml.Children(r, Saml.Assertion, "Audience").Any(a => a.InnerText == sp.EntityId)))
            throw new SamlInvalidException("AudienceRestriction does not name us");

        var nameId = Saml.Child(subject, Saml.Assertion, "NameID");
        var attributes = new List<SamlAttribute>();
        foreach (var statement in Saml.Children(assertion, Saml.Assertion, "AttributeStatement"))
            foreach (var attribute in Saml.Children(statement, Saml.Assertion, "Attribute"))
                attributes.Add(new SamlAttribute(attribute.GetAttribute("Name"), attribute.GetAttribute("FriendlyName"),
                    [.. Saml.Children(attribute, Saml.Assertion, "AttributeValue").Select(v => v.InnerText)]));
        DateTime? sessionNotOnOrAfter = null;
        foreach (var statement in Saml.Children(assertion, Saml.Assertion, "AuthnStatement"))
            if (Time(statement, "SessionNotOnOrAfter") is { } t) { sessionNotOnOrAfter = t; break; }
        return new VerifiedAssertion(id, nameId?.InnerText, nameId?.GetAttribute("Format"), attributes,
            sessionNotOnOrAfter, notOnOrAfter + MaxClockSkew);
    }

    /// A missing time reads as Go's zero time in crewjam, which is always in the past: refused.
    static DateTime Required(XmlElement element, string attribute) =>
        Time(element, attribute) ?? throw new SamlInvalidException($"{element.LocalName} has no {attribute}");

    static DateTime? Time(XmlElement element, string attribute)
    {
        try
        {
            return Saml.Time(element, attribute);
        }
        catch (XmlException e)
        {
            throw new SamlInvalidException(e.Message);
        }
    }

    /// `EncryptedAssertion` (only with GOTRUE_SAML_ALLOW_ENCRYPTED_ASSERTIONS): RSA-OAEP key transport, then
    /// AES-CBC or AES-GCM. The plaintext is parsed as strictly as the response and must be one Assertion.
    static XmlElement Decrypt(XmlElement encryptedAssertion, IReadOnlyList<RSA> keys)
    {
        if (keys.Count == 0) throw new SamlInvalidException("encrypted assertions are not allowed");
        var dataElement = Saml.Child(encryptedAssertion, Saml.Xenc, "EncryptedData")
            ?? throw new SamlInvalidException("EncryptedAssertion without EncryptedData");
        var keyElement = Saml.Child(encryptedAssertion, Saml.Xenc, "EncryptedKey")
            ?? dataElement.GetElementsByTagName("EncryptedKey", Saml.Xenc).OfType<XmlElement>().FirstOrDefault()
            ?? throw new SamlInvalidException("EncryptedAssertion without EncryptedKey");
        try
        {
            var data = new EncryptedData();
            data.LoadXml(dataElement);
            var encryptedKey = new EncryptedKey();
            encryptedKey.LoadXml(keyElement);
            if (encryptedKey.EncryptionMethod?.KeyAlgorithm != EncryptedXml.XmlEncRSAOAEPUrl)
                throw new SamlInvalidException("key transport must be RSA-OAEP");
            var wrapped = encryptedKey.CipherData.CipherValue ?? throw new SamlInvalidException("no key CipherValue");
            byte[]? sessionKey = null;
            foreach (var rsa in keys)
            {
                try
                {
                    sessionKey = EncryptedXml.DecryptKey(wrapped, rsa, useOAEP: true);
                    break;
                }
                catch (CryptographicException)
                {
                }
            }
            if (sessionKey is null) throw new SamlInvalidException("cannot decrypt the assertion key");
            var cipher = data.CipherData.CipherValue ?? throw new SamlInvalidException("no CipherValue");
            byte[] plaintext;
            switch (data.EncryptionMethod?.KeyAlgorithm)
            {
                case EncryptedXml.XmlEncAES128Url or EncryptedXml.XmlEncAES192Url or EncryptedXml.XmlEncAES256Url:
                    using (var aes = Aes.Create())
                    {
                        aes.Key = sessionKey;
                        plaintext = new EncryptedXml().DecryptData(data, aes);
                    }
                    break;
                case "http://www.w3.org/2009/xmlenc11#aes128-gcm" or "http://www.w3.org/2009/xmlenc11#aes256-gcm":
                    if (cipher.Length < 28) throw new SamlInvalidException("GCM ciphertext too short");
                    plaintext = new byte[cipher.Length - 28];
                    using (var gcm = new AesGcm(sessionKey, 16))
                        gcm.Decrypt(cipher.AsSpan(0, 12), cipher.AsSpan(12, plaintext.Length), cipher.AsSpan(cipher.Length - 16), plaintext);
                    break;
                default:
                    throw new SamlInvalidException($"data encryption {data.EncryptionMethod?.KeyAlgorithm} not allowed");
            }
            var inner = LoadStrict(Encoding.UTF8.GetString(plaintext)).DocumentElement!;
            if (inner.NamespaceURI != Saml.Assertion || inner.LocalName != "Assertion")
                throw new SamlInvalidException("decrypted content is not an Assertion");
            return inner;
        }
        catch (CryptographicException e)
        {
            throw new SamlInvalidException("cannot decrypt the assertion: " + e.Message);
        }
    }
}
