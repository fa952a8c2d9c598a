using System.Net;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_JWT_ISSUER with a trailing slash, as deployments often write it.</summary>
public sealed class IssuerFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_JWT_ISSUER"] = "http://localhost:9999/auth/v1/";
}

/// <summary>`GET /.well-known/openid-configuration` as GoTrue jwks.go `WellKnownOpenID` serves it: no feature gate.</summary>
public sealed class OpenIdConfigurationTests(IssuerFixture server) : IClassFixture<IssuerFixture>
{
    const string Lists = """
        "scopes_supported":["openid","profile","email","phone"],"response_types_supported":["code"],
        "response_modes_supported":["query"],"grant_types_supported":["authorization_code","refresh_token"],
        "subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256","HS256","ES256"],
        "token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post","none"],
        "claims_supported":["sub","aud","iss","exp","iat","auth_time","nonce","email","email_verified","phone_number",
        "phone_number_verified","name","picture","preferred_username","updated_at"],
        "code_challenge_methods_supported":["S256","plain"]
        """;

    [Theory]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/auth/v1/.well-known/openid-configuration")]
    public async Task OpenIdConfiguration_IssuerSet_EndpointsHangOffTheIssuer(string path)
    {
        using var client = server.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal("public, max-age=600", response.Headers.CacheControl?.ToString());
        ApiAssert.JsonEqual($$"""
            {"issuer":"http://localhost:9999/auth/v1/","authorization_endpoint":"http://localhost:9999/auth/v1/oauth/authorize",
            "token_endpoint":"http://localhost:9999/auth/v1/oauth/token","jwks_uri":"http://localhost:9999/auth/v1/.well-known/jwks.json",
            "userinfo_endpoint":"http://localhost:9999/auth/v1/oauth/userinfo",{{Lists}}}
            """, await server.OkJsonAsync(response));
    }

    [Fact]
    public async Task OpenIdConfiguration_Post_NotServed()
    {
        using var client = server.CreateClient();

        var response = await client.PostAsync("/.well-known/openid-configuration", null);

        // Our fallback's 404 page, as for every other route's unmapped methods (GoTrue's router says 405).
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}

/// <summary>Without GOTRUE_JWT_ISSUER GoTrue still answers, with an empty issuer and relative endpoints.</summary>
public sealed class OpenIdConfigurationNoIssuerTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Fact]
    public async Task OpenIdConfiguration_NoIssuer_EmptyIssuerAndRelativeEndpoints()
    {
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.GetAsync("/.well-known/openid-configuration"));

        Assert.Equal("", (string?)body["issuer"]);
        Assert.Equal("/.well-known/jwks.json", (string?)body["jwks_uri"]);
        Assert.False(body.ContainsKey("registration_endpoint"));
    }
}
