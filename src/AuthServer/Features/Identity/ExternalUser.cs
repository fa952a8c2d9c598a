using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Features.External.Providers;

namespace AuthServer.Features.Identity;

/// What a provider says about the user (GoTrue `provider.UserProvidedData`): the subject, the email chosen
/// for the identity data (the primary one, else the last) and whether the provider verified it, the
/// identity_data claims map, and every address the provider reported.
internal sealed record ExternalUser(string Subject, string? Email, bool EmailVerified, JsonObject IdentityData)
{
    /// GoTrue `UserProvidedData.Emails`: automatic linking matches an existing account on any verified one, and
    /// a new account takes the primary one (`models.DetermineAccountLinking`). One primary entry by default.
    public IReadOnlyList<ProviderEmail> Emails { get; init; } = Email is null ? [] : [new ProviderEmail(Email, EmailVerified, true)];

    // GoTrue `provider.Claims` string fields, copied when non-empty (`structs:",omitempty"`).
    internal static readonly string[] StandardStrings =
    [
        "iss", "sub", "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
        "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "phone", "full_name",
        "avatar_url", "slug", "provider_id", "user_name",
    ];

    // GoTrue `removeAzureClaimsFromCustomClaims`: registered or already mapped claims kept out of custom_claims.
    static readonly string[] AzureNotCustom =
    [
        "aud", "iss", "iat", "nbf", "exp", "c_hash", "at_hash", "aio", "nonce", "rh", "uti", "jti", "ver", "sub", "name",
        "preferred_username",
    ];

    /// Claims of a verified ID token or a userinfo response, mapped as GoTrue's per-issuer parsers do
    /// (`internal/api/provider/oidc.go` `ParseIDToken`), chosen by provider name because an issuer can be
    /// overridden (`GOTRUE_EXTERNAL_<P>_ISSUER`); any other provider is read as standard OIDC claims.
    public static ExternalUser FromClaims(JsonElement claims, OidcProviderOptions provider)
    {
        var data = new JsonObject();
        string? S(string name) => claims.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            && v.GetString() is { Length: > 0 } s ? s : null;
        void Put(string key, string? value) { if (value is not null) data[key] = value; }
        void PutRaw(JsonObject target, string key) { if (claims.TryGetProperty(key, out var v)) target[key] = JsonNode.Parse(v.GetRawText()); }

        var sub = S("sub") ?? "";
        var email = S("email");
        var verified = provider.EmailAlwaysVerified || Bool(claims, "email_verified") || Bool(claims, "verified_email");
        var custom = new JsonObject();

        switch (provider.Name)
        {
            case "google":
                Put("iss", S("iss"));
                Put("sub", sub);
                Put("name", S("name"));
                Put("picture", S("picture"));
                Put("full_name", S("name"));
                Put("avatar_url", S("picture"));
                Put("provider_id", sub);
                if (S("hd") is { } hd) custom["hd"] = hd;
                break;
            case "apple":
                Put("iss", S("iss"));
                Put("sub", sub);
                Put("provider_id", sub);
                PutRaw(custom, "is_private_email");
                PutRaw(custom, "auth_time");
                if (S("transfer_sub") is { } transfer) custom["transfer_sub"] = transfer;
                break;
            case "azure":
                // GoTrue `parseAzureIDToken`: every other claim (tid, oid, email, xms_edov…) goes to custom_claims.
                Put("iss", S("iss"));
                Put("sub", sub);
                Put("preferred_username", S("preferred_username"));
                Put("full_name", S("name"));
                Put("provider_id", sub);
                foreach (var claim in claims.EnumerateObject())
                    if (!AzureNotCustom.Contains(claim.Name)) custom[claim.Name] = JsonNode.Parse(claim.Value.GetRawText());
                verified = AzureEmailVerified(claims, email);
                break;
            case "facebook":
                // Limited Login tokens (GoTrue `parseFacebookIDToken`): an address Facebook gives is verified.
                Put("iss", S("iss"));
                Put("sub", sub);
                Put("name", S("name"));
                Put("picture", S("picture"));
                Put("provider_id", sub);
                verified = true;
                break;
            case "kakao":
                Put("iss", S("iss"));
                Put("sub", sub);
                Put("name", S("nickname"));
                Put("preferred_username", S("nickname"));
                Put("picture", S("picture"));
                Put("provider_id", sub);
                verified = true;
                break;
            case "linkedin_oidc":
                Put("iss", S("iss"));
                Put("sub", sub);
                Put("name", $"{S("given_name")} {S("family_name")}".Trim() is { Length: > 0 } full ? full : null);
                Put("given_name", S("given_name"));
                Put("family_name", S("family_name"));
                Put("locale", S("locale"));
                Put("picture", S("picture"));
                Put("provider_id", sub);
                break;
            case "vercel_marketplace":
                // GoTrue `parseVercelMarketplaceIDToken`: the stable subject is the global user id when present.
                if (S("global_user_id") is { } global) sub = "global_user_id:" + global;
                Put("iss", S("iss"));
                Put("sub", sub);
                Put("name", S("user_name"));
                Put("picture", S("user_avatar_url"));
                Put("provider_id", sub);
                email = S("user_email");
                verified = true;
                break;
            default:
                foreach (var key in StandardStrings) Put(key, S(key));
                if (S("aud") is { } aud) data["aud"] = aud;
                foreach (var key in new[] { "iat", "exp" })
                    if (claims.TryGetProperty(key, out var n) && n.TryGetDouble(out var d)) data[key] = d;
                if (claims.TryGetProperty("phone_verified", out _)) data["phone_verified"] = Bool(claims, "phone_verified");
                if (claims.TryGetProperty("custom_claims", out var cc) && cc.ValueKind == JsonValueKind.Object)
                    custom = JsonNode.Parse(cc.GetRawText())!.AsObject();
                // GoTrue `parseSnapchatIDToken`: standard claims, and Snapchat's email is verified.
                if (provider.Name == "snapchat") verified = true;
                break;
        }
        if (email is not null) data["email"] = email;
        data["email_verified"] = email is not null && verified;
        if (!data.ContainsKey("phone_verified")) data["phone_verified"] = false;
        if (custom.Count > 0) data["custom_claims"] = custom;
        return new ExternalUser(sub, email, email is not null && verified, data);
    }

    /// GoTrue `AzureIDTokenClaims.IsEmailVerified`: without `xms_edov` an email counts as verified (Azure sends
    /// unverified ones only to single-tenant apps); with it, only when it is true or "1"/"true".
    static bool AzureEmailVerified(JsonElement claims, string? email)
    {
        if (email is null) return false;
        if (!claims.TryGetProperty("xms_edov", out var edov) || edov.ValueKind == JsonValueKind.Null) return true;
        return edov.ValueKind == JsonValueKind.True ||
            (edov.ValueKind == JsonValueKind.String && edov.GetString() is "1" or "true");
    }

    /// `email_verified` as a JSON bool or a string ("true"; Apple has sent both, GoTrue #1401).
    static bool Bool(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out var v) && (v.ValueKind == JsonValueKind.True ||
            (v.ValueKind == JsonValueKind.String && bool.TryParse(v.GetString(), out var b) && b));
}
