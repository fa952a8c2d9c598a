namespace AuthServer.Tests.Infrastructure;

// Columns the tests assert on, read with Dapper (schema.md §2). jsonb and inet are selected as text.

public sealed class UserRow
{
    public Guid? InstanceId { get; init; }
    public Guid Id { get; init; }
    public string? Aud { get; init; }
    public string? Role { get; init; }
    public string? Email { get; init; }
    public string? Phone { get; init; }
    public string? EncryptedPassword { get; init; }
    public DateTime? EmailConfirmedAt { get; init; }
    public DateTime? PhoneConfirmedAt { get; init; }
    public DateTime? ConfirmedAt { get; init; }
    public DateTime? ConfirmationSentAt { get; init; }
    public DateTime? LastSignInAt { get; init; }
    public string? ConfirmationToken { get; init; }
    public string? RecoveryToken { get; init; }
    public string? EmailChangeTokenNew { get; init; }
    public string? EmailChange { get; init; }
    public string? RawAppMetaData { get; init; }
    public string? RawUserMetaData { get; init; }
    public DateTime? CreatedAt { get; init; }
    public DateTime? UpdatedAt { get; init; }
    public bool IsSsoUser { get; init; }
    public bool IsAnonymous { get; init; }

    public const string Select =
        """
        select instance_id, id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at,
               confirmed_at, confirmation_sent_at, last_sign_in_at, confirmation_token, recovery_token,
               email_change_token_new, email_change, raw_app_meta_data::text as raw_app_meta_data,
               raw_user_meta_data::text as raw_user_meta_data, created_at, updated_at, is_sso_user, is_anonymous
        from auth.users
        """;
}

public sealed class IdentityRow
{
    public Guid Id { get; init; }
    public string ProviderId { get; init; } = "";
    public Guid UserId { get; init; }
    public string IdentityData { get; init; } = "";
    public string Provider { get; init; } = "";
    public string? Email { get; init; }
    public DateTime? LastSignInAt { get; init; }
    public DateTime? CreatedAt { get; init; }

    public const string Select =
        """
        select id, provider_id, user_id, identity_data::text as identity_data, provider, email, last_sign_in_at, created_at
        from auth.identities
        """;
}

public sealed class SessionRow
{
    public Guid Id { get; init; }
    public Guid UserId { get; init; }
    public string? Aal { get; init; }
    public string? UserAgent { get; init; }
    public string? Ip { get; init; }
    public DateTime? CreatedAt { get; init; }
    public DateTime? RefreshedAt { get; init; }

    public const string Select =
        """
        select id, user_id, aal::text as aal, user_agent, host(ip) as ip, created_at, refreshed_at
        from auth.sessions
        """;
}

public sealed class RefreshTokenRow
{
    public Guid? InstanceId { get; init; }
    public long Id { get; init; }
    public string Token { get; init; } = "";
    public string? UserId { get; init; }
    public bool Revoked { get; init; }
    public string? Parent { get; init; }
    public Guid? SessionId { get; init; }
    public DateTime? CreatedAt { get; init; }
    public DateTime? UpdatedAt { get; init; }

    public const string Select =
        """
        select instance_id, id, token, user_id, revoked, parent, session_id, created_at, updated_at
        from auth.refresh_tokens
        """;
}
