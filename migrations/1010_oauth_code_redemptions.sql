-- Beyond GoTrue (issue 16, RFC 9700 §4.2.1 / OAuth 2.1 §4.1.3): an authorization code of the OAuth 2.1 server
-- is single-use, and presenting it again revokes what it issued. GoTrue deletes the authorization on
-- redemption and so cannot tell a replay from a made-up code; this remembers which session each redeemed
-- code started, keyed by the code's SHA-256. The row goes with its session; stale ones are swept on insert.
create table if not exists authserver.oauth_code_redemptions (
    code_sha256 text primary key,
    session_id  uuid not null references auth.sessions (id) on delete cascade,
    redeemed_at timestamptz not null
);
create index if not exists oauth_code_redemptions_redeemed_at_idx on authserver.oauth_code_redemptions (redeemed_at);
create index if not exists oauth_code_redemptions_session_id_idx on authserver.oauth_code_redemptions (session_id);
