-- Our email OTP verify, grouped into the round trips the server makes (src/AuthServer/Features/Verify/
-- VerifyEndpoints.cs VerifyPostAsync, VerifyQueries.cs, Mail/MailQueries.cs, Data/AuditLog.cs,
-- Sessions/SessionIssuer.cs StartAsync): BEGIN, find by address, lock, read tokens, clear recovery, audit,
-- clear one-time tokens + failure counts (1), session CTE + user + identities + factors (1), COMMIT: 9 round trips.
\set n random(:users / 2 + 1, :users)
BEGIN;
SELECT * FROM auth.users u WHERE u.instance_id = '00000000-0000-0000-0000-000000000000' AND lower(u.email) = 'user' || :n || '@bench.local' AND u.aud = 'authenticated' AND u.is_sso_user = false LIMIT 1;
SELECT * FROM auth.users u WHERE u.id = md5('u' || :n)::uuid AND u.instance_id = '00000000-0000-0000-0000-000000000000' FOR UPDATE;
SELECT confirmation_token, recovery_token, email_change_token_new, email_change_token_current, email_change_confirm_status, reauthentication_token FROM auth.users WHERE id = md5('u' || :n)::uuid;
UPDATE auth.users SET recovery_token = '', updated_at = now() WHERE id = md5('u' || :n)::uuid;
INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"login"}', now(), '127.0.0.1');
DELETE FROM auth.one_time_tokens WHERE user_id = md5('u' || :n)::uuid \;
DELETE FROM authserver.otp_failures WHERE user_id = md5('u' || :n)::uuid;
with s as (
    insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
    values (gen_random_uuid(), md5('u' || :n)::uuid, now(), now(), 'aal1', 'bench', '127.0.0.1') returning id
), rt as (
    insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
    select '00000000-0000-0000-0000-000000000000', substr(md5(random()::text), 1, 12), md5('u' || :n)::uuid::text, false, now(), now(), '', id from s
), amr as (
    insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
    select gen_random_uuid(), id, now(), now(), 'otp' from s
), u as (
    update auth.users set last_sign_in_at = now(), updated_at = now() where id = md5('u' || :n)::uuid returning *
)
select * from u \;
select * from auth.identities i where i.user_id = md5('u' || :n)::uuid order by i.created_at, i.id \;
select * from auth.mfa_factors f where f.user_id = md5('u' || :n)::uuid order by f.created_at, f.id;
COMMIT;
