-- Email OTP verify (POST /verify type=magiclink with email + token), GoTrue's statement-by-statement shape
-- (internal/api/verify.go verifyPost → verifyUserAndToken, Recover, ClearAllOneTimeTokensForUser, login audit,
-- issueRefreshToken), with the statements of our path (src/AuthServer/Features/Verify/VerifyEndpoints.cs
-- VerifyPostAsync + VerifyQueries.cs, Mail/MailQueries.cs LockUserAsync, Sessions/SessionIssuer.cs): find the
-- user by address, lock it, read its tokens, clear the used code and the user's one-time tokens, audit, then a
-- session, refresh token, AMR claim and last sign-in. One round trip per statement. The code check itself is a
-- string compare in the server; the writes happen whatever the stored value, so users n > users/2 serve.
\set n random(:users / 2 + 1, :users)
BEGIN;
SELECT * FROM auth.users WHERE instance_id = '00000000-0000-0000-0000-000000000000' AND lower(email) = 'user' || :n || '@bench.local' AND aud = 'authenticated' AND is_sso_user = false LIMIT 1;
SELECT * FROM auth.users WHERE id = md5('u' || :n)::uuid AND instance_id = '00000000-0000-0000-0000-000000000000' FOR UPDATE;
SELECT confirmation_token, recovery_token, email_change_token_new, email_change_token_current, email_change_confirm_status, reauthentication_token FROM auth.users WHERE id = md5('u' || :n)::uuid;
UPDATE auth.users SET recovery_token = '', updated_at = now() WHERE id = md5('u' || :n)::uuid;
INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"login"}', now(), '127.0.0.1');
DELETE FROM auth.one_time_tokens WHERE user_id = md5('u' || :n)::uuid;
INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip) VALUES (gen_random_uuid(), md5('u' || :n)::uuid, now(), now(), 'aal1', 'bench', '127.0.0.1') RETURNING id AS sid \gset
INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
  VALUES ('00000000-0000-0000-0000-000000000000', substr(md5(random()::text), 1, 12), md5('u' || :n)::uuid::text, false, now(), now(), '', ':sid'::uuid);
INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) VALUES (gen_random_uuid(), ':sid'::uuid, now(), now(), 'otp');
UPDATE auth.users SET last_sign_in_at = now(), updated_at = now() WHERE id = md5('u' || :n)::uuid;
SELECT * FROM auth.identities WHERE user_id = md5('u' || :n)::uuid;
COMMIT;
