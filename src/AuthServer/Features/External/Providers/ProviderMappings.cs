using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static AuthServer.Features.External.Providers.ProviderCall;

namespace AuthServer.Features.External.Providers;

/// Each provider's user API and its mapping to identity data, field for field as GoTrue's
/// `internal/api/provider/<name>.go` `GetUserData` (the "to be deprecated" keys included: apps read them).
internal static class ProviderMappings
{
    static KeyValuePair<string, string?> C(string key, string? value) => new(key, value);

    public static async Task<ProviderUser> GitHub(ProviderCall call)
    {
        var api = call.Urls.Api;
        var u = await call.GetJsonAsync(api + "/user");
        var id = Str(u, "id");
        var emails = await call.GetJsonAsync(api + "/user/emails");
        return ProviderUser.Of(
            [
                C("iss", api), C("sub", id), C("name", Str(u, "name")), C("preferred_username", Str(u, "login")),
                C("avatar_url", Str(u, "avatar_url")), C("full_name", Str(u, "name")), C("provider_id", id), C("user_name", Str(u, "login")),
            ],
            Items(emails).Select(e => new ProviderEmail(Str(e, "email") ?? "", Bool(e, "verified"), Bool(e, "primary"))));
    }

    public static async Task<ProviderUser> GitLab(ProviderCall call)
    {
        var host = call.Urls.Api;
        var u = await call.GetJsonAsync(host + "/api/v4/user");
        var extra = await call.GetJsonAsync(host + "/api/v4/user/emails");
        // Secondary GitLab emails come without a confirmation status: unverified, never primary.
        var emails = Items(extra).Select(e => new ProviderEmail(Str(e, "email") ?? "", false, false)).ToList();
        if (Str(u, "email") is { Length: > 0 } primary)
            emails.Add(new ProviderEmail(primary, !string.IsNullOrEmpty(Str(u, "confirmed_at")), true));
        var id = Str(u, "id");
        return ProviderUser.Of(
            [
                C("iss", host), C("sub", id), C("name", Str(u, "name")), C("picture", Str(u, "avatar_url")),
                C("avatar_url", Str(u, "avatar_url")), C("full_name", Str(u, "name")), C("provider_id", id),
            ], emails);
    }

    public static async Task<ProviderUser> Bitbucket(ProviderCall call)
    {
        var api = call.Urls.Api;
        var u = await call.GetJsonAsync(api + "/user");
        var emails = await call.GetJsonAsync(api + "/user/emails");
        var values = emails.ValueKind == JsonValueKind.Object && emails.TryGetProperty("values", out var v) ? v : default;
        var id = Str(u, "uuid");
        var avatar = Str(u, "avatar", "href");
        return ProviderUser.Of(
            [
                C("iss", api), C("sub", id), C("name", Str(u, "display_name")), C("picture", avatar),
                C("avatar_url", avatar), C("full_name", Str(u, "display_name")), C("provider_id", id),
            ],
            Items(values).Select(e => new ProviderEmail(Str(e, "email") ?? "", Bool(e, "is_confirmed"), Bool(e, "is_primary"))));
    }

    public static async Task<ProviderUser> Discord(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/users/@me");
        var id = Str(u, "id") ?? "";
        var discriminator = Str(u, "discriminator") ?? "";
        string avatarUrl;
        if (Str(u, "avatar") is not { Length: > 0 } avatar)
        {
            // The default avatar is the discriminator modulo 5 (Discord's image-formatting docs).
            if (!int.TryParse(discriminator, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                throw new FormatException("discord: discriminator is not a number");
            avatarUrl = $"https://cdn.discordapp.com/embed/avatars/{number % 5}.png";
        }
        else
            avatarUrl = $"https://cdn.discordapp.com/avatars/{id}/{avatar}.{(avatar.StartsWith("a_", StringComparison.Ordinal) ? "gif" : "png")}";
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("name", $"{Str(u, "username")}#{discriminator}"), C("picture", avatarUrl),
                C("avatar_url", avatarUrl), C("full_name", Str(u, "username")), C("provider_id", id),
            ],
            ProviderUser.Single(Str(u, "email"), Bool(u, "verified")),
            new JsonObject { ["global_name"] = Str(u, "global_name") ?? "" });
    }

    public static async Task<ProviderUser> Facebook(ProviderCall call)
    {
        // Graph API calls carry appsecret_proof = HMAC-SHA256(app secret, access token), hex.
        var proof = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(call.Secret), Encoding.UTF8.GetBytes(call.AccessToken)));
        var profileUrl = call.Urls.Api + "/me?fields=email,first_name,last_name,name,picture";
        var u = await call.GetJsonAsync(profileUrl + "&appsecret_proof=" + proof);
        var name = $"{Str(u, "first_name")} {Str(u, "last_name")}".Trim();
        var picture = Str(u, "picture", "data", "url");
        var id = Str(u, "id");
        return ProviderUser.Of(
            [
                C("iss", profileUrl), C("sub", id), C("name", name), C("nickname", Str(u, "name")), C("picture", picture),
                C("slug", Str(u, "name")), C("avatar_url", picture), C("full_name", name), C("provider_id", id),
            ],
            ProviderUser.Single(Str(u, "email"), true));
    }

    public static async Task<ProviderUser> Figma(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/v1/me");
        var email = Str(u, "email");
        if (string.IsNullOrEmpty(email)) throw new InvalidOperationException("unable to find email with Figma provider");
        var id = Str(u, "id");
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("name", Str(u, "handle")), C("email", email),
                C("avatar_url", Str(u, "img_url")), C("full_name", Str(u, "handle")), C("provider_id", id),
            ],
            ProviderUser.Single(email, true));
    }

    public static async Task<ProviderUser> Fly(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/oauth/token/info");
        var id = Str(u, "user_id");
        return ProviderUser.Of(
            [C("iss", call.Urls.Api), C("sub", id), C("full_name", Str(u, "user_name")), C("email", Str(u, "email")), C("provider_id", id)],
            ProviderUser.Single(Str(u, "email"), true),
            new JsonObject
            {
                ["resource_owner_id"] = Str(u, "resource_owner_id") ?? "",
                ["organizations"] = Node(u, "organizations"),
                ["application"] = Node(u, "application"),
                ["scope"] = Node(u, "scope"),
                ["created_at"] = Node(u, "created_at") ?? 0,
            });
    }

    public static async Task<ProviderUser> Kakao(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/v2/user/me");
        var account = u.TryGetProperty("kakao_account", out var a) ? a : default;
        var nickname = Str(account, "profile", "nickname");
        var id = Str(u, "id");
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("name", nickname), C("preferred_username", nickname),
                C("avatar_url", Str(account, "profile", "profile_image_url")), C("full_name", nickname), C("provider_id", id),
                C("user_name", nickname),
            ],
            ProviderUser.Single(Str(account, "email"), Bool(account, "is_email_verified") && Bool(account, "is_email_valid")));
    }

    public static async Task<ProviderUser> LinkedIn(ProviderCall call)
    {
        var api = call.Urls.Api;
        var u = await call.GetJsonAsync(api + "/v2/me?projection=(id,firstName,lastName,profilePicture(displayImage~:playableStreams))");
        var e = await call.GetJsonAsync(api + "/v2/emailAddress?q=members&projection=(elements*(handle~))");
        var email = Items(e.TryGetProperty("elements", out var el) ? el : default).Select(x => Str(x, "handle~", "emailAddress"))
            .FirstOrDefault();
        var name = $"{Localized(u, "firstName")} {Localized(u, "lastName")}".Trim();
        var avatar = u.TryGetProperty("profilePicture", out var pp) && pp.TryGetProperty("displayImage~", out var di)
            ? Items(di.TryGetProperty("elements", out var de) ? de : default)
                .Select(x => Items(x.TryGetProperty("identifiers", out var ids) ? ids : default).Select(i => Str(i, "identifier")).FirstOrDefault())
                .FirstOrDefault()
            : null;
        var id = Str(u, "id");
        // r_emailaddress answers the primary address only, which LinkedIn has verified.
        return ProviderUser.Of(
            [
                C("iss", api), C("sub", id), C("name", name), C("picture", avatar), C("email", email),
                C("avatar_url", avatar), C("full_name", name), C("provider_id", id),
            ],
            ProviderUser.Single(email, true));
    }

    public static async Task<ProviderUser> Notion(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/v1/users/me", ("Notion-Version", "2021-08-16"));
        var user = u.TryGetProperty("bot", out var bot) && bot.TryGetProperty("owner", out var owner) && owner.TryGetProperty("user", out var x)
            ? x : default;
        var id = Str(user, "id");
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("name", Str(user, "name")), C("picture", Str(user, "avatar_url")),
                C("avatar_url", Str(user, "avatar_url")), C("full_name", Str(user, "name")), C("provider_id", id),
            ],
            ProviderUser.Single(Str(user, "person", "email"), true));
    }

    public const string SnapchatIssuer = "https://accounts.snapchat.com/accounts/oauth2/token";

    public static async Task<ProviderUser> Snapchat(ProviderCall call)
    {
        var query = Uri.EscapeDataString("{me { externalId displayName bitmoji { avatar id } email } }");
        var u = await call.GetJsonAsync(call.Urls.Api + "/v1/me?query=" + query);
        var me = u.TryGetProperty("data", out var d) && d.TryGetProperty("me", out var m) ? m : default;
        var id = Str(me, "externalId");
        var avatar = Str(me, "bitmoji", "avatar");
        return ProviderUser.Of(
            [
                C("iss", SnapchatIssuer), C("sub", id), C("name", Str(me, "displayName")), C("picture", avatar),
                C("slug", Str(me, "displayName")), C("avatar_url", avatar), C("full_name", Str(me, "displayName")), C("provider_id", id),
            ],
            ProviderUser.Single(Str(me, "email"), true));
    }

    public static async Task<ProviderUser> Spotify(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/me");
        var avatar = Items(u.TryGetProperty("images", out var images) ? images : default).Select(i => Str(i, "url")).FirstOrDefault();
        var id = Str(u, "id");
        // Spotify does not say whether the address is verified.
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("name", Str(u, "display_name")), C("picture", avatar),
                C("avatar_url", avatar), C("full_name", Str(u, "display_name")), C("provider_id", id),
            ],
            ProviderUser.Single(Str(u, "email"), false));
    }

    /// `slack` and `slack_oidc` read the same OpenID userInfo.
    public static async Task<ProviderUser> Slack(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/openid.connect.userInfo");
        var id = Str(u, "https://slack.com/user_id");
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("name", Str(u, "name")), C("picture", Str(u, "picture")),
                C("avatar_url", Str(u, "picture")), C("full_name", Str(u, "name")), C("provider_id", id),
            ],
            ProviderUser.Single(Str(u, "email"), true),
            new JsonObject { ["https://slack.com/team_id"] = Str(u, "https://slack.com/team_id") ?? "" });
    }

    public static async Task<ProviderUser> Twitch(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/helix/users", ("Client-Id", call.ClientId));
        var user = Items(u.TryGetProperty("data", out var data) ? data : default).FirstOrDefault();
        if (user.ValueKind != JsonValueKind.Object) throw new InvalidOperationException("unable to find user with twitch provider");
        var id = Str(user, "id");
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("picture", Str(user, "profile_image_url")), C("name", Str(user, "login")),
                C("nickname", Str(user, "display_name")), C("slug", Str(user, "display_name")),
                C("avatar_url", Str(user, "profile_image_url")), C("full_name", Str(user, "login")), C("provider_id", id),
            ],
            ProviderUser.Single(Str(user, "email"), true),
            new JsonObject
            {
                ["broadcaster_type"] = Str(user, "broadcaster_type") ?? "",
                ["description"] = Str(user, "description") ?? "",
                ["type"] = Str(user, "type") ?? "",
                ["offline_image_url"] = Str(user, "offline_image_url") ?? "",
                ["view_count"] = Node(user, "view_count") ?? 0,
            });
    }

    /// WorkOS answers the profile with the token: no further call.
    public static Task<ProviderUser> WorkOS(ProviderCall call)
    {
        if (call.AccessToken.Length == 0) return Task.FromResult(ProviderUser.Of([]));
        var u = call.Tokens.TryGetProperty("profile", out var p) ? p : default;
        var name = $"{Str(u, "first_name")} {Str(u, "last_name")}".Trim();
        var id = Str(u, "id");
        return Task.FromResult(ProviderUser.Of(
            [C("iss", call.Urls.Api), C("sub", id), C("name", name), C("full_name", name), C("provider_id", id)],
            ProviderUser.Single(Str(u, "email"), true),
            new JsonObject
            {
                ["connection_id"] = Str(u, "connection_id") ?? "",
                ["organization_id"] = Str(u, "organization_id") ?? "",
            }));
    }

    public static async Task<ProviderUser> X(ProviderCall call)
    {
        var r = await call.GetJsonAsync(call.Urls.Api + "/2/users/me?user.fields=id,name,username,confirmed_email,profile_image_url,url,created_at");
        var u = r.TryGetProperty("data", out var d) ? d : default;
        var id = Str(u, "id");
        var username = Str(u, "username");
        // X answers only a confirmed email.
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("name", Str(u, "name")), C("preferred_username", username),
                C("picture", Str(u, "profile_image_url")), C("profile", "https://x.com/" + username), C("website", Str(u, "url")),
                C("avatar_url", Str(u, "profile_image_url")), C("full_name", Str(u, "name")), C("provider_id", id), C("user_name", username),
            ],
            ProviderUser.Single(Str(u, "confirmed_email"), true),
            new JsonObject { ["created_at"] = Str(u, "created_at") ?? "" });
    }

    public static async Task<ProviderUser> Zoom(ProviderCall call)
    {
        var u = await call.GetJsonAsync(call.Urls.Api + "/users/me");
        // login_type 100 is an email login: verified only when Zoom confirmed it (`verified` 1); others are verified.
        var verified = Str(u, "login_type") != "100" || (Str(u, "verified") ?? "0") != "0";
        var name = $"{Str(u, "first_name")} {Str(u, "last_name")}".Trim();
        var id = Str(u, "id");
        return ProviderUser.Of(
            [
                C("iss", call.Urls.Api), C("sub", id), C("name", name), C("picture", Str(u, "pic_url")),
                C("avatar_url", Str(u, "pic_url")), C("full_name", name), C("provider_id", id),
            ],
            ProviderUser.Single(Str(u, "email"), verified));
    }

    /// Azure, LinkedIn (OIDC) and Vercel Marketplace: the user is the ID token, verified by the exchange.
    public static Task<ProviderUser> IdTokenOnly(ProviderCall call) =>
        throw new InvalidOperationException("ID-token providers are read from the token response");

    static IEnumerable<JsonElement> Items(JsonElement array) =>
        array.ValueKind == JsonValueKind.Array ? array.EnumerateArray() : [];

    /// LinkedIn's localized name: `localized[<language>_<country>]` of its preferred locale.
    static string? Localized(JsonElement u, string field)
    {
        if (!u.TryGetProperty(field, out var name)) return null;
        var key = $"{Str(name, "preferredLocale", "language")}_{Str(name, "preferredLocale", "country")}";
        return name.TryGetProperty("localized", out var localized) ? Str(localized, key) : null;
    }
}
