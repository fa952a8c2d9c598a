using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Observability;
using AuthServer.Security;
using AuthServer.Sessions;
using Microsoft.AspNetCore.Http.Features;
using Npgsql;

namespace AuthServer.Features.Token;

/// `grant_type=refresh_token` (jwt.md §5.2). v1 tokens: rotation, "parent of the active token gets
/// the active token back", the reuse interval, and family revocation on reuse outside it; v2 tokens
/// (HMAC + counter, RefreshTokenGrantV2.cs) and the v1 → v2 upgrade.
/// Refreshes of one session are serialised by locking the session row first (then reading its tokens),
/// so concurrent tabs converge on one successor and reuse detection can't deadlock with a rotation.
internal static partial class RefreshTokenGrant
{
    internal sealed record RefreshRequest(string? RefreshToken);

    public static async Task<IResult> HandleAsync(HttpContext http, CancellationToken ct)
    {
        // Cookie sessions (Sessions/CookieSessions): the refresh cookie stands in for a missing body token,
        // and then the request may have no body at all.
        var cookieToken = CookieSessions.RefreshToken(http);
        var body = cookieToken is not null && http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == false
            ? new RefreshRequest(null)
            : await BodyReader.ReadAsync<RefreshRequest>(http.Request, ct);
        var token = string.IsNullOrEmpty(body.RefreshToken) ? cookieToken ?? "" : body.RefreshToken;
        return Results.Json(await RefreshAsync(http, token, ct), Json.Options);
    }

    /// The key under which `POST /oauth/token` puts its authenticated client (Features/OAuthServer) before
    /// refreshing; absent for `POST /token`.
    internal const string OAuthClientItem = "oauth_server_client_id";

    /// Rotates <paramref name="token"/> and returns the token response. Shared with `POST /oauth/token`.
    internal static async Task<JsonObject> RefreshAsync(HttpContext http, string token, CancellationToken ct)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<RefreshOptions>();
        var issuer = services.GetRequiredService<SessionIssuer>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        if (!V1Format().IsMatch(token))
            return await HandleV2Async(http, RefreshTokenV2.TryParse(token)
                ?? throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Refresh token is not valid"), ct);

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
        var needsMfa = options.AllowLowAal is not null && state.Factors.Any(f => f.IsVerified);
        CheckValidity(session, state.Token.UpdatedAt, options, now, needsMfa);
        CheckOAuthClient(http, session);
        await EnsureNewestSessionAsync(conn, session, state.Token.UpdatedAt, options, now, needsMfa, ct);

        var ip = ClientInfo.Ip(http);
        string issued;
        if (!state.Token.Revoked)
        {
            issued = await RefreshQueries.SwapAsync(conn, state.User, state.Token, session.Id, now, ip, ClientInfo.UserAgent(http), ct);
            issued = await MaybeUpgradeAsync(conn, session, issued, options, services.GetRequiredService<ColumnEncryption>(), ct);
        }
        else if (state.Active is { } active && active.Parent == token
            && now <= Utc(state.Token.UpdatedAt).Add(ParentWindow(options)))
        {
            // The client never stored the previous response (or another tab already refreshed):
            // hand back the token that replaced this one instead of minting another. Only within the
            // parent window (review I-1): later, a just-rotated token that leaked would otherwise
            // return the live token forever with no alarm, so it falls through to reuse below.
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
            var outsideInterval = now > Utc(state.Token.UpdatedAt).AddSeconds(options.ReuseIntervalSeconds);
            if (outsideInterval && options.RotationEnabled)
            {
                await RefreshQueries.RevokeFamilyAsync(conn, session.Id, now, ct);
                AuthMetrics.RefreshReuse.Add(1);
            }
            await tx.CommitAsync(ct);
            throw ApiError.BadRequest(ErrorCode.RefreshTokenAlreadyUsed, "Invalid Refresh Token: Already Used");
        }
        // Minted inside the transaction: a failing custom access token hook rolls the rotation back (GoTrue).
        var response = await issuer.ResponseAsync(conn, state.User, state.Identities, session.Id, state.Amr, issued, now,
            "token_refresh", ct, state.Factors, session.OauthClientId, session.Scopes);
        await tx.CommitAsync(ct);

        ((JsonObject)response["user"]!)["last_sign_in_at"] = now;
        return response;
    }

    /// GoTrue `RefreshTokenGrant`: a session issued to an OAuth client refreshes only through `/oauth/token`
    /// with that client authenticated, and any other session never does.
    static void CheckOAuthClient(HttpContext http, RefreshQueries.SessionRow session)
    {
        var client = http.Items[OAuthClientItem] as Guid?;
        if (session.OauthClientId is { } owner && owner != Guid.Empty)
        {
            if (client is null) throw new OAuthError("invalid_client", "Client authentication required for OAuth session");
            if (client != owner) throw new OAuthError("invalid_client", "Client does not match the session's OAuth client");
        }
        else if (client is not null)
            throw new OAuthError("invalid_client", "Client authentication not allowed for non-OAuth session");
    }

    /// How long after its rotation (the revoked token's updated_at) the parent of the active token still
    /// gets the active token back: the reuse interval, but at least <see cref="ParentWindowFloor"/>, so a
    /// reuse interval of 0 (our default) keeps concurrent tabs and a lost response working. GoTrue has no
    /// bound here (internal/tokens/service.go); docs/differences.md.
    internal static TimeSpan ParentWindow(RefreshOptions options) =>
        TimeSpan.FromSeconds(Math.Max(options.ReuseIntervalSeconds, ParentWindowFloor.TotalSeconds));

    internal static readonly TimeSpan ParentWindowFloor = TimeSpan.FromSeconds(10);

    static DateTime Utc(DateTime t) => DateTime.SpecifyKind(t, DateTimeKind.Utc);

    /// `tokenUpdatedAt` is the v1 token's updated_at (null for v2 tokens, which have no row).
    /// `needsMfa`: the user has a verified factor (GoTrue's highest possible AAL is aal2).
    static void CheckValidity(RefreshQueries.SessionRow session, DateTime? tokenUpdatedAt, RefreshOptions options, DateTime now,
        bool needsMfa)
    {
        if (Invalidity(session, tokenUpdatedAt, options, now, needsMfa) is { } message) throw Expired(message);
    }

    /// GoTrue `Session.CheckValidity`: null when valid, else the refresh error's message.
    static string? Invalidity(RefreshQueries.SessionRow session, DateTime? tokenUpdatedAt, RefreshOptions options, DateTime now,
        bool needsMfa)
    {
        if (session.NotAfter is { } notAfter && now > Utc(notAfter))
            return "Invalid Refresh Token: Session Expired";
        if (options.Timebox is { } timebox && now > Utc(session.CreatedAt) + timebox)
            return "Invalid Refresh Token: Session Expired";
        if (options.InactivityTimeout is { } inactivity && now > LastRefreshedAt(session, tokenUpdatedAt) + inactivity)
            return "Invalid Refresh Token: Session Expired (Inactivity)";
        // GOTRUE_SESSIONS_ALLOW_LOW_AAL: an aal1 session of a user who has MFA lasts only that long.
        if (options.AllowLowAal is { } lowAal && needsMfa && session.Aal is null or "aal1" && now > Utc(session.CreatedAt) + lowAal)
            return "Invalid Refresh Token: Session Expired (Low AAL: User Needs MFA Verification)";
        return null;
    }

    /// GoTrue `Session.LastRefreshedAt`: refreshed_at, else the token's updated_at if newer than creation.
    static DateTime LastRefreshedAt(RefreshQueries.SessionRow session, DateTime? tokenUpdatedAt) =>
        session.RefreshedAt is { } r ? Utc(r)
        : tokenUpdatedAt is { } t && Utc(t) > Utc(session.CreatedAt) ? Utc(t) : Utc(session.CreatedAt);

    /// GOTRUE_SESSIONS_SINGLE_PER_USER, as GoTrue's refresh grant: a session may refresh only while no other
    /// still-valid session of the user with the same tag (GOTRUE_SESSIONS_TAGS) was refreshed, or created,
    /// more recently. So a new sign-in ends the older sessions at their next refresh; nothing is deleted
    /// and no audit row is written for them, as in GoTrue.
    internal static async Task EnsureNewestSessionAsync(NpgsqlConnection conn, RefreshQueries.SessionRow session,
        DateTime? tokenUpdatedAt, RefreshOptions options, DateTime now, bool needsMfa, CancellationToken ct)
    {
        if (!options.SinglePerUser) return;
        var tag = SessionTag(session, options.Tags);
        var mine = LastRefreshedAt(session, tokenUpdatedAt);
        foreach (var other in await RefreshQueries.LockOtherSessionsAsync(conn, session.UserId, session.Id, ct))
            if (Invalidity(other, null, options, now, needsMfa) is null && SessionTag(other, options.Tags) == tag
                && LastRefreshedAt(other, null) > mine)
                throw Expired("Invalid Refresh Token: Session Expired (Revoked by Newer Login)");
    }

    /// GoTrue `Session.DetermineTag`: with tags configured, a session's own tag when it is one of them,
    /// else the first; without tags, every session is in one group.
    static string SessionTag(RefreshQueries.SessionRow session, IReadOnlyList<string> tags) =>
        tags.Count == 0 ? "" : session.Tag is { Length: > 0 } t && tags.Contains(t) ? t : tags[0];

    static ApiError Expired(string message) => ApiError.BadRequest(ErrorCode.SessionExpired, message);

    // jwt.md §5.1: v1 tokens are exactly 12 chars of [a-z0-9].
    [GeneratedRegex("^[a-z0-9]{12}$")]
    private static partial Regex V1Format();
}
