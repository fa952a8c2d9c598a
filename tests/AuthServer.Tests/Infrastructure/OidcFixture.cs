using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// The server with Google, Apple and a generic provider (`acme`, nonce check skipped) pointed at local
/// issuers through our `GOTRUE_EXTERNAL_&lt;P&gt;_ISSUER` overrides; manual linking and anonymous
/// sign-ins on; mailer autoconfirm off, so only a provider-verified email links accounts.
/// </summary>
public class OidcFixture : AuthServerFixture, IAsyncLifetime
{
    public const string GoogleClientId = "google-web-client";
    public const string GoogleAndroidClientId = "google-android-client";
    public const string AppleServiceId = "com.example.web";
    public const string IosBundleId = "com.example.ios";
    public const string AcmeClientId = "acme-client";

    public OidcIssuer Google { get; private set; } = null!;
    public OidcIssuer Apple { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string> settings)
    {
        Google = OidcIssuer.Start();
        Apple = OidcIssuer.Start();
        settings["GOTRUE_MAILER_AUTOCONFIRM"] = "false";
        settings["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = "true";
        settings["GOTRUE_SECURITY_MANUAL_LINKING_ENABLED"] = "true";
        settings["GOTRUE_EXTERNAL_GOOGLE_ENABLED"] = "true";
        settings["GOTRUE_EXTERNAL_GOOGLE_CLIENT_ID"] = $"{OidcIssuer.ClientId},{GoogleClientId},{GoogleAndroidClientId}";
        settings["GOTRUE_EXTERNAL_GOOGLE_SECRET"] = OidcIssuer.ClientSecret;
        settings["GOTRUE_EXTERNAL_GOOGLE_ISSUER"] = Google.Issuer;
        settings["GOTRUE_EXTERNAL_APPLE_ENABLED"] = "true";
        settings["GOTRUE_EXTERNAL_APPLE_CLIENT_ID"] = AppleServiceId;
        settings["GOTRUE_EXTERNAL_APPLE_SECRET"] = "apple-secret";
        settings["GOTRUE_EXTERNAL_APPLE_ISSUER"] = Apple.Issuer;
        settings["GOTRUE_EXTERNAL_IOS_BUNDLE_ID"] = IosBundleId;
        settings["GOTRUE_EXTERNAL_ACME_ENABLED"] = "true";
        settings["GOTRUE_EXTERNAL_ACME_CLIENT_ID"] = AcmeClientId;
        settings["GOTRUE_EXTERNAL_ACME_ISSUER"] = Google.Issuer;
        settings["GOTRUE_EXTERNAL_ACME_SKIP_NONCE_CHECK"] = "true";
        settings["GOTRUE_INTERNAL_HTTP_TIMEOUT"] = "10s";
        Extra(settings);
    }

    /// <summary>Further settings of a derived fixture.</summary>
    protected virtual void Extra(IDictionary<string, string> settings)
    {
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (Google is not null) await Google.DisposeAsync();
        if (Apple is not null) await Apple.DisposeAsync();
        await DisposeExtraAsync();
    }

    /// <summary>Stops what a derived fixture started in <see cref="Extra"/>.</summary>
    protected virtual ValueTask DisposeExtraAsync() => ValueTask.CompletedTask;

    /// <summary>POST /token?grant_type=id_token with the body as given.</summary>
    public async Task<HttpResponseMessage> IdTokenGrantAsync(object body, string? bearer = null, string? apiVersion = ApiVersion2024)
    {
        using var client = CreateClient(apiVersion, bearer);
        return await client.PostAsJsonAsync("/token?grant_type=id_token", body);
    }

    /// <summary>A Google ID token for a fresh subject and email, verified, with our web client id.</summary>
    public (string Token, string Sub, string Email) GoogleToken(bool emailVerified = true, Action<JsonObject>? edit = null)
    {
        var sub = "g-" + Guid.NewGuid().ToString("N");
        var email = NewEmail("google");
        var claims = Google.Claims(GoogleClientId, sub, email, emailVerified, Clock.GetUtcNow());
        claims["name"] = "Goo Gle";
        claims["picture"] = "https://example.com/p.png";
        edit?.Invoke(claims);
        return (Google.Sign(claims), sub, email);
    }

    /// <summary>An anonymous user's session.</summary>
    public async Task<JsonObject> AnonymousAsync()
    {
        using var client = CreateClient();
        return await OkJsonAsync(await client.PostAsJsonAsync("/signup", new { }));
    }
}

/// <summary>Same providers, manual linking off and GOTRUE_DISABLE_SIGNUP on.</summary>
public sealed class OidcLockedDownFixture : OidcFixture
{
    protected override void Extra(IDictionary<string, string> settings)
    {
        settings["GOTRUE_SECURITY_MANUAL_LINKING_ENABLED"] = "false";
        settings["GOTRUE_DISABLE_SIGNUP"] = "true";
        settings["GOTRUE_EXTERNAL_APPLE_ENABLED"] = "false";
    }
}

/// <summary>Provider calls time out after 1 s, for the hanging-JWKS test.</summary>
public sealed class OidcOutageFixture : OidcFixture
{
    protected override void Extra(IDictionary<string, string> settings) => settings["GOTRUE_INTERNAL_HTTP_TIMEOUT"] = "1s";
}

/// <summary>
/// The other ID-token providers of GoTrue's grant — Azure, Facebook, Kakao, Keycloak, Snapchat, Vercel
/// Marketplace — each with its own client id, all pointed at one local issuer (<see cref="Social"/>) through
/// `GOTRUE_EXTERNAL_&lt;P&gt;_ISSUER` (Keycloak: its `_URL`). Kakao has two client ids; Snapchat skips the nonce check.
/// </summary>
public sealed class IdTokenProvidersFixture : OidcFixture
{
    public static readonly string[] Names = ["azure", "facebook", "kakao", "keycloak", "snapchat", "vercel_marketplace"];
    public const string KakaoNativeClientId = "kakao-native-client";

    public OidcIssuer Social { get; private set; } = null!;

    public static string ClientIdOf(string provider) => provider + "-client";

    protected override void Extra(IDictionary<string, string> settings)
    {
        Social = OidcIssuer.Start();
        foreach (var name in Names)
        {
            var p = "GOTRUE_EXTERNAL_" + name.ToUpperInvariant();
            settings[p + "_ENABLED"] = "true";
            settings[p + "_CLIENT_ID"] = ClientIdOf(name);
            settings[p + (name == "keycloak" ? "_URL" : "_ISSUER")] = Social.Issuer;
        }
        settings["GOTRUE_EXTERNAL_KAKAO_CLIENT_ID"] = $"{ClientIdOf("kakao")},{KakaoNativeClientId}";
        settings["GOTRUE_EXTERNAL_SNAPCHAT_SKIP_NONCE_CHECK"] = "true";
    }

    protected override async ValueTask DisposeExtraAsync()
    {
        if (Social is not null) await Social.DisposeAsync();
    }

    /// <summary>A token of <paramref name="provider"/>'s for a fresh subject, valid now, audience its client id.</summary>
    public (string Token, string Sub) Token(string provider, Action<JsonObject>? edit = null)
    {
        var sub = provider + "-" + Guid.NewGuid().ToString("N");
        var claims = Social.Claims(ClientIdOf(provider), sub, now: Clock.GetUtcNow());
        edit?.Invoke(claims);
        return (Social.Sign(claims), sub);
    }
}
