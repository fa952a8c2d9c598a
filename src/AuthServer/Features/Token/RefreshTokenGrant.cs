using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;

namespace AuthServer.Features.Token;

/// `grant_type=refresh_token` for v1 tokens (jwt.md §5.2): rotation, "parent of the active token gets
/// the active token back", the reuse interval, and family revocation on reuse outside it.
/// Refreshes of one session are serialised by locking the session row first (then reading its tokens),
/// so concurrent tabs converge on one successor and reuse detection can't deadlock with a rotation.
internal static partial class RefreshTokenGrant
{
    internal sealed record RefreshRequest(string? RefreshToken);

    public static async Task<IResult> HandleAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<RefreshOptions>();
        var issuer = services.GetRequiredService<SessionIssuer>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var body = await BodyReader.ReadAsync<RefreshRequest>(http.Request, ct);
        var token = body.RefreshToken ?? "";
        if (!V1Format().IsMatch(token))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Refresh token is not valid");

        var db = services.GetRequiredService<NpgsqlDataSource>();
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);

        RefreshQueries.SessionRow? session;
        try
        {
            session = await RefreshQueries.LockSessionByTokenAsync(conn, token, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw ApiError.Conflict(ErrorCode.Conflict,
                "Too many concurrent token refresh requests on the same session or refresh token");
        }
        if (session is null)
        {
            if (!await RefreshQueries.DeleteOrphanTokenAsync(conn, token, ct))
                throw ApiError.BadRequest(ErrorCode.RefreshTokenNotFound, "Invalid Refresh Token: Refresh Token Not Found");
            await tx.CommitAsync(ct);
            throw ApiError.BadRequest(ErrorCode.SessionNotFound, "Invalid Refresh Token: No Valid Session Found");
        }

        var state = await RefreshQueries.LoadAsync(conn, token, session.Id, ct);
        if (state.Token is null || state.User is null)
            throw ApiError.BadRequest(ErrorCode.RefreshTokenNotFound, "Invalid Refresh Token: Refresh Token Not Found");
        if (state.User.IsBanned(new DateTimeOffset(now)))
            throw ApiError.BadRequest(ErrorCode.UserBanned, "Invalid Refresh Token: User Banned");
        CheckValidity(session, state.Token, options, now);

        var ip = ClientInfo.Ip(http);
        string issued;
        if (!state.Token.Revoked)
        {
            issued = await RefreshQueries.SwapAsync(conn, state.User, state.Token, session.Id, now, ip, ClientInfo.UserAgent(http), ct);
        }
        else if (state.Active is { } active && active.Parent == token)
        {
            // The client never stored the previous response (or another tab already refreshed):
            // hand back the token that replaced this one instead of minting another.
            issued = active.Token;
            await RefreshQueries.TouchSessionAsync(conn, state.User, session.Id, now, ip, ClientInfo.UserAgent(http), ct);
        }
        else if (now > DateTime.SpecifyKind(state.Token.UpdatedAt, DateTimeKind.Utc).AddSeconds(options.ReuseIntervalSeconds))
        {
            // Reuse of a revoked token outside the grace period: treat as theft. The revocation is
            // committed before the error so the family stays dead.
            if (options.RotationEnabled) await RefreshQueries.RevokeFamilyAsync(conn, session.Id, now, ct);
            await tx.CommitAsync(ct);
            throw ApiError.BadRequest(ErrorCode.RefreshTokenAlreadyUsed, "Invalid Refresh Token: Already Used");
        }
        else
        {
            issued = await RefreshQueries.SwapAsync(conn, state.User, state.Token, session.Id, now, ip, ClientInfo.UserAgent(http), ct);
        }
        // Minted inside the transaction: a failing custom access token hook rolls the rotation back (GoTrue).
        var response = await issuer.ResponseAsync(conn, state.User, state.Identities, session.Id, state.Amr, issued, now,
            "token_refresh", ct);
        await tx.CommitAsync(ct);

        ((JsonObject)response["user"]!)["last_sign_in_at"] = now;
        return Results.Json(response, Json.Options);
    }

    static void CheckValidity(RefreshQueries.SessionRow session, RefreshQueries.TokenRow token, RefreshOptions options, DateTime now)
    {
        static DateTime Utc(DateTime t) => DateTime.SpecifyKind(t, DateTimeKind.Utc);
        if (session.NotAfter is { } notAfter && now > Utc(notAfter))
            throw Expired("Invalid Refresh Token: Session Expired");
        if (options.Timebox is { } timebox && now > Utc(session.CreatedAt) + timebox)
            throw Expired("Invalid Refresh Token: Session Expired");
        if (options.InactivityTimeout is { } inactivity)
        {
            // GoTrue `Session.LastRefreshedAt`: refreshed_at, else the token's updated_at if newer than creation.
            var last = session.RefreshedAt is { } r ? Utc(r)
                : Utc(token.UpdatedAt) > Utc(session.CreatedAt) ? Utc(token.UpdatedAt) : Utc(session.CreatedAt);
            if (now > last + inactivity)
                throw Expired("Invalid Refresh Token: Session Expired (Inactivity)");
        }
    }

    static ApiError Expired(string message) => ApiError.BadRequest(ErrorCode.SessionExpired, message);

    // jwt.md §5.1: v1 tokens are exactly 12 chars of [a-z0-9].
    [GeneratedRegex("^[a-z0-9]{12}$")]
    private static partial Regex V1Format();
}
