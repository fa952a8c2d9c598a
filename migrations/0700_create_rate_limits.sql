-- Rate-limit token buckets shared by every replica (issue 9). One row per bucket and key (e.g.
-- `signup:203.0.113.7`, `email_sent`); a missing row is a full bucket, so rows whose bucket has refilled
-- (`expires_at` passed) are deleted without changing any decision.
create table authserver.rate_limit_buckets (
    key        text primary key,
    tokens     double precision not null,
    allowed    boolean not null,
    updated_at timestamptz not null,
    expires_at timestamptz not null
);

create index rate_limit_buckets_expires_at_idx on authserver.rate_limit_buckets (expires_at);

comment on table authserver.rate_limit_buckets is
    'AuthServer rate-limit buckets (token bucket per key); rows past expires_at are full buckets and may be deleted.';
