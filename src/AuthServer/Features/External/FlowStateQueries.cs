using AuthServer.Data;
using Dapper;
using Npgsql;

namespace AuthServer.Features.External;

/// `auth.flow_state` as GoTrue writes it for OAuth (`models.FlowState`, authentication_method `oauth`),
/// so `grant_type=pkce` exchanges OAuth codes like email ones. Rows are `Data/FlowStateRow`.
internal static class FlowStateQueries
{
    /// The flow_state (its id is the OAuth `state`) and the provider-side PKCE verifier in one statement.
    public static Task CreateAsync(NpgsqlConnection conn, Guid id, string provider, string authCode,
        string? codeChallenge, string? codeChallengeMethod, string referrer, string? inviteToken, Guid? linkingTargetId,
        Guid clientStateId, string codeVerifier, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.oauth_client_states (id, provider_type, code_verifier, created_at)
            values (@clientStateId, @provider, @codeVerifier, @now);
            insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
                created_at, updated_at, authentication_method, invite_token, referrer, oauth_client_state_id,
                linking_target_id)
            values (@id, null, @authCode, @codeChallengeMethod::auth.code_challenge_method, @codeChallenge, @provider,
                @now, @now, 'oauth', @inviteToken, @referrer, @clientStateId, @linkingTargetId);
            """,
            new
            {
                id,
                provider,
                authCode,
                codeChallenge,
                codeChallengeMethod,
                referrer,
                inviteToken,
                linkingTargetId,
                clientStateId,
                codeVerifier,
                now,
            }, cancellationToken: ct));

    public static Task<FlowStateRow?> FindAsync(NpgsqlConnection conn, Guid id, bool forUpdate, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<FlowStateRow>(new CommandDefinition(
            $"""
            select f.id, f.user_id, f.auth_code, f.code_challenge_method::text as code_challenge_method, f.code_challenge,
                f.provider_type, f.created_at, f.auth_code_issued_at, f.invite_token, f.referrer,
                f.oauth_client_state_id, f.linking_target_id, c.code_verifier
            from auth.flow_state f left join auth.oauth_client_states c on c.id = f.oauth_client_state_id
            where f.id = @id and f.authentication_method = 'oauth'
            {(forUpdate ? "for update of f" : "")}
            """, new { id }, cancellationToken: ct));

    /// PKCE: the browser gets `?code=`; `grant_type=pkce` later turns it into a session.
    public static Task IssueAuthCodeAsync(NpgsqlConnection conn, Guid id, Guid userId, string? providerAccessToken,
        string? providerRefreshToken, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.flow_state set user_id = @userId, provider_access_token = @providerAccessToken,
                provider_refresh_token = @providerRefreshToken, auth_code_issued_at = @now, updated_at = @now
            where id = @id;
            delete from auth.oauth_client_states
            where id = (select oauth_client_state_id from auth.flow_state where id = @id);
            """, new { id, userId, providerAccessToken, providerRefreshToken, now }, cancellationToken: ct));

    public static Task DeleteAsync(NpgsqlConnection conn, Guid id, Guid? clientStateId, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            delete from auth.flow_state where id = @id;
            delete from auth.oauth_client_states where id = @clientStateId;
            """, new { id, clientStateId }, cancellationToken: ct));

    public static Task<bool> InviteExistsAsync(NpgsqlConnection conn, string inviteToken, CancellationToken ct) =>
        conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select 1 from auth.users where confirmation_token = @inviteToken and invited_at is not null)",
            new { inviteToken }, cancellationToken: ct));
}
