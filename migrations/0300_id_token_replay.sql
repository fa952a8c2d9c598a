-- Beyond GoTrue (security-tests I5): an ID token is accepted by grant_type=id_token at most once.
-- Keyed by the SHA-256 of the token; a row lives until the token's own expiry, then it is useless anyway.
create table if not exists authserver.used_id_tokens (
    token_sha256 text primary key,
    expires_at   timestamptz not null
);
create index if not exists used_id_tokens_expires_at_idx on authserver.used_id_tokens (expires_at);
