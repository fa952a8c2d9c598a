using AuthServer.Data;
using AuthServer.Security;
using AuthServer.Sessions;
using Dapper;
using Npgsql;

namespace AuthServer.Http;

/// The authenticated caller of a user route (GoTrue `requireAuthentication`, api.md §2). Declaring an
/// `AuthUser` parameter on a handler is what makes the route authenticated: binding runs these checks.
internal sealed class AuthUser
{
    public required AccessTokens.Claims Claims { get; init; }
    public required UserRow User { get; init; }
    public required List<IdentityRow> Identities { get; init; }
    public required List<FactorRow> Factors { get; init; }
    public Guid? SessionId { get; init; }

    public static async ValueTask<AuthUser?> BindAsync(HttpContext http)
    {
        var services = http.RequestServices;
        // No bearer token: the cookie-session access token, when cookie mode allows it (Sessions/CookieSessions).
        var token = BearerToken.From(http.Request) ?? CookieSessions.AccessToken(http)
            ?? throw ApiError.Unauthorized(ErrorCode.NoAuthorization, "This endpoint requires a valid Bearer token");
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        if (!services.GetRequiredService<AccessTokens>().TryVerify(token, now, out var claims, out var reason))
            throw ApiError.Forbidden(ErrorCode.BadJwt, "invalid JWT: unable to parse or verify signature, " + reason);

        if (string.IsNullOrEmpty(claims!.Sub))
            throw ApiError.Forbidden(ErrorCode.BadJwt, "invalid claim: missing sub claim");
        if (!Guid.TryParse(claims.Sub, out var userId))
            throw ApiError.BadRequest(ErrorCode.BadJwt, "invalid claim: sub claim must be a UUID");
        Guid? sessionId = null;
        if (claims.SessionId is { Length: > 0 } sid)
        {
            if (!Guid.TryParse(sid, out var parsed))
                throw ApiError.Forbidden(ErrorCode.BadJwt, "invalid claim: session_id claim must be a UUID");
            if (parsed != Guid.Empty) sessionId = parsed;
        }

        var db = services.GetRequiredService<NpgsqlDataSource>();
        await using var conn = await db.OpenConnectionAsync(http.RequestAborted);
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            select {UserQueries.Columns} from auth.users u
            where u.id = @userId and u.instance_id = '00000000-0000-0000-0000-000000000000';
            select {UserQueries.IdentityColumns} from auth.identities i where i.user_id = @userId order by i.created_at, i.id;
            select exists (select 1 from auth.sessions where id = @sessionId);
            select {FactorRow.Columns} from auth.mfa_factors f where f.user_id = @userId order by f.created_at, f.id;
            """, new { userId, sessionId = sessionId ?? Guid.Empty }, cancellationToken: http.RequestAborted));
        var user = await grid.ReadSingleOrDefaultAsync<UserRow>()
            ?? throw ApiError.Forbidden(ErrorCode.UserNotFound, "User from sub claim in JWT does not exist");
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        var sessionExists = await grid.ReadSingleAsync<bool>();
        var factors = (await grid.ReadAsync<FactorRow>()).AsList();
        if (sessionId is not null && !sessionExists)
            throw ApiError.Forbidden(ErrorCode.SessionNotFound, "Session from session_id claim in JWT does not exist");
        if (user.IsBanned(now))
            throw ApiError.Forbidden(ErrorCode.UserBanned, "User is banned");

        return new AuthUser { Claims = claims, User = user, Identities = identities, Factors = factors, SessionId = sessionId };
    }
}
