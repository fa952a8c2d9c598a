-- GoTrue legacy refresh (internal/tokens/service.go RefreshTokenGrant): pre-check reads, then a tx locking token and
-- session (FOR UPDATE SKIP LOCKED), re-reading the user, 2 audit rows, revoke, insert, users and sessions updates.
\set n random(:users / 2 + 1, :users)
SELECT * FROM auth.refresh_tokens WHERE token = substr(md5('t' || :n), 1, 12) AND instance_id = '00000000-0000-0000-0000-000000000000' LIMIT 1;
SELECT * FROM auth.users WHERE id = md5('u' || :n)::uuid LIMIT 1;
SELECT * FROM auth.sessions WHERE id = md5('s' || :n)::uuid LIMIT 1;
BEGIN;
SELECT * FROM auth.refresh_tokens WHERE token = substr(md5('t' || :n), 1, 12) LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM auth.users WHERE id = md5('u' || :n)::uuid LIMIT 1;
SELECT * FROM auth.sessions WHERE id = md5('s' || :n)::uuid LIMIT 1 FOR UPDATE SKIP LOCKED;
INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"token_refreshed"}', now(), '127.0.0.1');
INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"token_revoked"}', now(), '127.0.0.1');
UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE token = substr(md5('t' || :n), 1, 12);
INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
  VALUES ('00000000-0000-0000-0000-000000000000', substr(md5(random()::text), 1, 12), md5('u' || :n)::uuid::text, false, now(), now(), substr(md5('t' || :n), 1, 12), md5('s' || :n)::uuid);
UPDATE auth.users SET last_sign_in_at = now(), updated_at = now() WHERE id = md5('u' || :n)::uuid;
UPDATE auth.sessions SET refreshed_at = now()::timestamp, updated_at = now(), user_agent = 'bench', ip = '127.0.0.1' WHERE id = md5('s' || :n)::uuid;
COMMIT;
