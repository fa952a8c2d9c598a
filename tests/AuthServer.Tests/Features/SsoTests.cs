using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Security.Cryptography.X509Certificates;
using System.Xml;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>SAML 2.0 SSO through a local IdP (GoTrue sso.go, samlacs.go, ssoadmin.go, saml.go).</summary>
public sealed class SsoTests(SamlFixture server) : IClassFixture<SamlFixture>
{
    static string Domain() => $"acme-{Guid.NewGuid():N}.test";

    static readonly object Mapping = new
    {
        keys = new Dictionary<string, object>
        {
            ["name"] = new { name = "displayName" },
            ["groups"] = new { name = "memberOf", array = true },
            ["department"] = new { names = new[] { "dept", "department" }, @default = "none" },
        },
    };

    [Fact]
    public async Task SignIn_ByDomain_CreatesSsoUserWithMappedAttributes_AndSession()
    {
        var idp = new SamlIdp();
        var domain = Domain();
        var provider = await server.CreateProviderAsync(idp, [domain], Mapping);
        var (requestId, relayState) = await server.StartAsync(new { domain, skip_http_redirect = true, redirect_to = "http://localhost:3000/welcome" });

        var email = $"ada@{domain}";
        var doc = idp.Build(new SamlIdp.Response
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = requestId,
            NameId = email,
            Attributes = new() { ["displayName"] = ["Ada Lovelace"], ["memberOf"] = ["eng", "admins"] },
        });
        idp.Sign(SamlIdp.AssertionOf(doc));
        var response = await server.PostAcsAsync(SamlIdp.Encode(doc), relayState);

        Assert.StartsWith("http://localhost:3000/welcome#", response.Headers.Location!.ToString());
        var fragment = SamlFixture.Fragment(response);
        Assert.Equal("bearer", fragment["token_type"]);
        var claims = Jwt.Payload(fragment["access_token"]!);
        Assert.Equal("sso/saml", (string)claims["amr"]![0]!["method"]!);
        Assert.Equal(email, (string)claims["email"]!);

        var providerType = $"sso:{provider["id"]}";
        Assert.True(await server.Db.ScalarAsync<bool>("select is_sso_user from auth.users where email = @email", new { email }));
        var data = JsonNode.Parse(await server.Db.ScalarAsync<string>(
            "select identity_data::text from auth.identities where provider = @providerType", new { providerType }))!;
        Assert.Equal("Ada Lovelace", (string)data["name"]!);
        Assert.Equal(idp.EntityId, (string)data["iss"]!);
        Assert.Equal(email, (string)data["sub"]!);
        Assert.True((bool)data["email_verified"]!);
        ApiAssert.JsonEqual("""["eng","admins"]""", data["custom_claims"]!["groups"]);
        Assert.Equal("none", (string)data["custom_claims"]!["department"]!);
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where email = @email", new { email }));

        // The refresh token works like any other session's.
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = fragment["refresh_token"] }));
    }

    [Fact]
    public async Task SignIn_ByProviderIdWithPkce_RedirectsWithCode_ExchangedForSession()
    {
        var idp = new SamlIdp();
        var provider = await server.CreateProviderAsync(idp, [Domain()]);
        var verifier = new string('v', 50);
        var challenge = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier)))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var (requestId, relayState) = await server.StartAsync(new
        {
            provider_id = (string)provider["id"]!,
            skip_http_redirect = true,
            code_challenge = challenge,
            code_challenge_method = "s256",
        });
        var doc = idp.Build(new SamlIdp.Response
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = requestId,
            NameId = "user-42",
            NameIdFormat = SamlIdp.PersistentFormat,
            Attributes = new() { ["mail"] = ["grace@example.test"] },
        });
        idp.Sign(doc.DocumentElement!); // the whole response signed, the assertion not
        var response = await server.PostAcsAsync(SamlIdp.Encode(doc), relayState);

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.Equal(SamlFixture.SiteUrl + "/", new Uri(location).GetLeftPart(UriPartial.Path));
        var code = System.Web.HttpUtility.ParseQueryString(new Uri(location).Query)["code"];
        using var client = server.CreateClient();
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=pkce",
            new { auth_code = code, code_verifier = verifier }));
        Assert.Equal("grace@example.test", (string)session["user"]!["email"]!);
        Assert.Equal("sso/saml", (string)Jwt.Payload((string)session["access_token"]!)["amr"]![0]!["method"]!);
    }

    [Fact]
    public async Task SignIn_Sha1Signature_AcceptedAsGoTrue()
    {
        var idp = new SamlIdp();
        var domain = Domain();
        await server.CreateProviderAsync(idp, [domain]);
        var (requestId, relayState) = await server.StartAsync(new { domain, skip_http_redirect = true });
        var doc = idp.Build(new SamlIdp.Response
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = requestId,
            NameId = $"sha1@{domain}",
        });
        idp.Sign(SamlIdp.AssertionOf(doc), SamlIdp.RsaSha1);
        Assert.NotNull(SamlFixture.Fragment(await server.PostAcsAsync(SamlIdp.Encode(doc), relayState))["access_token"]);
    }

    [Fact]
    public async Task SignIn_AssertionAndResponseBothSigned_Accepted()
    {
        var idp = new SamlIdp();
        var domain = Domain();
        await server.CreateProviderAsync(idp, [domain]);
        var (requestId, relayState) = await server.StartAsync(new { domain, skip_http_redirect = true });
        var doc = idp.Build(new SamlIdp.Response
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = requestId,
            NameId = $"both@{domain}",
        });
        idp.Sign(SamlIdp.AssertionOf(doc));
        idp.Sign(doc.DocumentElement!);
        Assert.NotNull(SamlFixture.Fragment(await server.PostAcsAsync(SamlIdp.Encode(doc), relayState))["access_token"]);
    }

    [Fact]
    public async Task SignIn_TransientNameIdWithoutSubjectId_RedirectsSamlAssertionNoUserId()
    {
        var idp = new SamlIdp();
        var domain = Domain();
        await server.CreateProviderAsync(idp, [domain]);
        var (requestId, relayState) = await server.StartAsync(new { domain, skip_http_redirect = true });
        var doc = idp.Build(new SamlIdp.Response
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = requestId,
            NameId = "t-1",
            NameIdFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        });
        idp.Sign(SamlIdp.AssertionOf(doc));
        SamlFixture.AssertRefused(await server.PostAcsAsync(SamlIdp.Encode(doc), relayState), "saml_assertion_no_user_id",
            "SAML Assertion did not contain a persistent Subject Identifier attribute or Subject NameID uniquely identifying this user");
    }

    [Fact]
    public async Task SignIn_NoEmail_RedirectsSamlAssertionNoEmail()
    {
        var idp = new SamlIdp();
        var domain = Domain();
        await server.CreateProviderAsync(idp, [domain]);
        var (requestId, relayState) = await server.StartAsync(new { domain, skip_http_redirect = true });
        var doc = idp.Build(new SamlIdp.Response
        {
            Acs = SamlFixture.Acs,
            Audience = SamlFixture.EntityId,
            InResponseTo = requestId,
            NameId = "u-7",
            NameIdFormat = SamlIdp.PersistentFormat,
        });
        idp.Sign(SamlIdp.AssertionOf(doc));
        SamlFixture.AssertRefused(await server.PostAcsAsync(SamlIdp.Encode(doc), relayState), "saml_assertion_no_email",
            "SAML Assertion does not contain an email address");
    }

    [Fact]
    public async Task Sso_WithoutSkip_Redirects303ToIdpWithSignedRequest()
    {
        var idp = new SamlIdp();
        var domain = Domain();
        await server.CreateProviderAsync(idp, [domain]);
        using var client = server.CreateClient();
        var response = await client.PostAsJsonAsync("/sso", new { domain });

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var url = response.Headers.Location!.ToString();
        Assert.StartsWith(idp.SsoUrl + "?SAMLRequest=", url);
        var query = System.Web.HttpUtility.ParseQueryString(new Uri(url).Query);
        Assert.Equal("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", query["SigAlg"]);
        var (_, _, request) = SamlIdp.ReadRedirect(url);
        Assert.Equal(SamlFixture.Acs, request.DocumentElement!.GetAttribute("AssertionConsumerServiceURL"));
        Assert.Equal(SamlFixture.EntityId, request.DocumentElement.GetElementsByTagName("Issuer", SamlIdp.AssertionNs)[0]!.InnerText);

        // The query signature verifies with the key our metadata publishes.
        using var metadataClient = server.CreateClient();
        var metadata = new XmlDocument();
        metadata.LoadXml(await metadataClient.GetStringAsync("/sso/saml/metadata"));
        var cert = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(
            Convert.FromBase64String(metadata.GetElementsByTagName("X509Certificate", "http://www.w3.org/2000/09/xmldsig#")[0]!.InnerText));
        var signedPart = url[(url.IndexOf('?') + 1)..url.IndexOf("&Signature=", StringComparison.Ordinal)];
        Assert.True(cert.GetRSAPublicKey()!.VerifyData(System.Text.Encoding.UTF8.GetBytes(signedPart),
            Convert.FromBase64String(query["Signature"]!), System.Security.Cryptography.HashAlgorithmName.SHA256,
            System.Security.Cryptography.RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public async Task Sso_BadRequests_AnswerAsGoTrue()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/sso", new { }),
            400, "validation_failed", "A provider_id or domain needs to be provided");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/sso", new { domain = "a.test", provider_id = Guid.NewGuid() }),
            400, "validation_failed", "Only one of provider_id or domain supported");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/sso", new { domain = "nobody.test" }),
            404, "sso_provider_not_found", "No SSO provider assigned for this domain");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/sso", new { provider_id = Guid.NewGuid() }),
            404, "sso_provider_not_found", "No such SSO provider");
    }

    [Fact]
    public async Task Sso_DisabledProvider_Returns404SsoProviderDisabled()
    {
        var idp = new SamlIdp();
        var domain = Domain();
        var provider = await server.CreateProviderAsync(idp, [domain]);
        using var admin = server.Admin();
        await server.OkJsonAsync(await admin.PutAsJsonAsync($"/admin/sso/providers/{provider["id"]}", new { disabled = true }));
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/sso", new { domain }),
            404, "sso_provider_disabled", "SSO Provider is currently disabled");
    }

    [Fact]
    public async Task Metadata_DescribesUs_DownloadIsAnAttachment()
    {
        using var client = server.CreateClient();
        var response = await client.GetAsync("/sso/saml/metadata");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/xml", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("public, max-age=600", response.Headers.CacheControl!.ToString());
        var xml = new XmlDocument();
        xml.LoadXml(await response.Content.ReadAsStringAsync());
        Assert.Equal(SamlFixture.EntityId, xml.DocumentElement!.GetAttribute("entityID"));
        var acs = xml.GetElementsByTagName("AssertionConsumerService", "urn:oasis:names:tc:SAML:2.0:metadata")[0] as XmlElement;
        Assert.Equal(SamlFixture.Acs, acs!.GetAttribute("Location"));
        Assert.DoesNotContain("use=\"encryption\"", xml.OuterXml); // encrypted assertions not allowed here

        var download = await client.GetAsync("/sso/saml/metadata?download=true");
        Assert.Equal("attachment; filename=\"metadata.xml\"", download.Content.Headers.ContentDisposition!.ToString());
        var settings = await server.OkJsonAsync(await client.GetAsync("/settings"));
        Assert.True((bool)settings["saml_enabled"]!);
        Assert.False((bool)settings["saml_private_key_next_configured"]!);
    }

    [Fact]
    public async Task Admin_Crud_AsGoTrue()
    {
        using var admin = server.Admin();
        var idp = new SamlIdp();
        var domain = Domain();
        var created = await server.CreateProviderAsync(idp, [domain], Mapping);
        var id = (string)created["id"]!;
        Assert.Equal(idp.EntityId, (string)created["saml"]!["entity_id"]!);
        Assert.NotNull(created["saml"]!["metadata_xml"]);
        ApiAssert.JsonEqual($$"""[{"domain":"{{domain}}"}]""", created["domains"]);
        Assert.Null(created["disabled"]);

        var list = await server.OkJsonAsync(await admin.GetAsync("/admin/sso/providers"));
        var listed = list["items"]!.AsArray().Single(p => (string)p!["id"]! == id)!;
        Assert.Null(listed["saml"]!["metadata_xml"]);

        var other = Domain();
        var updated = await server.OkJsonAsync(await admin.PutAsJsonAsync($"/admin/sso/providers/{id}",
            new { domains = new[] { other }, resource_id = "acme-" + id, name_id_format = SamlIdp.PersistentFormat }));
        ApiAssert.JsonEqual($$"""[{"domain":"{{other}}"}]""", updated["domains"]);
        Assert.Equal(SamlIdp.PersistentFormat, (string)updated["saml"]!["name_id_format"]!);
        // The mapping is kept when the update does not name `keys`.
        Assert.Equal("displayName", (string)updated["saml"]!["attribute_mapping"]!["keys"]!["name"]!["name"]!);

        var byResource = await server.OkJsonAsync(await admin.GetAsync($"/admin/sso/providers/resource_acme-{id}"));
        Assert.Equal(id, (string)byResource["id"]!);
        var filtered = await server.OkJsonAsync(await admin.GetAsync($"/admin/sso/providers?resource_id=acme-{id}"));
        Assert.Single(filtered["items"]!.AsArray());

        await server.OkJsonAsync(await admin.DeleteAsync($"/admin/sso/providers/{id}"));
        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/admin/sso/providers/{id}"),
            404, "sso_provider_not_found", "SSO Identity Provider not found", bearer: TestKeys.ServiceRoleKey());
    }

    [Fact]
    public async Task Admin_Create_RefusesAsGoTrue()
    {
        var bearer = TestKeys.ServiceRoleKey();
        var idp = new SamlIdp();
        var domain = Domain();
        await server.CreateProviderAsync(idp, [domain]);
        Task Refused(object body, int status, string code, string message) =>
            server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/admin/sso/providers", body), status, code, message, bearer: bearer);

        await Refused(new { type = "oidc", metadata_xml = "x" }, 400, "validation_failed", "Only 'saml' supported for SSO provider type");
        await Refused(new { type = "saml", metadata_xml = "x", metadata_url = "https://a.test/m" }, 400, "validation_failed",
            "Only one of metadata_xml or metadata_url needs to be set");
        await Refused(new { type = "saml", metadata_url = "http://a.test/m" }, 400, "validation_failed", "metadata_url is not a HTTPS URL");
        await Refused(new { type = "saml", metadata_xml = idp.Metadata(), name_id_format = "nope" }, 400, "validation_failed",
            "name_id_format must be unspecified or one of urn:oasis:names:tc:SAML:2.0:nameid-format:persistent, urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress, urn:oasis:names:tc:SAML:2.0:nameid-format:transient, urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
        await Refused(new { type = "saml", metadata_xml = idp.Metadata() }, 422, "saml_idp_already_exists",
            $"SAML Identity Provider with this EntityID ({idp.EntityId}) already exists");
        var owner = (string)(await server.OkJsonAsync(await server.Admin().GetAsync("/admin/sso/providers")))["items"]!.AsArray()
            .Single(p => (string)p!["saml"]!["entity_id"]! == idp.EntityId)!["id"]!;
        await Refused(new { type = "saml", metadata_xml = new SamlIdp().Metadata(), domains = new[] { domain } }, 400,
            "sso_domain_already_exists", $"SSO Domain '{domain}' is already assigned to an SSO identity provider ({owner})");
        await Refused(new { type = "saml", metadata_xml = "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"e\"/>" },
            400, "validation_failed", "SAML Metadata does not contain any IDPSSODescriptor");
        // A DTD (entity expansion, XXE) never gets parsed.
        await Refused(new { type = "saml", metadata_xml = "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>" },
            400, "validation_failed", null!);
        await Refused(new { type = "saml", metadata_url = "https://127.0.0.1:1/metadata" }, 400, "saml_metadata_fetch_failed",
            "Error fetching SAML Metadata from URL 'https://127.0.0.1:1/metadata'");
    }

    [Fact]
    public async Task Admin_Update_OtherEntityId_Returns400SamlEntityIdMismatch()
    {
        var idp = new SamlIdp();
        var provider = await server.CreateProviderAsync(idp, [Domain()]);
        var other = new SamlIdp();
        await server.AssertErrorBothShapesAsync(
            c => c.PutAsJsonAsync($"/admin/sso/providers/{provider["id"]}", new { metadata_xml = other.Metadata() }),
            400, "saml_entity_id_mismatch",
            $"SAML Metadata can be updated only if the EntityID matches for the provider; expected '{idp.EntityId}' but got '{other.EntityId}'",
            bearer: TestKeys.ServiceRoleKey());
    }
}
