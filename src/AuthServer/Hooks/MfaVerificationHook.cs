using System.Text.Json.Nodes;
using AuthServer.Http;
using Dapper;

namespace AuthServer.Hooks;

/// The MFA verification attempt hook (`GOTRUE_HOOK_MFA_VERIFICATION_ATTEMPT_*`; GoTrue mfa.go
/// `verifyTOTPFactor`/`verifyPhoneFactor`): told `{metadata, factor_id, factor_type, user_id, valid}` after
/// every code check, before the outcome is acted on. `{"decision":"reject","message"}` ends all the user's
/// sessions and answers 403 `mfa_verification_rejected` with the message (or GoTrue's default).
internal static class MfaVerificationHook
{
    const string DefaultRejection = "Further MFA verification attempts will be rejected.";

    public static async Task RunAsync(HttpContext http, Guid userId, Guid factorId, string factorType, bool valid, CancellationToken ct)
    {
        var hooks = http.RequestServices.GetRequiredService<HookRunner>();
        var hook = hooks.Options.MfaVerificationAttempt;
        if (!hook.Enabled) return;
        var input = new JsonObject
        {
            ["metadata"] = hooks.Metadata(http, "mfa-verification"),
            ["user_id"] = userId.ToString(),
            ["factor_id"] = factorId.ToString(),
            ["factor_type"] = factorType,
            ["valid"] = valid,
        };
        var output = await hooks.RunAsync(hook, null, input, ct);
        if (output["decision"] is not JsonValue d || !d.TryGetValue<string>(out var decision) || decision != "reject") return;

        // GoTrue `models.Logout(db, user.ID)`: outside the caller's transaction, which the 403 rolls back.
        await using (var conn = await hooks.DataSource.OpenConnectionAsync(ct))
            await conn.ExecuteAsync(new CommandDefinition("delete from auth.sessions where user_id = @userId", new { userId }, cancellationToken: ct));
        var message = output["message"] is JsonValue m && m.TryGetValue<string>(out var text) && text.Length > 0 ? text : DefaultRejection;
        throw new ApiError(403, ErrorCode.MfaVerificationRejected, message);
    }
}
