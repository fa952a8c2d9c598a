using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Security;
using AuthServer.Sessions;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Token;

internal static class RefreshQueries
{
    internal sealed class SessionRow
    {
        public Guid Id { get; init; }
        public Guid UserId { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime? RefreshedAt { get; init; }
        public DateTime? NotAfter { get; init; }
        /// v2 refresh tokens (jwt.md §5.1): base64url key or an encrypted string; null for v1-only sessions.
        public string? RefreshTokenHmacKey { get; init; }
        public long? RefreshTokenCounter { get; init; }
        /// GOTRUE_SESSIONS_TAGS: the session's tag (GoTrue never sets it; a platform may).
        public string? Tag { get; init; }
        public string? Aal { get; init; }
        /// OAuth 2.1 server sessions (Features/OAuthServer): the client they were issued to and the granted scopes.
        public Guid? OauthClientId { get; init; }
        public string? Scopes { get; init; }
    }

    internal const string SessionColumns =
        "s.id, s.user_id, s.created_at, s.refreshed_at, s.not_after, s.refresh_token_hmac_key, s.refresh_token_counter, s.tag, s.aal::text as aal, " +
        "s.oauth_client_id, s.scopes";

    /// GoTrue `User.HighestPossibleAAL`: aal2 once the user has a verified factor.
    public static Task<bool> HasVerifiedFactorAsync(NpgsqlConnection conn, Guid userId, CancellationToken ct) =>
        conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select 1 from auth.mfa_factors where user_id = @userId and status = 'verified')",
            new { userId }, cancellationToken: ct));

    /// GOTRUE_SESSIONS_SINGLE_PER_USER: the user's other sessions. A per-user transaction lock first, so
    /// two sessions of one user refreshing at once are decided one after the other (GoTrue locks them all
    /// FOR UPDATE); only this row's own lock is held besides, so it cannot deadlock.
    public static async Task<List<SessionRow>> LockOtherSessionsAsync(NpgsqlConnection conn, Guid userId, Guid sessionId, CancellationToken ct)
    {
        await conn.ExecuteAsync(new CommandDefinition(
            "select pg_advisory_xact_lock(hashtextextended('single_per_user:' || @userId::text, 0))",
            new { userId }, cancellationToken: ct));
        return (await conn.QueryAsync<SessionRow>(new CommandDefinition(
            $"select {SessionColumns} from auth.sessions s where s.user_id = @userId and s.id <> @sessionId",
            new { userId, sessionId }, cancellationToken: ct))).AsList();
    }

    internal sealed class TokenRow
    {
        public long Id { get; init; }
        public string Token { get; init; } = "";
        public bool Revoked { get; init; }
        public DateTime UpdatedAt { get; init; }
        public string? Parent { get; init; }
    }

    internal sealed record State(TokenRow? Token, TokenRow? Active, UserRow? User, List<IdentityRow> Identities, List<AmrEntry> Amr,
        List<FactorRow> Factors);

    /// Locks the token's session row; waits at most 5 s (then 409), so a stuck refresh can't pile up.
    public static Task<SessionRow?> LockSessionByTokenAsync(NpgsqlConnection conn, string token, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<SessionRow>(new CommandDefinition(
            $"""
            set local lock_timeout = '5s';
            select {SessionColumns}
            from auth.sessions s
            where s.id = (select rt.session_id from auth.refresh_tokens rt
                          where rt.token = @token and rt.instance_id = '00000000-0000-0000-0000-000000000000')
            for update;
            """, new { token }, cancellationToken: ct));

    /// A token whose session is gone is deleted (GoTrue does the same); false when there is no such token.
    public static async Task<bool> DeleteOrphanTokenAsync(NpgsqlConnection conn, string token, CancellationToken ct) =>
        await conn.ExecuteAsync(new CommandDefinition(
            "delete from auth.refresh_tokens where token = @token and instance_id = '00000000-0000-0000-0000-000000000000'",
            new { token }, cancellationToken: ct)) > 0;

    /// Everything the grant needs once the session is locked, in one round trip.
    public static async Task<State> LoadAsync(NpgsqlConnection conn, string token, Guid sessionId, CancellationToken ct)
    {
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            select id, token, revoked, updated_at, parent from auth.refresh_tokens where token = @token;
            select id, token, revoked, updated_at, parent from auth.refresh_tokens
            where session_id = @sessionId and revoked = false order by id desc limit 1;
            select {UserQueries.Columns} from auth.users u join auth.sessions s on s.user_id = u.id where s.id = @sessionId;
            select {UserQueries.IdentityColumns} from auth.identities i join auth.sessions s on s.user_id = i.user_id
            where s.id = @sessionId order by i.created_at, i.id;
            select authentication_method, updated_at from auth.mfa_amr_claims where session_id = @sessionId
            order by updated_at desc;
            select {FactorRow.Columns} from auth.mfa_factors f join auth.sessions s on s.user_id = f.user_id
            where s.id = @sessionId order by f.created_at, f.id;
            """, new { token, sessionId }, cancellationToken: ct));
        var tokenRow = await grid.ReadSingleOrDefaultAsync<TokenRow>();
        var active = await grid.ReadSingleOrDefaultAsync<TokenRow>();
        var user = await grid.ReadSingleOrDefaultAsync<UserRow>();
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        var amr = (await grid.ReadAsync<(string Method, DateTime UpdatedAt)>())
            .Select(a => new AmrEntry(a.Method, a.UpdatedAt)).ToList();
        var factors = (await grid.ReadAsync<FactorRow>()).AsList();
        return new State(tokenRow, active, user, identities, amr, factors);
    }

    /// Revoke the presented token and issue its child, with both audit rows, in one round trip.
    public static async Task<string> SwapAsync(NpgsqlConnection conn, UserRow user, TokenRow token, Guid sessionId,
        DateTime now, string ip, string? userAgent, CancellationToken ct)
    {
        var next = Secrets.NewRefreshToken();
        await conn.ExecuteAsync(new CommandDefinition(
            $"""
            update auth.refresh_tokens set revoked = true, updated_at = @now where id = @tokenId;
            insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
            values ('00000000-0000-0000-0000-000000000000', @next, @userId, false, @now, @now, @parent, @sessionId);
            update auth.sessions set refreshed_at = @now, updated_at = @now, user_agent = @userAgent,
                ip = nullif(@ip, '')::inet where id = @sessionId;
            update auth.users set last_sign_in_at = @now, updated_at = @now where id = @userGuid;
            {AuditLog.InsertSql.Replace("@payload", "@revokedPayload")};
            {AuditLog.InsertSql.Replace("@payload", "@refreshedPayload")};
            """,
            new
            {
                now,
                tokenId = token.Id,
                next,
                userId = user.Id.ToString(),
                userGuid = user.Id,
                parent = token.Token,
                sessionId,
                userAgent,
                ip,
                revokedPayload = AuditLog.Payload(user, AuditAction.TokenRevoked),
                refreshedPayload = AuditLog.Payload(user, AuditAction.TokenRefreshed),
            }, cancellationToken: ct));
        return next;
    }

    public static Task TouchSessionAsync(NpgsqlConnection conn, UserRow user, Guid sessionId, DateTime now, string ip,
        string? userAgent, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            $"""
            update auth.sessions set refreshed_at = @now, updated_at = @now, user_agent = @userAgent,
                ip = nullif(@ip, '')::inet where id = @sessionId;
            update auth.users set last_sign_in_at = @now, updated_at = @now where id = @userGuid;
            {AuditLog.InsertSql};
            """,
            new
            {
                now,
                sessionId,
                userAgent,
                ip,
                userGuid = user.Id,
                payload = AuditLog.Payload(user, AuditAction.TokenRefreshed),
            }, cancellationToken: ct));

    public static Task RevokeFamilyAsync(NpgsqlConnection conn, Guid sessionId, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.refresh_tokens set revoked = true, updated_at = @now where session_id = @sessionId and revoked = false",
            new { sessionId, now }, cancellationToken: ct));
}

/// Statements of the v2 refresh path and of the v1 → v2 upgrade (jwt.md §5.2).
internal static class RefreshV2Queries
{
    /// Locks the session row itself (v2 tokens name their session); same 5 s bound as v1.
    public static Task<RefreshQueries.SessionRow?> LockSessionAsync(NpgsqlConnection conn, Guid sessionId, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<RefreshQueries.SessionRow>(new CommandDefinition(
            $"""
            set local lock_timeout = '5s';
            select {RefreshQueries.SessionColumns}
            from auth.sessions s where s.id = @sessionId
            for update;
            """, new { sessionId }, cancellationToken: ct));

    public static async Task<(UserRow? User, List<IdentityRow> Identities, List<AmrEntry> Amr)> LoadAsync(
        NpgsqlConnection conn, RefreshQueries.SessionRow session, CancellationToken ct)
    {
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            select {UserQueries.Columns} from auth.users u
            where u.id = @userId and u.instance_id = '00000000-0000-0000-0000-000000000000';
            select {UserQueries.IdentityColumns} from auth.identities i where i.user_id = @userId order by i.created_at, i.id;
            select authentication_method, updated_at from auth.mfa_amr_claims where session_id = @sessionId
            order by updated_at desc;
            """, new { userId = session.UserId, sessionId = session.Id }, cancellationToken: ct));
        var user = await grid.ReadSingleOrDefaultAsync<UserRow>();
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        var amr = (await grid.ReadAsync<(string Method, DateTime UpdatedAt)>())
            .Select(a => new AmrEntry(a.Method, a.UpdatedAt)).ToList();
        return (user, identities, amr);
    }

    /// Stores the counter of the token being handed out and the refresh info, with the audit row.
    public static Task AdvanceAsync(NpgsqlConnection conn, UserRow user, Guid sessionId, long counter, DateTime now,
        string ip, string? userAgent, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            $"""
            update auth.sessions set refresh_token_counter = @counter, refreshed_at = @now, updated_at = @now,
                user_agent = @userAgent, ip = nullif(@ip, '')::inet
            where id = @sessionId;
            {AuditLog.InsertSql};
            """,
            new
            {
                counter,
                now,
                sessionId,
                userAgent,
                ip,
                payload = AuditLog.Payload(user, AuditAction.TokenRefreshed),
            }, cancellationToken: ct));

    /// Reuse outside the allowed cases with rotation on: the whole session goes (cascades to its AMR rows).
    public static Task DeleteSessionAsync(NpgsqlConnection conn, Guid sessionId, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition("delete from auth.sessions where id = @sessionId",
            new { sessionId }, cancellationToken: ct));

    /// v1 → v2 upgrade: the v1 token just issued is revoked and the session gets (or advances) its key/counter.
    public static Task UpgradeAsync(NpgsqlConnection conn, Guid sessionId, string revokedV1Token, string storedKey,
        long counter, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.refresh_tokens set revoked = true where token = @revokedV1Token and session_id = @sessionId;
            update auth.sessions set refresh_token_hmac_key = @storedKey, refresh_token_counter = @counter
            where id = @sessionId;
            """, new { sessionId, revokedV1Token, storedKey, counter }, cancellationToken: ct));
}
