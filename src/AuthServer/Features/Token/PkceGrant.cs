using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Sessions;
using Npgsql;

namespace AuthServer.Features.Token;

/// `grant_type=pkce` (api.md §3): exchanges the `?code=` of a PKCE flow and its verifier for a session.
/// The flow row is locked, checked and deleted in one transaction, so a code works once however many
/// requests race for it.
internal static class PkceGrant
{
    internal sealed record PkceRequest(string? AuthCode, string? CodeVerifier);

    public static async Task<IResult> HandleAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var body = await BodyReader.ReadAsync<PkceRequest>(http.Request, ct);
        if (string.IsNullOrEmpty(body.AuthCode) || string.IsNullOrEmpty(body.CodeVerifier))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "invalid request: both auth code and code verifier should be non-empty");
        var options = services.GetRequiredService<MailerOptions>();
        var clock = services.GetRequiredService<TimeProvider>();
        var now = clock.GetUtcNow().UtcDateTime;

        await using var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var flow = await FlowStates.LockByAuthCodeAsync(conn, body.AuthCode, ct);
        if (flow?.UserId is not { } userId)
            throw ApiError.NotFound(ErrorCode.FlowStateNotFound, "invalid flow state, no valid flow state found");
        // GoTrue `FlowState.IsExpired`: magic links count from when the code was handed out.
        var start = flow.AuthenticationMethod == "magiclink" && flow.AuthCodeIssuedAt is { } issued ? issued : flow.CreatedAt;
        if (start is null || now > DateTime.SpecifyKind(start.Value, DateTimeKind.Utc) + options.FlowStateExpiry)
        {
            await FlowStates.DeleteAsync(conn, flow.Id, ct);
            await tx.CommitAsync(ct);
            throw ApiError.Unprocessable(ErrorCode.FlowStateExpired, "invalid flow state, flow state has expired");
        }
        if (flow.CodeChallengeMethod == "plain" && !options.PkcePlainEnabled)
            throw ApiError.BadRequest(ErrorCode.BadCodeVerifier, "code challenge method plain is not allowed");
        if (!FlowStates.VerifierMatches(flow, body.CodeVerifier))
            throw ApiError.BadRequest(ErrorCode.BadCodeVerifier, "code challenge does not match previously saved code verifier");
        var user = await UserQueries.FindWithIdentitiesAsync(conn, userId, ct)
            ?? throw ApiError.NotFound(ErrorCode.FlowStateNotFound, "invalid flow state, no valid flow state found");
        if (user.User.IsBanned(clock.GetUtcNow())) throw ApiError.BadRequest(ErrorCode.UserBanned, "User is banned");

        await FlowStates.DeleteAsync(conn, flow.Id, ct);
        var session = await services.GetRequiredService<SessionIssuer>().StartAsync(conn, userId, flow.AuthenticationMethod,
            http, now, ct, provider: flow.ProviderType);
        if (!string.IsNullOrEmpty(flow.ProviderAccessToken)) session["provider_token"] = flow.ProviderAccessToken;
        if (!string.IsNullOrEmpty(flow.ProviderRefreshToken)) session["provider_refresh_token"] = flow.ProviderRefreshToken;
        await tx.CommitAsync(ct);
        return Results.Json(session, Json.Options);
    }
}
