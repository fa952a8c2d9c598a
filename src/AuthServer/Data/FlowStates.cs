using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Data;

/// PKCE parameters of a request (api.md §5.2); null when the request uses the implicit flow.
internal sealed record PkceParams(string Challenge, string Method)
{
    /// GoTrue `validatePKCEParams`: both or neither; 43–128 unreserved characters; `s256` or `plain`
    /// (case-insensitive, stored lowercase).
    public static PkceParams? From(string? challenge, string? method)
    {
        challenge ??= "";
        method ??= "";
        if ((challenge.Length == 0) != (method.Length == 0))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "PKCE flow requires code_challenge_method and code_challenge");
        if (challenge.Length == 0) return null;
        if (challenge.Length is < 43 or > 128)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "code challenge has to be between 43 and 128 characters");
        if (!FlowStates.ChallengeChars().IsMatch(challenge))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed,
                "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes");
        var lower = method.ToLowerInvariant();
        if (lower is not ("s256" or "plain"))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"unsupported code_challenge method \"{method}\"");
        return new PkceParams(challenge, lower);
    }
}

/// An `auth.flow_state` row (GoTrue `models.FlowState`), for email PKCE flows (`FlowStates`) and OAuth
/// (`Features/External/FlowStateQueries`, which also reads the provider-side verifier from
/// `auth.oauth_client_states`). Each query selects the columns it needs.
internal sealed class FlowStateRow
{
    public Guid Id { get; init; }
    public Guid? UserId { get; init; }
    public string? AuthCode { get; init; }
    public string? CodeChallengeMethod { get; init; }
    public string? CodeChallenge { get; init; }
    public string ProviderType { get; init; } = "";
    public string? ProviderAccessToken { get; init; }
    public string? ProviderRefreshToken { get; init; }
    public DateTime? CreatedAt { get; init; }
    public string AuthenticationMethod { get; init; } = "";
    public DateTime? AuthCodeIssuedAt { get; init; }
    public string? InviteToken { get; init; }
    public string? Referrer { get; init; }
    public Guid? OauthClientStateId { get; init; }
    public Guid? LinkingTargetId { get; init; }
    public string? CodeVerifier { get; init; }

    public bool IsPkce => !string.IsNullOrEmpty(CodeChallenge);
}

/// `auth.flow_state` rows of PKCE flows (GoTrue internal/models/flow_state.go).
internal static partial class FlowStates
{
    const string Columns = """
        id, user_id, auth_code, code_challenge_method::text as code_challenge_method, code_challenge, provider_type,
        provider_access_token, provider_refresh_token, created_at, authentication_method, auth_code_issued_at
        """;

    public static Task CreateAsync(NpgsqlConnection conn, Guid userId, PkceParams pkce, string providerType,
        string authenticationMethod, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
                created_at, updated_at, authentication_method)
            values (gen_random_uuid(), @userId, gen_random_uuid()::text, @method::auth.code_challenge_method, @challenge,
                @providerType, @now, @now, @authenticationMethod)
            """, new { userId, method = pkce.Method, challenge = pkce.Challenge, providerType, authenticationMethod, now },
            cancellationToken: ct));

    /// GoTrue `issueAuthCode`: the newest flow of the user for that method gets `auth_code_issued_at`.
    public static Task<string?> IssueAuthCodeAsync(NpgsqlConnection conn, Guid userId, string authenticationMethod,
        DateTime now, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
            """
            update auth.flow_state set auth_code_issued_at = @now, updated_at = @now
            where id = (select id from auth.flow_state where user_id = @userId and authentication_method = @authenticationMethod
                        order by created_at desc limit 1)
            returning auth_code
            """, new { userId, authenticationMethod, now }, cancellationToken: ct));

    /// Locks the flow for the exchange; a concurrent exchange of the same code waits here and then finds
    /// the row gone, so a code works exactly once.
    public static Task<FlowStateRow?> LockByAuthCodeAsync(NpgsqlConnection conn, string authCode, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<FlowStateRow>(new CommandDefinition(
            $"select {Columns} from auth.flow_state where auth_code = @authCode order by created_at desc limit 1 for update",
            new { authCode }, cancellationToken: ct));

    public static Task DeleteAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition("delete from auth.flow_state where id = @id", new { id }, cancellationToken: ct));

    /// RFC 7636 §4.6, compared in constant time.
    public static bool VerifierMatches(FlowStateRow flow, string verifier)
    {
        var expected = flow.CodeChallenge ?? "";
        var actual = flow.CodeChallengeMethod == "s256"
            ? Security.Base64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)))
            : verifier;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(actual));
    }

    [GeneratedRegex("^[A-Za-z0-9._~-]+$")]
    internal static partial Regex ChallengeChars();
}
