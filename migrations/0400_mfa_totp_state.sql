-- 0400: AuthServer's own per-factor TOTP state (not a GoTrue table, hence the authserver schema).
--
-- GoTrue accepts a TOTP code again on a new challenge while it is still inside its ±30 s window, and
-- limits verification attempts only per client IP (and only when GOTRUE_RATE_LIMIT_HEADER is set).
-- This row refuses a code whose time step was already used on the factor (RFC 6238 §5.2) and counts
-- failed verifications per factor per minute, in the database so every replica sees the same count.
-- Deleting the factor deletes its row.

create table authserver.mfa_totp_state (
    factor_id           uuid primary key references auth.mfa_factors (id) on delete cascade,
    last_used_step      bigint,
    failed_attempts     integer not null default 0,
    failures_started_at timestamptz
);

comment on table authserver.mfa_totp_state is
    'AuthServer: last TOTP time step accepted per factor (replay refusal) and failed-attempt window.';
