using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>
/// `POST /token?grant_type=id_token` for the providers of GoTrue's `getProvider` beyond Google and Apple
/// (token_oidc.go): Azure, Facebook Limited Login, Kakao, Keycloak, Snapchat, Vercel Marketplace and
/// admin-defined OIDC providers, with each provider's claim mapping (provider/oidc.go).
/// </summary>
public sealed class IdTokenProviderTests(IdTokenProvidersFixture server) : IClassFixture<IdTokenProvidersFixture>
{
    public static TheoryData<string> Providers => [.. IdTokenProvidersFixture.Names];

    static async Task AssertOAuthErrorAsync(HttpResponseMessage response, string error, string description)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(error, (string?)body["error"]);
        Assert.Equal(description, (string?)body["error_description"]);
    }

    static string Hash(string nonce) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(nonce)));

    async Task<JsonObject> IdentityDataAsync(string provider, string sub) =>
        JsonNode.Parse(await server.Db.ScalarAsync<string>(
            "select identity_data::text from auth.identities where provider = @provider and provider_id = @sub",
            new { provider, sub }))!.AsObject();

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task IdToken_EachProvider_SignsUpWithItsIdentity(string provider)
    {
        var email = AuthServerFixture.NewEmail(provider.Replace('_', '-'));
        var (token, sub) = server.Token(provider, c =>
        {
            c["email"] = email;
            c["email_verified"] = true;
            c["user_email"] = email; // Vercel Marketplace's address claim
        });

        var session = await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider, id_token = token }));

        var user = session["user"]!.AsObject();
        Assert.Equal(email, (string?)user["email"]);
        Assert.NotNull(user["email_confirmed_at"]);
        Assert.Equal(provider, (string?)user["app_metadata"]!["provider"]);
        var identity = user["identities"]!.AsArray().Single()!;
        Assert.Equal(provider, (string?)identity["provider"]);
        Assert.Equal(sub, (string?)identity["id"]);
        Assert.Equal(sub, (string?)identity["identity_data"]!["sub"]);
        Assert.Equal(server.Social.Issuer, (string?)identity["identity_data"]!["iss"]);
    }

    [Trait("catalogue", "IP1")]
    [Theory]
    [MemberData(nameof(Providers))]
    public async Task IdToken_EachProviderWithAnotherIssuersToken_BadIdToken(string provider)
    {
        var claims = server.Google.Claims(IdTokenProvidersFixture.ClientIdOf(provider), "x-" + Guid.NewGuid().ToString("N"),
            OidcFixture.NewEmail("wrong-iss"), true, server.Clock.GetUtcNow());

        var response = await server.IdTokenGrantAsync(new { provider, id_token = server.Google.Sign(claims) });

        // Azure reads the issuer before verifying (GoTrue `DetectAzureIDTokenIssuer`), so its answer is GoTrue's 400.
        if (provider == "azure")
            await ApiAssert.ErrorAsync(response, 400, "validation_failed", "Detected ID token issuer is not an Azure ID token issuer");
        else
            await AssertOAuthErrorAsync(response, "invalid request", "Bad ID token");
    }

    [Trait("catalogue", "IP1")]
    [Theory]
    [MemberData(nameof(Providers))]
    public async Task IdToken_EachProviderWithAnotherProvidersAudience_Unacceptable(string provider)
    {
        var other = provider == "kakao" ? "facebook" : "kakao";
        var (token, _) = server.Token(provider, c => c["aud"] = IdTokenProvidersFixture.ClientIdOf(other));

        await AssertOAuthErrorAsync(await server.IdTokenGrantAsync(new { provider, id_token = token }),
            "invalid request", $"Unacceptable audience in id_token: [{IdTokenProvidersFixture.ClientIdOf(other)}]");
    }

    [Trait("catalogue", "IP1")]
    [Theory]
    [MemberData(nameof(Providers))]
    public async Task IdToken_EachProviderExpired_BadIdToken(string provider)
    {
        var (token, sub) = server.Token(provider, c => c["exp"] = server.Clock.GetUtcNow().ToUnixTimeSeconds() - 1);

        await AssertOAuthErrorAsync(await server.IdTokenGrantAsync(new { provider, id_token = token }), "invalid request", "Bad ID token");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.identities where provider_id = @sub", new { sub }));
    }

    [Fact]
    public async Task IdToken_KakaoSecondClientIdAndNonce_MapsNicknameAndTrustsEmail()
    {
        var email = OidcFixture.NewEmail("kakao");
        var (token, sub) = server.Token("kakao", c =>
        {
            c["aud"] = IdTokenProvidersFixture.KakaoNativeClientId;
            c["email"] = email; // Kakao's ID token has no email_verified: GoTrue trusts the address
            c["nickname"] = "Kim";
            c["picture"] = "https://k.example/p.png";
            c["nonce"] = Hash("kakao-nonce");
        });

        var session = await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "kakao", id_token = token, nonce = "kakao-nonce" }));

        Assert.NotNull(session["user"]!["email_confirmed_at"]);
        var data = await IdentityDataAsync("kakao", sub);
        Assert.Equal("Kim", (string?)data["name"]);
        Assert.Equal("Kim", (string?)data["preferred_username"]);
        Assert.Equal("https://k.example/p.png", (string?)data["picture"]);
        Assert.True((bool)data["email_verified"]!);
    }

    [Fact]
    public async Task IdToken_KakaoNonceMismatch_InvalidNonce()
    {
        var (token, _) = server.Token("kakao", c => c["nonce"] = Hash("the-right-one"));

        await AssertOAuthErrorAsync(await server.IdTokenGrantAsync(new { provider = "kakao", id_token = token, nonce = "another" }),
            "invalid nonce", "Nonces mismatch");
    }

    [Fact]
    public async Task IdToken_FacebookLimitedLogin_NeverChecksTheNonceAndTrustsEmail()
    {
        var email = OidcFixture.NewEmail("fb");
        var (token, sub) = server.Token("facebook", c =>
        {
            c["email"] = email;
            c["name"] = "Face Book";
            c["picture"] = "https://fb.example/p.jpg";
            c["nonce"] = "raw-nonce-facebook-signed";
        });

        var session = await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "facebook", id_token = token, nonce = "other" }));

        Assert.Equal(email, (string?)session["user"]!["email"]);
        Assert.NotNull(session["user"]!["email_confirmed_at"]);
        var data = await IdentityDataAsync("facebook", sub);
        Assert.Equal("Face Book", (string?)data["name"]);
        Assert.Equal("https://fb.example/p.jpg", (string?)data["picture"]);
    }

    [Fact]
    public async Task IdToken_SnapchatSkipNonceCheck_IgnoresNonceAndTrustsEmail()
    {
        var email = OidcFixture.NewEmail("snap");
        var (token, _) = server.Token("snapchat", c =>
        {
            c["email"] = email;
            c["email_verified"] = false;
            c["nonce"] = Hash("n");
        });

        var session = await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "snapchat", id_token = token }));

        Assert.NotNull(session["user"]!["email_confirmed_at"]);
    }

    [Fact]
    public async Task IdToken_VercelGlobalUserId_IsTheSubject()
    {
        var global = "gu_" + Guid.NewGuid().ToString("N");
        var email = OidcFixture.NewEmail("vercel");
        var (token, _) = server.Token("vercel_marketplace", c =>
        {
            c["global_user_id"] = global;
            c["user_email"] = email;
            c["user_name"] = "Ver Cel";
            c["user_avatar_url"] = "https://v.example/a.png";
        });

        var session = await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "vercel_marketplace", id_token = token }));

        var identity = session["user"]!["identities"]![0]!;
        Assert.Equal("global_user_id:" + global, (string?)identity["id"]);
        Assert.Equal(email, (string?)session["user"]!["email"]);
        var data = await IdentityDataAsync("vercel_marketplace", "global_user_id:" + global);
        Assert.Equal("Ver Cel", (string?)data["name"]);
        Assert.Equal("https://v.example/a.png", (string?)data["picture"]);
    }

    [Fact]
    public async Task IdToken_AzureClaims_MappedWithTenantInCustomClaims()
    {
        var email = OidcFixture.NewEmail("azure");
        var (token, sub) = server.Token("azure", c =>
        {
            c["email"] = email; // no xms_edov: verified, as GoTrue reads Azure
            c["name"] = "Az Ure";
            c["preferred_username"] = "azure@contoso.example";
            c["tid"] = "9188040d-6c67-4c5b-b112-36a304b66dad";
            c["ver"] = "2.0";
        });

        var session = await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "azure", id_token = token }));

        Assert.NotNull(session["user"]!["email_confirmed_at"]);
        var data = await IdentityDataAsync("azure", sub);
        Assert.Equal("Az Ure", (string?)data["full_name"]);
        Assert.Equal("azure@contoso.example", (string?)data["preferred_username"]);
        Assert.Equal("9188040d-6c67-4c5b-b112-36a304b66dad", (string?)data["custom_claims"]!["tid"]);
        Assert.Null(data["custom_claims"]!["ver"]);
        Assert.Null(data["custom_claims"]!["sub"]);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("false")]
    public async Task IdToken_AzureEmailDomainOwnerNotVerified_NeedsVerification(string edov)
    {
        var (token, _) = server.Token("azure", c =>
        {
            c["email"] = OidcFixture.NewEmail("edov");
            c["xms_edov"] = edov == "false" ? JsonValue.Create(false) : JsonValue.Create(edov);
        });

        await ApiAssert.ErrorAsync(await server.IdTokenGrantAsync(new { provider = "azure", id_token = token }),
            422, "provider_email_needs_verification", "Unverified email with azure. A confirmation email has been sent to your azure email");
    }

    [Fact]
    public async Task IdToken_KeycloakUnverifiedEmailOfExistingUser_DoesNotLink()
    {
        var email = OidcFixture.NewEmail("kc");
        var existing = await server.Db.InsertEmailUserAsync(email, "password-1");
        var (token, sub) = server.Token("keycloak", c =>
        {
            c["email"] = email;
            c["email_verified"] = false;
        });

        await ApiAssert.ErrorAsync(await server.IdTokenGrantAsync(new { provider = "keycloak", id_token = token }),
            422, "provider_email_needs_verification", "Unverified email with keycloak. Verify the email with keycloak in order to sign in");

        Assert.NotEqual(existing, await server.Db.ScalarAsync<Guid>("select user_id from auth.identities where provider_id = @sub", new { sub }));
    }

    [Theory]
    [InlineData("linkedin_oidc")]
    [InlineData("github")]
    public async Task IdToken_ProviderWithoutIdTokenGrant_NotAllowed(string provider) =>
        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/token?grant_type=id_token",
                System.Net.Http.Json.JsonContent.Create(new { provider, id_token = "x.y.z" })),
            400, "validation_failed", $"Custom OIDC provider \"{provider}\" not allowed");

    /// A custom provider row. The table wants an https issuer, so no local issuer can back a custom OIDC provider
    /// here: only the answers before any key fetch are tested.
    async Task<string> CustomProviderAsync(string type = "oidc", bool enabled = true)
    {
        var identifier = "custom:idt-" + Guid.NewGuid().ToString("N")[..8];
        await server.Db.ExecuteAsync(
            """
            insert into auth.custom_oauth_providers (provider_type, identifier, name, client_id, client_secret,
                acceptable_client_ids, issuer, enabled, authorization_url, token_url, userinfo_url)
            values (@type, @identifier, 'Idt', 'custom-web', 'unused', '{custom-mobile}', @issuer, @enabled,
                @url, @url, @url)
            """,
            new
            {
                type,
                identifier,
                enabled,
                issuer = type == "oidc" ? "https://idp.example" : null,
                url = type == "oauth2" ? "https://idp.example/x" : null,
            });
        return identifier;
    }

    [Fact]
    public async Task IdToken_CustomProviderProblems_ReferenceErrors()
    {
        var disabled = await CustomProviderAsync(enabled: false);
        var oauth2 = await CustomProviderAsync(type: "oauth2");

        await ApiAssert.ErrorAsync(await server.IdTokenGrantAsync(new { provider = "custom:nope", id_token = "x.y.z" }),
            400, "validation_failed", "Custom provider \"custom:nope\" not found");
        await ApiAssert.ErrorAsync(await server.IdTokenGrantAsync(new { provider = disabled, id_token = "x.y.z" }),
            400, "provider_disabled", $"Custom provider \"{disabled}\" is disabled");
        await ApiAssert.ErrorAsync(await server.IdTokenGrantAsync(new { provider = oauth2, id_token = "x.y.z" }),
            400, "validation_failed", $"Provider \"{oauth2}\" is not an OIDC provider");
    }
}
