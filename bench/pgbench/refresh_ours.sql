-- Our refresh grant's round trips (src/AuthServer/Features/Token/RefreshTokenGrant.cs + RefreshQueries.cs):
-- BEGIN + lock the session by token + load token, active token, user, identities, AMR; swap (revoke, insert,
-- session, user, 2 audit rows); COMMIT. 3 round trips.
\set n random(:users / 2 + 1, :users)
BEGIN \;
set local lock_timeout = '5s' \;
select s.id, s.created_at, s.refreshed_at, s.not_after from auth.sessions s
  where s.id = (select rt.session_id from auth.refresh_tokens rt where rt.token = substr(md5('t' || :n), 1, 12) and rt.instance_id = '00000000-0000-0000-0000-000000000000') for update \;
select id, token, revoked, updated_at, parent from auth.refresh_tokens where token = substr(md5('t' || :n), 1, 12) \;
select id, token, revoked, updated_at, parent from auth.refresh_tokens where session_id = md5('s' || :n)::uuid and revoked = false order by id desc limit 1 \;
select u.id, u.aud, u.role, u.email, u.encrypted_password, u.email_confirmed_at, u.invited_at, u.phone, u.phone_confirmed_at, u.confirmation_sent_at, u.confirmed_at, u.recovery_sent_at, u.email_change, u.email_change_sent_at, u.phone_change, u.phone_change_sent_at, u.reauthentication_sent_at, u.last_sign_in_at, u.raw_app_meta_data::text, u.raw_user_meta_data::text, u.created_at, u.updated_at, u.banned_until, u.deleted_at, u.is_anonymous, u.is_sso_user from auth.users u join auth.sessions s on s.user_id = u.id where s.id = md5('s' || :n)::uuid \;
select i.id, i.provider_id, i.user_id, i.identity_data::text, i.provider, i.last_sign_in_at, i.created_at, i.updated_at, i.email from auth.identities i join auth.sessions s on s.user_id = i.user_id where s.id = md5('s' || :n)::uuid order by i.created_at, i.id \;
select authentication_method, updated_at from auth.mfa_amr_claims where session_id = md5('s' || :n)::uuid order by updated_at desc;
update auth.refresh_tokens set revoked = true, updated_at = now() where token = substr(md5('t' || :n), 1, 12) \;
insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
  values ('00000000-0000-0000-0000-000000000000', substr(md5(random()::text), 1, 12), md5('u' || :n)::uuid::text, false, now(), now(), substr(md5('t' || :n), 1, 12), md5('s' || :n)::uuid) \;
update auth.sessions set refreshed_at = now()::timestamp, updated_at = now(), user_agent = 'bench', ip = '127.0.0.1' where id = md5('s' || :n)::uuid \;
update auth.users set last_sign_in_at = now(), updated_at = now() where id = md5('u' || :n)::uuid \;
insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"token_revoked"}', now(), '127.0.0.1') \;
insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"token_refreshed"}', now(), '127.0.0.1');
COMMIT;
