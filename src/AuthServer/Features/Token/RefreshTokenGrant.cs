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
        RefreshQueries.State state;
        try
        {
            (session, state) = await RefreshQueries.LockAndLoadAsync(conn, token, ct);
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
        else
        {
            // Any other revoked token: a grandparent, or a token of a family revoked for reuse. GoTrue
            // mints another child when this happens inside the reuse interval (jwt.md §5.2 2c); we refuse
            // it (security-tests S3★), because revoking a family bumps updated_at and would make the
            // stolen family's tokens look fresh. Concurrent tabs are served by the parent rule above.
            // Outside the interval it is treated as theft: the whole family is revoked, and that
            // revocation is committed before the error.
            var outsideInterval = now > DateTime.SpecifyKind(state.Token.UpdatedAt, DateTimeKind.Utc)
                .AddSeconds(options.ReuseIntervalSeconds);
            if (outsideInterval && options.RotationEnabled)
                await RefreshQueries.RevokeFamilyAsync(conn, session.Id, now, ct);
            await tx.CommitAsync(ct);
            throw ApiError.BadRequest(ErrorCode.RefreshTokenAlreadyUsed, "Invalid Refresh Token: Already Used");
        }
        await tx.CommitAsync(ct);

        var response = issuer.Response(state.User, state.Identities, session.Id, state.Amr, issued, now);
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
