using System.Text.Json.Nodes;
using AuthServer.Data;

namespace AuthServer.Features.Admin;

/// Admin responses: GoTrue loads users eagerly there, so a user with factors shows `factors`
/// (between `user_metadata` and `identities`, omitted when empty; models.User `factors,omitempty`).
internal static class AdminJson
{
    public static JsonObject User((UserRow User, List<IdentityRow> Identities, List<FactorRow> Factors) found)
    {
        var user = UserJson.From(found.User, found.Identities);
        if (found.Factors.Count == 0) return user;
        var withFactors = new JsonObject();
        foreach (var (key, value) in user.ToList())
        {
            user.Remove(key);
            if (key == "identities") withFactors["factors"] = new JsonArray(found.Factors.Select(f => (JsonNode)Factor(f)).ToArray());
            withFactors[key] = value;
        }
        return withFactors;
    }

    /// models.Factor JSON: `friendly_name` omitted when empty, `phone` always (`""` when none),
    /// `last_challenged_at` null when never challenged.
    public static JsonObject Factor(FactorRow f)
    {
        var json = new JsonObject
        {
            ["id"] = f.Id.ToString(),
            ["created_at"] = Utc(f.CreatedAt),
            ["updated_at"] = Utc(f.UpdatedAt),
            ["status"] = f.Status,
        };
        if (!string.IsNullOrEmpty(f.FriendlyName)) json["friendly_name"] = f.FriendlyName;
        json["factor_type"] = f.FactorType;
        json["phone"] = f.Phone ?? "";
        json["last_challenged_at"] = f.LastChallengedAt is { } t ? Utc(t) : null;
        if (f.WebAuthnAaguid is { } aaguid) json["web_authn_aaguid"] = aaguid.ToString();
        return json;
    }

    static DateTime Utc(DateTime t) => DateTime.SpecifyKind(t, DateTimeKind.Utc);
}
