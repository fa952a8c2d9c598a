using System.Text.Json.Nodes;

namespace AuthServer.Data;

internal sealed class UserRow
{
    public Guid Id { get; init; }
    public string? Aud { get; init; }
    public string? Role { get; init; }
    public string? Email { get; init; }
    public string? EncryptedPassword { get; init; }
    public DateTime? EmailConfirmedAt { get; init; }
    public DateTime? InvitedAt { get; init; }
    public string? Phone { get; init; }
    public DateTime? PhoneConfirmedAt { get; init; }
    public DateTime? ConfirmationSentAt { get; init; }
    public DateTime? ConfirmedAt { get; init; }
    public DateTime? RecoverySentAt { get; init; }
    public string? EmailChange { get; init; }
    public DateTime? EmailChangeSentAt { get; init; }
    public string? PhoneChange { get; init; }
    public DateTime? PhoneChangeSentAt { get; init; }
    public DateTime? ReauthenticationSentAt { get; init; }
    public DateTime? LastSignInAt { get; init; }
    public string? RawAppMetaData { get; init; }
    public string? RawUserMetaData { get; init; }
    public DateTime? CreatedAt { get; init; }
    public DateTime? UpdatedAt { get; init; }
    public DateTime? BannedUntil { get; init; }
    public DateTime? DeletedAt { get; init; }
    public bool IsAnonymous { get; init; }
    public bool IsSsoUser { get; init; }

    public bool IsBanned(DateTimeOffset now) => BannedUntil is { } until && until > now.UtcDateTime;

    public JsonObject AppMetadata => ParseObject(RawAppMetaData);
    public JsonObject UserMetadata => ParseObject(RawUserMetaData);

    static JsonObject ParseObject(string? json) =>
        json is null ? [] : JsonNode.Parse(json) as JsonObject ?? [];
}

internal sealed class IdentityRow
{
    public Guid Id { get; init; }
    public string ProviderId { get; init; } = "";
    public Guid UserId { get; init; }
    public string? IdentityData { get; init; }
    public string Provider { get; init; } = "";
    public DateTime? LastSignInAt { get; init; }
    public DateTime? CreatedAt { get; init; }
    public DateTime? UpdatedAt { get; init; }
    public string? Email { get; init; }
}
