using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Features.External.Providers;

namespace AuthServer.Features.CustomProviders;

/// The user of an admin-defined provider as GoTrue `provider/custom_oauth.go` builds it: the userinfo answer or
/// ID token decoded into GoTrue's `provider.Claims` struct, then `attribute_mapping` applied to that struct.
internal static class CustomProviderClaims
{
    // GoTrue `provider.Claims`: its JSON names and Go types. Anything else a provider sends is dropped.
    static readonly HashSet<string> Strings =
    [
        "iss", "sub", "aud", "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
        "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at", "email", "phone",
        "full_name", "avatar_url", "slug", "provider_id", "user_name",
    ];
    static readonly HashSet<string> Numbers = ["iat", "exp"];
    static readonly HashSet<string> Bools = ["email_verified", "phone_verified"];
    const string CustomClaims = "custom_claims";

    /// Go `json.Unmarshal` into `provider.Claims`, re-marshalled with its `omitempty` tags: known fields only,
    /// empty values left out; null when a known field has the wrong JSON type (Go fails the whole decode).
    public static JsonObject? Decode(JsonObject raw)
    {
        var claims = new JsonObject();
        foreach (var (key, value) in raw)
        {
            if (value is null) continue; // JSON null leaves the Go field at its zero value
            var kind = value.GetValueKind();
            if (Strings.Contains(key))
            {
                if (kind != JsonValueKind.String) return null;
                if (value.GetValue<string>() is { Length: > 0 } s) claims[key] = s;
            }
            else if (Numbers.Contains(key))
            {
                if (kind != JsonValueKind.Number) return null;
                if (value.GetValue<double>() is var d && d != 0) claims[key] = d;
            }
            else if (Bools.Contains(key))
            {
                if (kind is not (JsonValueKind.True or JsonValueKind.False)) return null;
                if (kind == JsonValueKind.True) claims[key] = true;
            }
            else if (key == CustomClaims)
            {
                if (kind != JsonValueKind.Object) return null;
                if (value.AsObject().Count > 0) claims[key] = value.DeepClone();
            }
        }
        return claims;
    }

    /// GoTrue `applyAttributeMapping`: for each target, a string names the source claim (copied only when that
    /// claim is present; no nested paths), any other JSON value is set literally (null clears the target). The
    /// result is decoded into `provider.Claims` again, so targets that are not its fields are dropped, and a
    /// mapping that gives a field the wrong type is discarded as a whole (GoTrue returns the claims unmapped).
    public static JsonObject ApplyMapping(JsonObject claims, JsonObject? mapping)
    {
        if (mapping is not { Count: > 0 }) return claims;
        var mapped = (JsonObject)claims.DeepClone();
        foreach (var (target, source) in mapping)
        {
            if (source is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                // Read from the map being built, as GoTrue does (its order is Go map order; ours the stored one).
                if (mapped.TryGetPropertyValue(v.GetValue<string>(), out var value)) mapped[target] = value?.DeepClone();
            }
            else mapped[target] = source?.DeepClone();
        }
        return Decode(mapped) ?? claims;
    }

    /// A userinfo answer (custom OAuth2, and custom OIDC without an ID token): decode, map, then the email of
    /// the mapped claims is the user's email.
    public static ProviderUser FromUserInfo(JsonElement userInfo, JsonObject? mapping)
    {
        var raw = JsonNode.Parse(userInfo.GetRawText()) as JsonObject
            ?? throw new JsonException("userinfo is not a JSON object");
        var claims = ApplyMapping(Decode(raw) ?? throw new JsonException("userinfo claims have the wrong types"), mapping);
        return new ProviderUser(claims, Emails(claims));
    }

    /// A verified ID token (custom OIDC): GoTrue's generic ID-token parser requires an email and takes it before
    /// the mapping, so a mapped `email` does not change the user's email (the callback sets it back).
    public static ProviderUser FromIdToken(JsonElement tokenClaims, JsonObject? mapping)
    {
        var raw = JsonNode.Parse(tokenClaims.GetRawText())!.AsObject();
        var claims = Decode(raw) ?? throw new JsonException("ID token claims have the wrong types");
        var emails = Emails(claims);
        if (emails.Count == 0) throw new JsonException("generic OIDC ID token must contain an email address");
        return new ProviderUser(ApplyMapping(claims, mapping), emails);
    }

    static List<ProviderEmail> Emails(JsonObject claims) =>
        claims["email"]?.GetValue<string>() is { Length: > 0 } email
            ? [new ProviderEmail(email, claims["email_verified"]?.GetValue<bool>() == true, true)]
            : [];
}
