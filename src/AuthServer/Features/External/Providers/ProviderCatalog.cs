namespace AuthServer.Features.External.Providers;

/// The social providers of GoTrue's `API.Provider` switch (`internal/api/external.go`), one row each:
/// endpoints as `internal/api/provider/<name>.go` builds them from `GOTRUE_EXTERNAL_<P>_URL` (Go
/// `chooseHost`: the override as is, else `https://` + the public host), default scopes, and the user
/// mapping in <see cref="ProviderMappings"/>. Google, Apple and Keycloak stay OIDC-discovery providers.
internal static class ProviderCatalog
{
    /// ID-token providers: their user is the verified `id_token` of the token response, from this issuer.
    public static readonly IReadOnlyDictionary<string, string> IdTokenIssuers = new Dictionary<string, string>
    {
        ["azure"] = "https://login.microsoftonline.com/common/v2.0",
        ["linkedin_oidc"] = "https://www.linkedin.com",
        ["vercel_marketplace"] = "https://marketplace.vercel.com",
    };

    public static readonly IReadOnlyDictionary<string, ProviderSpec> All = new ProviderSpec[]
    {
        new("azure", url => Same(Host(url, "login.microsoftonline.com/common"), "/oauth2/v2.0/authorize", "/oauth2/v2.0/token"),
            ["openid"], ProviderMappings.IdTokenOnly),
        new("bitbucket", url => new ProviderUrls(Host(url, "bitbucket.org") + "/site/oauth2/authorize",
                Host(url, "bitbucket.org") + "/site/oauth2/access_token", Host(url, "api.bitbucket.org") + "/2.0"),
            ["account", "email"], ProviderMappings.Bitbucket, AcceptsExtraScopes: false),
        new("discord", url => Same(Host(url, "discord.com") + "/api", "/oauth2/authorize", "/oauth2/token"),
            ["email", "identify"], ProviderMappings.Discord),
        new("facebook", url => new ProviderUrls(Host(url, "www.facebook.com") + "/dialog/oauth",
                Host(url, "graph.facebook.com") + "/oauth/access_token", Host(url, "graph.facebook.com")),
            ["email"], ProviderMappings.Facebook),
        new("figma", url => new ProviderUrls(Host(url, "www.figma.com") + "/oauth", Host(url, "www.figma.com") + "/api/oauth/token",
                Host(url, "api.figma.com")),
            ["file_read"], ProviderMappings.Figma),
        new("fly", url => Same(Host(url, "api.fly.io"), "/oauth/authorize", "/oauth/token"), ["read"], ProviderMappings.Fly),
        new("github", GitHubUrls, ["user:email"], ProviderMappings.GitHub),
        new("gitlab", url => Same(Host(url, "gitlab.com"), "/oauth/authorize", "/oauth/token"), ["read_user"], ProviderMappings.GitLab),
        new("kakao", url => new ProviderUrls(Host(url, "kauth.kakao.com") + "/oauth/authorize",
                Host(url, "kauth.kakao.com") + "/oauth/token", Host(url, "kapi.kakao.com")),
            ["account_email", "profile_image", "profile_nickname"], ProviderMappings.Kakao, Auth: TokenAuth.Params),
        new("linkedin", url => Same(Host(url, "api.linkedin.com"), "/oauth/v2/authorization", "/oauth/v2/accessToken"),
            ["r_emailaddress", "r_liteprofile"], ProviderMappings.LinkedIn),
        new("linkedin_oidc", url => Same(Host(url, "api.linkedin.com"), "/oauth/v2/authorization", "/oauth/v2/accessToken"),
            ["openid", "email", "profile"], ProviderMappings.IdTokenOnly),
        new("notion", url => Same(Host(url, "api.notion.com"), "/v1/oauth/authorize", "/v1/oauth/token"),
            [], ProviderMappings.Notion, AcceptsExtraScopes: false),
        new("slack", url => new ProviderUrls(Host(url, "slack.com") + "/oauth/authorize", Host(url, "slack.com") + "/api/oauth.access",
                Host(url, "slack.com") + "/api"),
            ["profile", "email", "openid"], ProviderMappings.Slack),
        new("slack_oidc", url => new ProviderUrls(Host(url, "slack.com") + "/openid/connect/authorize",
                Host(url, "slack.com") + "/api/openid.connect.token", Host(url, "slack.com") + "/api"),
            ["profile", "email", "openid"], ProviderMappings.Slack),
        new("snapchat", url => new ProviderUrls(Host(url, "accounts.snapchat.com") + "/accounts/oauth2/auth",
                Host(url, "accounts.snapchat.com") + "/accounts/oauth2/token", Host(url, "kit.snapchat.com")),
            [
                "https://auth.snapchat.com/oauth2/api/user.external_id",
                "https://auth.snapchat.com/oauth2/api/user.display_name",
                "https://auth.snapchat.com/oauth2/api/user.bitmoji.avatar",
            ], ProviderMappings.Snapchat),
        new("spotify", url => new ProviderUrls(Host(url, "accounts.spotify.com") + "/authorize",
                Host(url, "accounts.spotify.com") + "/api/token", Host(url, "api.spotify.com/v1")),
            ["user-read-email"], ProviderMappings.Spotify),
        new("twitch", url => new ProviderUrls(Host(url, "id.twitch.tv") + "/oauth2/authorize", Host(url, "id.twitch.tv") + "/oauth2/token",
                Host(url, "api.twitch.tv")),
            ["user:read:email"], ProviderMappings.Twitch),
        // OAuth 1.0a (provider/twitter.go): request token, authenticate, access token; see Twitter.
        new("twitter", url => new ProviderUrls(Host(url, "api.twitter.com") + "/oauth/authenticate",
                Host(url, "api.twitter.com") + "/oauth/access_token", Host(url, "api.twitter.com")),
            [], ProviderMappings.IdTokenOnly, OAuth1: true),
        new("vercel_marketplace", url => Same(Host(url, "api.vercel.com"), "/oauth/v2/authorization", "/oauth/v2/accessToken"),
            [], ProviderMappings.IdTokenOnly),
        new("workos", url => Same(Host(url, "api.workos.com"), "/sso/authorize", "/sso/token"),
            [], ProviderMappings.WorkOS, AcceptsExtraScopes: false),
        // X's OAuth 2.0 requires PKCE towards the provider (provider/x.go `RequiresPKCE`).
        new("x", url => new ProviderUrls(Host(url, "x.com") + "/i/oauth2/authorize", Host(url, "api.x.com") + "/2/oauth2/token",
                Host(url, "api.x.com")),
            ["users.email", "tweet.read", "users.read", "offline.access"], ProviderMappings.X, RequiresPkce: true),
        new("zoom", url => new ProviderUrls(Host(url, "zoom.us") + "/oauth/authorize", Host(url, "zoom.us") + "/oauth/token",
                Host(url, "api.zoom.us") + "/v2"),
            [], ProviderMappings.Zoom, AcceptsExtraScopes: false),
    }.ToDictionary(p => p.Name);

    /// GitHub Enterprise: one base URL; its API lives under `/api/v3` unless it is api.github.com itself.
    static ProviderUrls GitHubUrls(string? url)
    {
        var auth = Host(url, "github.com");
        var api = Host(url, "api.github.com");
        if (!api.EndsWith("api.github.com", StringComparison.Ordinal)) api += "/api/v3";
        return new ProviderUrls(auth + "/login/oauth/authorize", auth + "/login/oauth/access_token", api);
    }

    static ProviderUrls Same(string host, string authorize, string token) => new(host + authorize, host + token, host);

    /// Go `chooseHost`.
    static string Host(string? url, string publicHost) =>
        string.IsNullOrEmpty(url) ? "https://" + publicHost : url.TrimEnd('/');
}
