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
        public DateTime CreatedAt { get; init; }
        public DateTime? RefreshedAt { get; init; }
        public DateTime? NotAfter { get; init; }
    }

    internal sealed class TokenRow
    {
        public long Id { get; init; }
        public string Token { get; init; } = "";
        public bool Revoked { get; init; }
        public DateTime UpdatedAt { get; init; }
        public string? Parent { get; init; }
    }

    internal sealed record State(TokenRow? Token, TokenRow? Active, UserRow? User, List<IdentityRow> Identities, List<AmrEntry> Amr);

    /// Locks the token's session row (waiting at most 5 s, then 409, so a stuck refresh can't pile up) and
    /// loads everything the grant needs, in one round trip. The statements run in order, so the reads after
    /// the lock see what the previous holder of the lock committed. Session null: no token, or an orphan.
    public static async Task<(SessionRow? Session, State State)> LockAndLoadAsync(NpgsqlConnection conn, string token,
        CancellationToken ct)
    {
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            set local lock_timeout = '5s';
            select s.id, s.created_at, s.refreshed_at, s.not_after
            from auth.sessions s
            where s.id = (select rt.session_id from auth.refresh_tokens rt
                          where rt.token = @token and rt.instance_id = '00000000-0000-0000-0000-000000000000')
            for update;
            select id, token, revoked, updated_at, parent from auth.refresh_tokens where token = @token;
            select id, token, revoked, updated_at, parent from auth.refresh_tokens
            where session_id = (select session_id from auth.refresh_tokens where token = @token) and revoked = false
            order by id desc limit 1;
            select {UserQueries.Columns} from auth.users u join auth.sessions s on s.user_id = u.id
            where s.id = (select session_id from auth.refresh_tokens where token = @token);
            select {UserQueries.IdentityColumns} from auth.identities i join auth.sessions s on s.user_id = i.user_id
            where s.id = (select session_id from auth.refresh_tokens where token = @token) order by i.created_at, i.id;
            select authentication_method, updated_at from auth.mfa_amr_claims
            where session_id = (select session_id from auth.refresh_tokens where token = @token)
            order by updated_at desc;
            """, new { token }, cancellationToken: ct));
        var session = await grid.ReadSingleOrDefaultAsync<SessionRow>();
        var tokenRow = await grid.ReadSingleOrDefaultAsync<TokenRow>();
        var active = await grid.ReadSingleOrDefaultAsync<TokenRow>();
        var user = await grid.ReadSingleOrDefaultAsync<UserRow>();
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        var amr = (await grid.ReadAsync<(string Method, DateTime UpdatedAt)>())
            .Select(a => new AmrEntry(a.Method, a.UpdatedAt)).ToList();
        return (session, new State(tokenRow, active, user, identities, amr));
    }

    /// A token whose session is gone is deleted (GoTrue does the same); false when there is no such token.
    public static async Task<bool> DeleteOrphanTokenAsync(NpgsqlConnection conn, string token, CancellationToken ct) =>
        await conn.ExecuteAsync(new CommandDefinition(
            "delete from auth.refresh_tokens where token = @token and instance_id = '00000000-0000-0000-0000-000000000000'",
            new { token }, cancellationToken: ct)) > 0;

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
                now, tokenId = token.Id, next, userId = user.Id.ToString(), userGuid = user.Id, parent = token.Token,
                sessionId, userAgent, ip,
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
                now, sessionId, userAgent, ip, userGuid = user.Id,
                payload = AuditLog.Payload(user, AuditAction.TokenRefreshed),
            }, cancellationToken: ct));

    public static Task RevokeFamilyAsync(NpgsqlConnection conn, Guid sessionId, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.refresh_tokens set revoked = true, updated_at = @now where session_id = @sessionId and revoked = false",
            new { sessionId, now }, cancellationToken: ct));
}
