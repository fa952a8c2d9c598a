using System.Xml;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// The classic attacks on SAML service providers, each against a response from the local IdP that would
/// otherwise sign in: every one is refused with GoTrue's error (303 to the site URL, `validation_failed`,
/// "SAML Assertion is not valid") and creates no user. CATALOGUE.md "SAML".
/// </summary>
[Trait("catalogue", "SAML")]
public sealed class SamlAttackTests(SamlFixture server) : IClassFixture<SamlFixture>
{
    const string NotValid = "SAML Assertion is not valid";

    sealed record Flow(SamlIdp Idp, string Domain, string RequestId, string RelayState, string Email)
    {
        public SamlIdp.Response Response => new()
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = RequestId,
            NameId = Email,
        };
    }

    async Task<Flow> StartAsync()
    {
        var idp = new SamlIdp();
        var domain = $"victim-{Guid.NewGuid():N}.test";
        await server.CreateProviderAsync(idp, [domain]);
        var (requestId, relayState) = await server.StartAsync(new { domain, skip_http_redirect = true });
        return new Flow(idp, domain, requestId, relayState, $"ceo@{domain}");
    }

    async Task AssertRefusedAsync(Flow flow, XmlDocument doc, string code = "validation_failed", string description = NotValid) =>
        await AssertRefusedAsync(flow, SamlIdp.Encode(doc), code, description);

    async Task AssertRefusedAsync(Flow flow, string encoded, string code = "validation_failed", string description = NotValid)
    {
        SamlFixture.AssertRefused(await server.PostAcsAsync(encoded, flow.RelayState), code, description);
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.users where email like @pattern", new { pattern = "%@" + flow.Domain }));
    }

    /// <summary>A signed response carrying the attacker's assertion instead (new ID, attacker's NameID).</summary>
    static XmlElement EvilAssertion(Flow flow, XmlDocument into)
    {
        var evil = flow.Idp.Build(flow.Response with { NameId = $"ceo@{flow.Domain}" });
        var assertion = SamlIdp.AssertionOf(evil);
        assertion.SetAttribute("ID", "_evil" + Guid.NewGuid().ToString("N"));
        return (XmlElement)into.ImportNode(assertion, true);
    }

    static XmlElement SignatureOf(XmlElement element) =>
        element.ChildNodes.OfType<XmlElement>().Single(e => e.LocalName == "Signature");

    // ---- signature wrapping, response signature (XSW1, XSW2) ----

    [Fact]
    public async Task Xsw1_EvilResponseWithOriginalInsideSignature_Refused()
    {
        var flow = await StartAsync();
        var original = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        flow.Idp.Sign(original.DocumentElement!);
        var evil = flow.Idp.Build(flow.Response);
        evil.DocumentElement!.SetAttribute("ID", "_evilresponse");
        var signature = (XmlElement)evil.ImportNode(SignatureOf(original.DocumentElement!), true);
        signature.AppendChild(evil.ImportNode(original.DocumentElement!, true));
        evil.DocumentElement.InsertAfter(signature, evil.DocumentElement.FirstChild);
        await AssertRefusedAsync(flow, evil);
    }

    [Fact]
    public async Task Xsw2_EvilResponseWithOriginalAsDetachedSibling_Refused()
    {
        var flow = await StartAsync();
        var original = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        flow.Idp.Sign(original.DocumentElement!);
        var evil = flow.Idp.Build(flow.Response);
        evil.DocumentElement!.SetAttribute("ID", "_evilresponse");
        var signature = (XmlElement)evil.ImportNode(SignatureOf(original.DocumentElement!), true);
        var originalCopy = evil.ImportNode(original.DocumentElement!, true);
        originalCopy.RemoveChild(originalCopy.ChildNodes.OfType<XmlElement>().Single(e => e.LocalName == "Signature"));
        evil.DocumentElement.InsertAfter(signature, evil.DocumentElement.FirstChild);
        evil.DocumentElement.InsertBefore(originalCopy, signature);
        await AssertRefusedAsync(flow, evil);
    }

    // ---- signature wrapping, assertion signature (XSW3–XSW8) ----

    [Fact]
    public async Task Xsw3_EvilAssertionBeforeSignedOriginal_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        var original = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(original);
        doc.DocumentElement!.InsertBefore(EvilAssertion(flow, doc), original);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task Xsw4_SignedOriginalNestedInsideEvilAssertion_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        var original = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(original);
        var evil = EvilAssertion(flow, doc);
        doc.DocumentElement!.ReplaceChild(evil, original);
        evil.AppendChild(original);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task Xsw5_EvilCopyKeepsSignature_OriginalMovedToEnd_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        var original = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(original);
        var evil = EvilAssertion(flow, doc);
        var signature = SignatureOf(original);
        original.RemoveChild(signature);
        evil.InsertAfter(signature, evil.FirstChild);
        doc.DocumentElement!.ReplaceChild(evil, original);
        doc.DocumentElement.AppendChild(original);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task Xsw6_EvilCopyWithOriginalIdAndOriginalInsideSignature_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        var original = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(original);
        var evil = EvilAssertion(flow, doc);
        evil.SetAttribute("ID", original.GetAttribute("ID")); // same ID: the reference would resolve to either
        var signature = SignatureOf(original);
        original.RemoveChild(signature);
        signature.AppendChild(original.CloneNode(true));
        evil.InsertAfter(signature, evil.FirstChild);
        doc.DocumentElement!.ReplaceChild(evil, original);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task Xsw7_SignedOriginalInExtensions_EvilAssertionUnsigned_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        var original = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(original);
        var extensions = doc.CreateElement("samlp", "Extensions", SamlIdp.Protocol);
        doc.DocumentElement!.ReplaceChild(EvilAssertion(flow, doc), original);
        extensions.AppendChild(original);
        doc.DocumentElement.InsertAfter(extensions, doc.DocumentElement.FirstChild);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task Xsw8_EvilAssertionWithSignatureObjectHoldingOriginal_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        var original = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(original);
        var evil = EvilAssertion(flow, doc);
        var signature = (XmlElement)SignatureOf(original).CloneNode(true);
        var obj = doc.CreateElement("ds", "Object", "http://www.w3.org/2000/09/xmldsig#");
        var unsignedOriginal = (XmlElement)original.CloneNode(true);
        unsignedOriginal.RemoveChild(SignatureOf(unsignedOriginal));
        obj.AppendChild(unsignedOriginal);
        signature.AppendChild(obj);
        evil.InsertAfter(signature, evil.FirstChild);
        doc.DocumentElement!.ReplaceChild(evil, original);
        await AssertRefusedAsync(flow, doc);
    }

    // ---- what is signed, and by whom ----

    [Fact]
    public async Task UnsignedResponseAndAssertion_Refused()
    {
        var flow = await StartAsync();
        await AssertRefusedAsync(flow, flow.Idp.Build(flow.Response));
    }

    [Fact]
    public async Task UnsignedAssertionSwappedIntoSignedResponse_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        flow.Idp.Sign(doc.DocumentElement!);
        var original = SamlIdp.AssertionOf(doc);
        var evil = EvilAssertion(flow, doc);
        evil.SetAttribute("ID", original.GetAttribute("ID"));
        doc.DocumentElement!.ReplaceChild(evil, original);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task SignedAssertionInResponseWithBrokenSignature_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response);
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        flow.Idp.Sign(doc.DocumentElement!);
        doc.DocumentElement!.SetAttribute("Consent", "urn:oasis:names:tc:SAML:2.0:consent:obtained"); // after signing
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task SignedAssertionThenEdited_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { NameId = "nobody@else.test" });
        var assertion = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(assertion);
        assertion.GetElementsByTagName("NameID", SamlIdp.AssertionNs)[0]!.InnerText = flow.Email;
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task CertificateNotConfigured_Refused()
    {
        var flow = await StartAsync();
        var stranger = new SamlIdp(flow.Idp.EntityId);
        var doc = flow.Idp.Build(flow.Response);
        stranger.Sign(SamlIdp.AssertionOf(doc));
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task ConfiguredCertificateInKeyInfo_ButSignedWithAnotherKey_Refused()
    {
        var flow = await StartAsync();
        var stranger = new SamlIdp(flow.Idp.EntityId);
        var doc = flow.Idp.Build(flow.Response);
        flow.Idp.Sign(SamlIdp.AssertionOf(doc), key: stranger.Key, certificate: flow.Idp.Certificate);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task CommentInjectedIntoSignedNameId_Refused()
    {
        var flow = await StartAsync();
        // The IdP vouches for ceo@victim….test.attacker.test; a comment after signing would make a naive
        // reader see only the text before it.
        var doc = flow.Idp.Build(flow.Response with { NameId = flow.Email + ".attacker.test" });
        var assertion = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(assertion);
        var nameId = assertion.GetElementsByTagName("NameID", SamlIdp.AssertionNs)[0]!;
        nameId.InnerXml = "";
        nameId.AppendChild(doc.CreateTextNode(flow.Email));
        nameId.AppendChild(doc.CreateComment(""));
        nameId.AppendChild(doc.CreateTextNode(".attacker.test"));
        await AssertRefusedAsync(flow, doc);
    }

    // ---- conditions ----

    [Fact]
    public async Task WrongAudience_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { Audience = "https://other-sp.example.test/metadata" });
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task WrongRecipient_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { Recipient = "https://other-sp.example.test/acs" });
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task WrongDestination_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { Destination = "https://other-sp.example.test/acs" });
        flow.Idp.Sign(doc.DocumentElement!);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task InResponseToAnotherRequest_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { InResponseTo = "id-somebody-elses-request" });
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task Expired_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { Now = DateTime.UtcNow.AddMinutes(-10) });
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task IssuerOfAnotherIdp_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { Issuer = "https://evil-idp.example.test" });
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task StatusNotSuccess_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { Status = "urn:oasis:names:tc:SAML:2.0:status:Requester" });
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task EncryptedAssertionWhenNotAllowed_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response);
        var assertion = SamlIdp.AssertionOf(doc);
        flow.Idp.Sign(assertion);
        var encrypted = doc.CreateElement("saml", "EncryptedAssertion", SamlIdp.AssertionNs);
        var data = doc.CreateElement("xenc", "EncryptedData", "http://www.w3.org/2001/04/xmlenc#");
        data.InnerXml = "<xenc:CipherData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData>";
        encrypted.AppendChild(data);
        doc.DocumentElement!.ReplaceChild(encrypted, assertion);
        await AssertRefusedAsync(flow, doc);
    }

    [Fact]
    public async Task DoctypeInResponse_Refused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response);
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        var xml = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" + doc.OuterXml;
        await AssertRefusedAsync(flow, Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(xml)));
    }

    // ---- replay ----

    [Fact]
    public async Task Replay_SpInitiated_RelayStateIsUsedUp()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response);
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        var first = await server.PostAcsAsync(SamlIdp.Encode(doc), flow.RelayState);
        Assert.NotNull(SamlFixture.Fragment(first)["access_token"]);
        SamlFixture.AssertRefused(await server.PostAcsAsync(SamlIdp.Encode(doc), flow.RelayState),
            "saml_relay_state_not_found", "SAML RelayState does not exist, try logging in again?");
    }

    [Fact]
    public async Task Replay_IdpInitiated_SameAssertionIdRefused()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response with { InResponseTo = null });
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        var first = await server.PostAcsAsync(SamlIdp.Encode(doc), null);
        Assert.NotNull(SamlFixture.Fragment(first)["access_token"]);
        var sessions = await server.Db.ScalarAsync<long>("select count(*) from auth.sessions s join auth.users u on u.id = s.user_id where u.email = @email",
            new { email = flow.Email });
        SamlFixture.AssertRefused(await server.PostAcsAsync(SamlIdp.Encode(doc), null), "validation_failed", NotValid);
        Assert.Equal(sessions, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.sessions s join auth.users u on u.id = s.user_id where u.email = @email", new { email = flow.Email }));
    }

    [Fact]
    public async Task RelayStateExpired_Returns422SamlRelayStateExpired()
    {
        var flow = await StartAsync();
        var doc = flow.Idp.Build(flow.Response);
        flow.Idp.Sign(SamlIdp.AssertionOf(doc));
        server.Clock.Advance(TimeSpan.FromMinutes(3));
        try
        {
            await AssertRefusedAsync(flow, doc, "saml_relay_state_expired", "SAML RelayState has expired. Try logging in again?");
        }
        finally
        {
            server.Clock.Advance(TimeSpan.FromMinutes(-3));
        }
    }

    [Fact]
    public async Task UnknownIdpInitiated_Returns404SamlIdpNotFound()
    {
        var stranger = new SamlIdp();
        var doc = stranger.Build(new SamlIdp.Response { Acs = SamlFixture.Acs, Audience = SamlFixture.EntityId, NameId = "x@nowhere.test" });
        stranger.Sign(SamlIdp.AssertionOf(doc));
        SamlFixture.AssertRefused(await server.PostAcsAsync(SamlIdp.Encode(doc), null), "saml_idp_not_found",
            "A SAML connection has not been established with this Identity Provider");
    }
}
