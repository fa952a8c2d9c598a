using System.Text.Json.Nodes;
using AuthServer.Http;
using Dapper;

namespace AuthServer.Hooks;

/// The password verification attempt hook (`GOTRUE_HOOK_PASSWORD_VERIFICATION_ATTEMPT_*`; GoTrue
/// token.go `ResourceOwnerPasswordGrant`): told `{user_id, valid}` after every password check of an
/// existing user, it may answer `{"decision":"reject","message","should_logout_user"}` to refuse the
/// sign-in (400 `invalid_credentials` with its message) and optionally end all the user's sessions.
internal static class PasswordVerificationHook
{
    const string DefaultRejection = "Further password verification attempts will be rejected.";

    public static async Task RunAsync(HookRunner hooks, Guid userId, bool valid, CancellationToken ct)
    {
        var hook = hooks.Options.PasswordVerificationAttempt;
        if (!hook.Enabled) return;
        var output = await hooks.RunAsync(hook, null, new JsonObject { ["user_id"] = userId.ToString(), ["valid"] = valid }, ct);
        if (output["decision"] is not JsonValue d || !d.TryGetValue<string>(out var decision) || decision != "reject") return;

        if (output["should_logout_user"] is JsonValue l && l.TryGetValue<bool>(out var logout) && logout)
        {
            await using var conn = await hooks.DataSource.OpenConnectionAsync(ct);
            await conn.ExecuteAsync(new CommandDefinition("delete from auth.sessions where user_id = @userId", new { userId }, cancellationToken: ct));
        }
        var message = output["message"] is JsonValue m && m.TryGetValue<string>(out var text) && text.Length > 0 ? text : DefaultRejection;
        throw ApiError.BadRequest(ErrorCode.InvalidCredentials, message);
    }
}
