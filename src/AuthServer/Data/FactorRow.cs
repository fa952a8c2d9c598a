using System.Text.Json.Nodes;

namespace AuthServer.Data;

/// An `auth.mfa_factors` row (schema.md §2). The secret is read only by the MFA feature, never here.
internal sealed class FactorRow
{
    public const string Columns = """
        f.id, f.user_id, f.friendly_name, f.factor_type::text as factor_type, f.status::text as status,
        f.created_at, f.updated_at, f.phone, f.last_challenged_at, f.web_authn_aaguid
        """;

    public Guid Id { get; init; }
    public Guid UserId { get; init; }
    public string? FriendlyName { get; init; }
    public string FactorType { get; init; } = "";
    public string Status { get; init; } = "";
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
    public string? Phone { get; init; }
    public DateTime? LastChallengedAt { get; init; }
    public Guid? WebAuthnAaguid { get; init; }

    public bool IsVerified => Status == "verified";

    /// The Factor object (api.md §1.3) in GoTrue's key order: `friendly_name` and `web_authn_aaguid`
    /// omitted when empty, `phone` always a string, `last_challenged_at` always present (null if never).
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["id"] = Id.ToString(),
            ["created_at"] = Utc(CreatedAt),
            ["updated_at"] = Utc(UpdatedAt),
            ["status"] = Status,
        };
        if (!string.IsNullOrEmpty(FriendlyName)) json["friendly_name"] = FriendlyName;
        json["factor_type"] = FactorType;
        json["phone"] = Phone ?? "";
        json["last_challenged_at"] = LastChallengedAt is { } challenged ? Utc(challenged) : null;
        if (WebAuthnAaguid is { } aaguid) json["web_authn_aaguid"] = aaguid.ToString();
        return json;
    }

    static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);
}
