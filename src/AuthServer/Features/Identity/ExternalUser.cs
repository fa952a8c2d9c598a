using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;

namespace AuthServer.Features.Identity;

/// What a provider says about the user (GoTrue `provider.UserProvidedData`): the subject, the primary
/// email and whether the provider verified it, and the identity_data claims map.
internal sealed record ExternalUser(string Subject, string? Email, bool EmailVerified, JsonObject IdentityData)
{
    // GoTrue `provider.Claims` string fields, copied when non-empty (`structs:",omitempty"`).
    internal static readonly string[] StandardStrings =
    [
        "iss", "sub", "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
        "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "phone", "full_name",
        "avatar_url", "slug", "provider_id", "user_name",
    ];

    /// Claims of a verified ID token or a userinfo response, mapped as GoTrue's per-issuer parsers do
    /// (`internal/api/provider/oidc.go`): Google keeps `hd` in custom_claims, Apple's email is always
    /// verified, any other issuer is read as standard OIDC claims.
    public static ExternalUser FromClaims(JsonElement claims, OidcProviderOptions provider)
    {
        var data = new JsonObject();
        string? S(string name) => claims.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            && v.GetString() is { Length: > 0 } s ? s : null;
        void Put(string key, string? value) { if (value is not null) data[key] = value; }

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
                if (claims.TryGetProperty("is_private_email", out var priv)) custom["is_private_email"] = JsonNode.Parse(priv.GetRawText());
                if (claims.TryGetProperty("auth_time", out var authTime)) custom["auth_time"] = JsonNode.Parse(authTime.GetRawText());
                break;
            default:
                foreach (var key in StandardStrings) Put(key, S(key));
                if (S("aud") is { } aud) data["aud"] = aud;
                foreach (var key in new[] { "iat", "exp" })
                    if (claims.TryGetProperty(key, out var n) && n.TryGetDouble(out var d)) data[key] = d;
                if (claims.TryGetProperty("phone_verified", out _)) data["phone_verified"] = Bool(claims, "phone_verified");
                if (claims.TryGetProperty("custom_claims", out var cc) && cc.ValueKind == JsonValueKind.Object)
                    custom = JsonNode.Parse(cc.GetRawText())!.AsObject();
                break;
        }
        if (email is not null) data["email"] = email;
        data["email_verified"] = email is not null && verified;
        if (!data.ContainsKey("phone_verified")) data["phone_verified"] = false;
        if (custom.Count > 0) data["custom_claims"] = custom;
        return new ExternalUser(sub, email, email is not null && verified, data);
    }

    /// `email_verified` as a JSON bool or a string ("true"; Apple has sent both, GoTrue #1401).
    static bool Bool(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out var v) && (v.ValueKind == JsonValueKind.True ||
            (v.ValueKind == JsonValueKind.String && bool.TryParse(v.GetString(), out var b) && b));
}
