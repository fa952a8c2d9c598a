using System.Text.Json.Nodes;

namespace AuthServer.Data;

/// The User and Identity objects on the wire, in GoTrue's key order with its omission rules (api.md §1.1–1.2).
internal static class UserJson
{
    public static JsonObject From(UserRow user, IEnumerable<IdentityRow> identities,
        IReadOnlyCollection<FactorRow>? factors = null)
    {
        var json = new JsonObject
        {
            ["id"] = user.Id.ToString(),
            ["aud"] = user.Aud ?? "",
            ["role"] = user.Role ?? "",
            ["email"] = user.Email ?? "",
        };
        Timestamp(json, "email_confirmed_at", user.EmailConfirmedAt);
        Timestamp(json, "invited_at", user.InvitedAt);
        json["phone"] = user.Phone ?? "";
        Timestamp(json, "phone_confirmed_at", user.PhoneConfirmedAt);
        Timestamp(json, "confirmation_sent_at", user.ConfirmationSentAt);
        Timestamp(json, "confirmed_at", user.ConfirmedAt);
        Timestamp(json, "recovery_sent_at", user.RecoverySentAt);
        if (!string.IsNullOrEmpty(user.EmailChange)) json["new_email"] = user.EmailChange;
        Timestamp(json, "email_change_sent_at", user.EmailChangeSentAt);
        if (!string.IsNullOrEmpty(user.PhoneChange)) json["new_phone"] = user.PhoneChange;
        Timestamp(json, "phone_change_sent_at", user.PhoneChangeSentAt);
        Timestamp(json, "reauthentication_sent_at", user.ReauthenticationSentAt);
        Timestamp(json, "last_sign_in_at", user.LastSignInAt);
        json["app_metadata"] = user.AppMetadata;
        json["user_metadata"] = user.UserMetadata;
        if (factors is { Count: > 0 }) json["factors"] = new JsonArray(factors.Select(f => (JsonNode)f.ToJson()).ToArray());
        json["identities"] = new JsonArray(identities.Select(i => (JsonNode)Identity(i)).ToArray());
        json["created_at"] = user.CreatedAt;
        json["updated_at"] = user.UpdatedAt;
        Timestamp(json, "banned_until", user.BannedUntil);
        Timestamp(json, "deleted_at", user.DeletedAt);
        json["is_anonymous"] = user.IsAnonymous;
        return json;
    }

    /// GoTrue `UpdateUserMetaData` / `UpdateAppMetaData`: top-level keys replace, a key set to null is removed.
    public static JsonObject MergeMetadata(JsonObject current, JsonObject changes)
    {
        var merged = (JsonObject)current.DeepClone();
        foreach (var (key, value) in changes)
        {
            if (value is null) merged.Remove(key);
            else merged[key] = value.DeepClone();
        }
        return merged;
    }

    public static JsonObject Identity(IdentityRow identity)
    {
        var json = new JsonObject
        {
            ["identity_id"] = identity.Id.ToString(),
            ["id"] = identity.ProviderId,
            ["user_id"] = identity.UserId.ToString(),
        };
        if (identity.IdentityData is not null) json["identity_data"] = JsonNode.Parse(identity.IdentityData);
        json["provider"] = identity.Provider;
        Timestamp(json, "last_sign_in_at", identity.LastSignInAt);
        json["created_at"] = identity.CreatedAt;
        json["updated_at"] = identity.UpdatedAt;
        if (!string.IsNullOrEmpty(identity.Email)) json["email"] = identity.Email;
        return json;
    }

    static void Timestamp(JsonObject json, string key, DateTime? value)
    {
        if (value is { } v) json[key] = DateTime.SpecifyKind(v, DateTimeKind.Utc);
    }
}
