using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Security;
using Dapper;
using Npgsql;

namespace AuthServer.Sessions;

internal sealed partial class SessionIssuer
{
    /// Re-issues the caller's existing session after a second factor (GoTrue `updateMFASessionAndClaims`,
    /// internal/api/token.go): the AMR method is added (a repeated one only bumps its timestamp), the
    /// session's current refresh token is swapped for a child, `sessions.aal`/`factor_id` follow the AMR,
    /// and a token response for the same session_id is minted. Runs inside the caller's transaction.
    public async Task<JsonObject> ReissueAsync(NpgsqlConnection conn, Guid userId, Guid sessionId, string amrMethod,
        Guid factorId, DateTime now, CancellationToken ct)
    {
        var current = await conn.QuerySingleOrDefaultAsync<(long Id, string Token)?>(new CommandDefinition(
            """
            insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
            values (gen_random_uuid(), @sessionId, @now, @now, @amrMethod)
            on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey
            do update set updated_at = excluded.updated_at;
            select id, token from auth.refresh_tokens
            where session_id = @sessionId and instance_id = '00000000-0000-0000-0000-000000000000'
            order by revoked, id desc limit 1
            for update;
            """, new { sessionId, now, amrMethod }, cancellationToken: ct));

        var amr = (await conn.QueryAsync<(string Method, DateTime UpdatedAt)>(new CommandDefinition(
                "select authentication_method, updated_at from auth.mfa_amr_claims where session_id = @sessionId order by updated_at desc",
                new { sessionId }, cancellationToken: ct)))
            .Select(a => new AmrEntry(a.Method, a.UpdatedAt)).ToList();
        var aal = amr.Any(a => IsSecondFactor(a.Method)) ? "aal2" : "aal1";

        // The pre-MFA refresh token is revoked, so only this response's token can mint aal2 tokens.
        var refreshToken = Secrets.NewRefreshToken();
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            update auth.refresh_tokens set revoked = true, updated_at = @now where id = @currentId;
            insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
            values ('00000000-0000-0000-0000-000000000000', @refreshToken, @userIdText, false, @now, @now, @parent, @sessionId);
            update auth.sessions set aal = @aal::auth.aal_level, factor_id = @factorId, updated_at = @now where id = @sessionId;
            select {UserQueries.Columns} from auth.users u where u.id = @userId;
            select {UserQueries.IdentityColumns} from auth.identities i where i.user_id = @userId order by i.created_at, i.id;
            select {FactorRow.Columns} from auth.mfa_factors f where f.user_id = @userId order by f.created_at, f.id;
            """,
            new
            {
                now,
                currentId = current?.Id ?? 0,
                refreshToken,
                userIdText = userId.ToString(),
                userId,
                parent = current?.Token ?? "",
                sessionId,
                aal,
                factorId,
            }, cancellationToken: ct));
        var user = await grid.ReadSingleAsync<UserRow>();
        var identities = (await grid.ReadAsync<IdentityRow>()).AsList();
        var factors = (await grid.ReadAsync<FactorRow>()).AsList();
        if (current is not null)
            await AuditLog.WriteAsync(conn, user, AuditAction.TokenRevoked, "", now, ct);
        return await ResponseAsync(conn, user, identities, sessionId, amr, refreshToken, now, amrMethod, ct, factors);
    }

    /// jwt.md §1: these AMR methods make a session `aal2`.
    public static bool IsSecondFactor(string method) => method is "totp" or "mfa/phone" or "mfa/webauthn";
}
