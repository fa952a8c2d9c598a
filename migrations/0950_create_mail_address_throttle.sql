-- Beyond GoTrue (security-tests E2, R2): the per-address mail interval (GOTRUE_SMTP_MAX_FREQUENCY) also for
-- requests that send nothing — /recover for an unknown address, /resend with nothing pending — so a second
-- request within the interval answers 429 whether or not the address has an account. Known addresses keep
-- using auth.users.*_sent_at. Keyed by the SHA-256 of kind + address: unknown addresses are not stored.
create table authserver.mail_address_throttle (
    key     text primary key,
    sent_at timestamptz not null
);

create index mail_address_throttle_sent_at_idx on authserver.mail_address_throttle (sent_at);
