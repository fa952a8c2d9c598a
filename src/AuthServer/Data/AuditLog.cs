using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace AuthServer.Data;

/// Actions and log types as GoTrue writes them into `auth.audit_log_entries` (schema.md).
internal static class AuditAction
{
    public const string Login = "login";
    public const string Logout = "logout";
    public const string UserSignedUp = "user_signedup";
    public const string UserRepeatedSignup = "user_repeated_signup";
    public const string UserConfirmationRequested = "user_confirmation_requested";
    public const string UserModified = "user_modified";
    public const string UserUpdatedPassword = "user_updated_password";
    public const string TokenRevoked = "token_revoked";
    public const string TokenRefreshed = "token_refreshed";
    public const string FactorInProgress = "factor_in_progress";
    public const string FactorUnenrolled = "factor_unenrolled";
    public const string ChallengeCreated = "challenge_created";
    public const string VerificationAttempted = "verification_attempted";
    public const string UserRecoveryRequested = "user_recovery_requested";
    public const string UserReauthenticateRequested = "user_reauthenticate_requested";
    public const string UserInvited = "user_invited";
    public const string UserDeleted = "user_deleted";
    public const string FactorDeleted = "factor_deleted";
    public const string FactorUpdated = "factor_updated";

    public static string LogType(string action) => action switch
    {
        Login or Logout => "account",
        UserSignedUp or UserInvited or UserDeleted => "team",
        FactorDeleted or FactorUpdated => "factor",
        TokenRevoked or TokenRefreshed => "token",
        FactorInProgress or FactorUnenrolled or ChallengeCreated or VerificationAttempted => "factor",
        _ => "user",
    };
}

internal static class AuditLog
{
    /// The row's SQL and parameters, so callers can batch it with the write it records.
    public const string InsertSql = """
        insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
        values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), @payload::json, @now, @ip)
        """;

    public static string Payload(UserRow user, string action, JsonObject? traits = null)
    {
        var payload = new JsonObject
        {
            ["actor_id"] = user.Id.ToString(),
            ["actor_username"] = string.IsNullOrEmpty(user.Phone) ? user.Email ?? "" : user.Phone,
            ["actor_via_sso"] = user.IsSsoUser,
            ["action"] = action,
            ["log_type"] = AuditAction.LogType(action),
        };
        if (user.UserMetadata["full_name"] is JsonValue name && name.TryGetValue<string>(out var fullName))
            payload["actor_name"] = fullName;
        if (traits is not null) payload["traits"] = traits;
        return payload.ToJsonString();
    }

    public static Task WriteAsync(NpgsqlConnection conn, UserRow user, string action, string ip, DateTime now,
        CancellationToken ct, JsonObject? traits = null) =>
        conn.ExecuteAsync(new CommandDefinition(InsertSql,
            new { payload = Payload(user, action, traits), now, ip }, cancellationToken: ct));
}
