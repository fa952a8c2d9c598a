using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Web;

namespace AuthServer.Tests.Infrastructure;

/// <summary>GOTRUE_SAML_ENABLED with a fresh SP key, and helpers for the IdP round trip.</summary>
public class SamlFixture : AuthServerFixture
{
    public static readonly string SpKey = Convert.ToBase64String(RSA.Create(2048).ExportRSAPrivateKey());
    public const string Acs = "http://localhost:9999/sso/saml/acs";
    public const string EntityId = "http://localhost:9999/sso/saml/metadata";
    public const string SiteUrl = "http://localhost:3000";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_SAML_ENABLED"] = "true";
        settings["GOTRUE_SAML_PRIVATE_KEY"] = SpKey;
        settings["GOTRUE_RATE_LIMIT_SSO"] = "1000000";
        settings["GOTRUE_SAML_RATE_LIMIT_ASSERTION"] = "1000000";
        settings["GOTRUE_URI_ALLOW_LIST"] = "http://localhost:3000/**";
    }

    public HttpClient Admin() => CreateClient(bearer: TestKeys.ServiceRoleKey());

    /// <summary>POST /admin/sso/providers with the IdP's metadata XML; returns the provider JSON.</summary>
    public async Task<JsonObject> CreateProviderAsync(SamlIdp idp, string[] domains, object? attributeMapping = null)
    {
        using var admin = Admin();
        var response = await admin.PostAsJsonAsync("/admin/sso/providers", new
        {
            type = "saml",
            metadata_xml = idp.Metadata(),
            domains,
            attribute_mapping = attributeMapping,
        });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create provider: {(int)response.StatusCode} {body}\n{ServerLog}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>POST /sso with skip_http_redirect; the AuthnRequest ID and RelayState from the URL.</summary>
    public async Task<(string RequestId, string RelayState)> StartAsync(object body)
    {
        using var client = CreateClient();
        var json = await OkJsonAsync(await client.PostAsJsonAsync("/sso", body));
        var (requestId, relayState, _) = SamlIdp.ReadRedirect((string)json["url"]!);
        return (requestId, relayState);
    }

    public async Task<HttpResponseMessage> PostAcsAsync(string samlResponse, string? relayState)
    {
        using var client = CreateClient();
        var form = new Dictionary<string, string> { ["SAMLResponse"] = samlResponse };
        if (relayState is not null) form["RelayState"] = relayState;
        return await client.PostAsync("/sso/saml/acs", new FormUrlEncodedContent(form));
    }

    /// <summary>GoTrue's ACS failure: 303 to the site URL with error, error_code and error_description in the query.</summary>
    public static void AssertRefused(HttpResponseMessage response, string errorCode, string description)
    {
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.StartsWith(SiteUrl, location);
        var query = HttpUtility.ParseQueryString(new Uri(location).Query);
        Assert.Equal(errorCode, query["error_code"]);
        Assert.Equal(description, query["error_description"]);
    }

    /// <summary>The fragment parameters of a successful ACS redirect.</summary>
    public static System.Collections.Specialized.NameValueCollection Fragment(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        return HttpUtility.ParseQueryString(location[(location.IndexOf('#') + 1)..]);
    }
}

/// <summary>SAML with GOTRUE_SAML_ALLOW_ENCRYPTED_ASSERTIONS=true.</summary>
public sealed class SamlEncryptedFixture : SamlFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        base.Configure(settings);
        settings["GOTRUE_SAML_ALLOW_ENCRYPTED_ASSERTIONS"] = "true";
    }
}
