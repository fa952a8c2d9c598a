using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;

namespace AuthServer.Features.Token;

/// v2 refresh tokens (jwt.md §5.2, GoTrue internal/tokens/service.go `RefreshTokenGrant`): the token
/// names its session and a counter; the session row holds the HMAC key and the counter of the last
/// token handed out. As for v1, the session row is locked first, so concurrent refreshes of one
/// session run one after another and converge on the same string.
internal static partial class RefreshTokenGrant
{
    static async Task<JsonObject> HandleV2Async(HttpContext http, RefreshTokenV2 presented, CancellationToken ct)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<RefreshOptions>();
        var encryption = services.GetRequiredService<ColumnEncryption>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;

        var db = services.GetRequiredService<NpgsqlDataSource>();
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);

        RefreshQueries.SessionRow? session;
        try
        {
            session = await RefreshV2Queries.LockSessionAsync(conn, presented.SessionId, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw ApiError.Conflict(ErrorCode.Conflict,
                "Too many concurrent token refresh requests on the same session or refresh token");
        }
        // No session, a session without v2 data, or a bad HMAC: all "not found" (jwt.md §5.1).
        var key = session is { RefreshTokenCounter: not null, RefreshTokenHmacKey: { } stored }
            ? Base64Url.TryDecode(encryption.Reveal(stored, session.Id) ?? "")
            : null;
        if (session is null || key is null || !presented.HasValidSignature(key))
            throw ApiError.BadRequest(ErrorCode.RefreshTokenNotFound, "Invalid Refresh Token: Refresh Token Not Found");

        var (user, identities, amr) = await RefreshV2Queries.LoadAsync(conn, session, ct);
        if (user is null)
            throw ApiError.BadRequest(ErrorCode.RefreshTokenNotFound, "Invalid Refresh Token: Refresh Token Not Found");
        if (user.IsBanned(new DateTimeOffset(now)))
            throw ApiError.BadRequest(ErrorCode.UserBanned, "Invalid Refresh Token: User Banned");
        var needsMfa = options.AllowLowAal is not null && await RefreshQueries.HasVerifiedFactorAsync(conn, user.Id, ct);
        CheckValidity(session, null, options, now, needsMfa);
        CheckOAuthClient(http, session);
        await EnsureNewestSessionAsync(conn, session, null, options, now, needsMfa, ct);

        var current = session.RefreshTokenCounter!.Value;
        var behind = current - presented.Counter;
        long issue;
        if (behind < 0)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Invalid Refresh Token: Not Issued By This Server");
        if (behind == 0)
        {
            issue = current + 1;
        }
        else
        {
            // Reuse: the client lost the previous response (one behind), or several tabs refreshed at
            // once (within the reuse interval of the last refresh): hand back the current token, unchanged.
            var lastRefreshed = DateTime.SpecifyKind(session.RefreshedAt ?? session.CreatedAt, DateTimeKind.Utc);
            var concurrent = (now - lastRefreshed).Duration() < TimeSpan.FromSeconds(options.ReuseIntervalSeconds);
            if (!(behind == 1 || concurrent || options.AllowReuse))
            {
                if (options.RotationEnabled)
                {
                    // Treat as theft: the session and every token of it die; committed before the error.
                    await RefreshV2Queries.DeleteSessionAsync(conn, session.Id, ct);
                    await tx.CommitAsync(ct);
                }
                throw ApiError.BadRequest(ErrorCode.RefreshTokenAlreadyUsed, "Invalid Refresh Token: Already Used");
            }
            issue = current;
        }

        await RefreshV2Queries.AdvanceAsync(conn, user, session.Id, issue, now, ClientInfo.Ip(http),
            ClientInfo.UserAgent(http), ct);
        // Minted inside the transaction, as for v1: a failing access token hook rolls the advance back.
        var issuer = services.GetRequiredService<SessionIssuer>();
        var response = await issuer.ResponseAsync(conn, user, identities, session.Id, amr,
            RefreshTokenV2.Encode(session.Id, issue, key), now, "token_refresh", ct, oauthClientId: session.OauthClientId,
            scopes: session.Scopes);
        await tx.CommitAsync(ct);
        return response;
    }

    /// GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION=2 with an upgrade percentage: the v1 token just
    /// issued by a swap is revoked again and a v2 token for the same session returned instead.
    static async Task<string> MaybeUpgradeAsync(NpgsqlConnection conn, RefreshQueries.SessionRow session, string issuedV1,
        RefreshOptions options, ColumnEncryption encryption, CancellationToken ct)
    {
        if (!options.IssuesV2 || options.UpgradePercentage == 0) return issuedV1;
        if (options.UpgradePercentage < 100 && UpgradeBucket(session.Id) >= options.UpgradePercentage) return issuedV1;

        byte[] key;
        string stored;
        long counter;
        if (session.RefreshTokenHmacKey is { } existing && session.RefreshTokenCounter is { } previous
            && Base64Url.TryDecode(encryption.Reveal(existing, session.Id) ?? "") is { } decoded)
        {
            (key, stored, counter) = (decoded, existing, previous + 1);
        }
        else
        {
            key = RefreshTokenV2.NewKey();
            (stored, counter) = (encryption.Protect(Base64Url.Encode(key), session.Id), 0);
        }
        await RefreshV2Queries.UpgradeAsync(conn, session.Id, issuedV1, stored, counter, ct);
        return RefreshTokenV2.Encode(session.Id, counter, key);
    }

    /// A session's fixed place in [0, 100): the percentage selects sessions, not requests. GoTrue seeds
    /// Go's math/rand with the CRC-32 of the id; any stable spread serves, so the sets of sessions
    /// selected by GoTrue and by us differ.
    static int UpgradeBucket(Guid sessionId) =>
        (int)(BinaryPrimitives.ReadUInt32BigEndian(SHA256.HashData(sessionId.ToByteArray(bigEndian: true))) % 100);
}
