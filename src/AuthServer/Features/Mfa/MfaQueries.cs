using AuthServer.Data;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Mfa;

internal static class MfaQueries
{
    internal sealed class ChallengeRow
    {
        public Guid Id { get; init; }
        public Guid FactorId { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime? VerifiedAt { get; init; }
        public string IpAddress { get; init; } = "";
    }

    internal sealed class TotpStateRow
    {
        public long? LastUsedStep { get; init; }
        public int FailedAttempts { get; init; }
        public DateTime? FailuresStartedAt { get; init; }
    }

    /// The caller's factor (GoTrue `FindOwnedFactorByID`); another user's factor is "not found".
    public static Task<FactorRow?> FindOwnedFactorAsync(NpgsqlConnection conn, Guid userId, Guid factorId, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<FactorRow>(new CommandDefinition(
            $"select {FactorRow.Columns} from auth.mfa_factors f where f.id = @factorId and f.user_id = @userId",
            new { factorId, userId }, cancellationToken: ct));

    public static Task<string?> SecretAsync(NpgsqlConnection conn, Guid factorId, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
            "select secret from auth.mfa_factors where id = @factorId", new { factorId }, cancellationToken: ct));

    /// The secret rewritten under the current encryption key (GoTrue re-encrypts on use, mfa.go verifyTOTPFactor).
    public static Task UpdateSecretAsync(NpgsqlConnection conn, Guid factorId, string secret, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "update auth.mfa_factors set secret = @secret where id = @factorId", new { factorId, secret }, cancellationToken: ct));

    public static Task<FactorRow?> LockFactorAsync(NpgsqlConnection conn, Guid factorId, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<FactorRow>(new CommandDefinition(
            $"select {FactorRow.Columns} from auth.mfa_factors f where f.id = @factorId for update",
            new { factorId }, cancellationToken: ct));

    /// `sessions.aal` of the caller's session (GoTrue `Session.IsAAL2`); null without a session.
    public static Task<string?> SessionAalAsync(NpgsqlConnection conn, Guid? sessionId, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
            "select aal::text from auth.sessions where id = @sessionId",
            new { sessionId = sessionId ?? Guid.Empty }, cancellationToken: ct));

    /// GoTrue `DeleteExpiredFactors`: unverified factors never challenged, older than the factor expiry,
    /// of every user (GoTrue sweeps them all on each enrolment).
    public static Task DeleteExpiredFactorsAsync(NpgsqlConnection conn, DateTime cutoff, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            delete from auth.mfa_factors f
            where f.status <> 'verified' and f.created_at < @cutoff
              and not exists (select 1 from auth.mfa_challenges c where c.factor_id = f.id)
            """, new { cutoff }, cancellationToken: ct));

    public static async Task<List<FactorRow>> FactorsOfAsync(NpgsqlConnection conn, Guid userId, CancellationToken ct) =>
        (await conn.QueryAsync<FactorRow>(new CommandDefinition(
            $"select {FactorRow.Columns} from auth.mfa_factors f where f.user_id = @userId order by f.created_at, f.id",
            new { userId }, cancellationToken: ct))).AsList();

    public static Task InsertTotpFactorAsync(NpgsqlConnection conn, Guid id, Guid userId, string friendlyName,
        string secret, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
            values (@id, @userId, @friendlyName, 'totp', 'unverified', @now, @now, @secret)
            """, new { id, userId, friendlyName, secret, now }, cancellationToken: ct));

    /// GoTrue `WriteChallengeToDatabase`: the challenge row and the factor's `last_challenged_at`.
    public static Task InsertChallengeAsync(NpgsqlConnection conn, Guid id, Guid factorId, string ip, DateTime now,
        CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.mfa_challenges (id, factor_id, created_at, ip_address)
            values (@id, @factorId, @now, coalesce(nullif(@ip, '')::inet, '0.0.0.0'::inet));
            update auth.mfa_factors set last_challenged_at = @now where id = @factorId;
            """, new { id, factorId, ip, now }, cancellationToken: ct));

    public static Task<ChallengeRow?> LockChallengeAsync(NpgsqlConnection conn, Guid factorId, Guid challengeId,
        CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<ChallengeRow>(new CommandDefinition(
            """
            select id, factor_id, created_at, verified_at, host(ip_address) as ip_address
            from auth.mfa_challenges where id = @challengeId and factor_id = @factorId
            for update
            """, new { challengeId, factorId }, cancellationToken: ct));

    public static Task DeleteChallengeAsync(NpgsqlConnection conn, Guid challengeId, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "delete from auth.mfa_challenges where id = @challengeId", new { challengeId }, cancellationToken: ct));

    /// The factor's replay/attempt row, created on first use and locked for this transaction.
    public static Task<TotpStateRow> LockTotpStateAsync(NpgsqlConnection conn, Guid factorId, CancellationToken ct) =>
        conn.QuerySingleAsync<TotpStateRow>(new CommandDefinition(
            """
            insert into authserver.mfa_totp_state (factor_id) values (@factorId) on conflict (factor_id) do nothing;
            select last_used_step, failed_attempts, failures_started_at from authserver.mfa_totp_state
            where factor_id = @factorId for update;
            """, new { factorId }, cancellationToken: ct));

    public static Task RecordFailureAsync(NpgsqlConnection conn, Guid factorId, bool newWindow, DateTime now,
        CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update authserver.mfa_totp_state
            set failed_attempts = case when @newWindow then 1 else failed_attempts + 1 end,
                failures_started_at = case when @newWindow then @now else failures_started_at end
            where factor_id = @factorId
            """, new { factorId, newWindow, now }, cancellationToken: ct));

    /// A verified TOTP code: challenge consumed, factor verified, step remembered, failures forgotten.
    public static Task MarkVerifiedAsync(NpgsqlConnection conn, Guid factorId, Guid challengeId, long step, DateTime now,
        CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.mfa_challenges set verified_at = @now where id = @challengeId;
            update auth.mfa_factors set status = 'verified', updated_at = @now where id = @factorId and status <> 'verified';
            update authserver.mfa_totp_state set last_used_step = @step, failed_attempts = 0, failures_started_at = null
            where factor_id = @factorId;
            """, new { factorId, challengeId, step, now }, cancellationToken: ct));

    /// After an MFA verification (GoTrue verifyTOTPFactor): the user's sessions below aal2 end, and other
    /// unverified factors of the same type are dropped.
    public static Task AfterVerificationAsync(NpgsqlConnection conn, Guid userId, string factorType, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            delete from auth.sessions where user_id = @userId and aal < 'aal2';
            delete from auth.mfa_factors where user_id = @userId and status = 'unverified' and factor_type = @factorType::auth.factor_type;
            """, new { userId, factorType }, cancellationToken: ct));

    /// GoTrue `UnenrollFactor`: the factor (and its challenges) go; sessions that reached aal2 with it
    /// lose its AMR claim and fall back to aal1 (`DowngradeSessionsToAAL1`).
    public static Task DeleteFactorAsync(NpgsqlConnection conn, FactorRow factor, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            delete from auth.mfa_factors where id = @factorId;
            delete from auth.mfa_amr_claims
            where authentication_method = @amrMethod
              and session_id in (select id from auth.sessions where factor_id = @factorId);
            update auth.sessions set aal = 'aal1', factor_id = null where user_id = @userId and factor_id = @factorId;
            """, new { factorId = factor.Id, amrMethod = AmrMethod(factor.FactorType), userId = factor.UserId }, cancellationToken: ct));

    /// GoTrue models/factor.go `amrMethodForFactorType`: the AMR method a verification of this factor type adds.
    public static string AmrMethod(string factorType) => factorType switch
    {
        "phone" => "mfa/phone",
        "webauthn" => "mfa/webauthn",
        _ => factorType,
    };
}
