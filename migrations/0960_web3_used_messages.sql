-- Beyond GoTrue: a signed Sign in with Solana / Ethereum message is accepted by grant_type=web3 once.
-- Keyed by the SHA-256 of the message text; a row lives until the message would be refused anyway
-- (its Expiration Time or Issued At + the chain's maximum validity duration).
create table if not exists authserver.used_web3_messages (
    message_sha256 text primary key,
    expires_at     timestamptz not null
);
create index if not exists used_web3_messages_expires_at_idx on authserver.used_web3_messages (expires_at);
