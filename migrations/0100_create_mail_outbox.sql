-- Transactional outbox for email (issue 3). A message row commits in the same transaction as the
-- one-time token it carries; a background sender claims rows with FOR UPDATE SKIP LOCKED and a lease
-- (locked_until), talks SMTP with no connection held, then deletes the row. The rendered body holds a
-- live OTP, so it is stored encrypted (AES-GCM, key derived from GOTRUE_JWT_SECRET) and deleted once sent.
create table authserver.mail_outbox (
    id              bigint generated always as identity primary key,
    kind            text        not null,
    recipient       text        not null,
    payload         bytea       not null,
    attempts        integer     not null default 0,
    next_attempt_at timestamptz not null,
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz not null
);

create index mail_outbox_due_idx on authserver.mail_outbox (next_attempt_at);

-- Wrong OTP attempts per code (GoTrue has no cap; we allow 5). Keyed by the stored token hash, so a new
-- code starts from zero; counted with an atomic upsert.
create table authserver.otp_failures (
    token_hash text        primary key,
    user_id    uuid        not null references auth.users (id) on delete cascade,
    failures   integer     not null,
    updated_at timestamptz not null
);

create index otp_failures_user_id_idx on authserver.otp_failures (user_id);
