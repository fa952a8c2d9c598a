-- Our anonymous sign-in (src/AuthServer/Features/Signup/SignupEndpoints.cs AnonymousSignupAsync + SessionIssuer.StartAsync):
-- BEGIN + insert user returning it + audit; session CTE + identities + audit login; COMMIT. 3 round trips.
\set n random(1, 1000000000)
BEGIN \;
insert into auth.users as u (instance_id, id, aud, role, confirmation_token, recovery_token, email_change_token_new, email_change,
    email_change_token_current, phone_change, phone_change_token, reauthentication_token, raw_app_meta_data, raw_user_meta_data,
    is_super_admin, created_at, updated_at, is_anonymous)
  values ('00000000-0000-0000-0000-000000000000', md5('anon' || :n || clock_timestamp())::uuid, 'authenticated', 'authenticated', '', '', '', '', '', '', '', '', '{}'::jsonb, '{}'::jsonb, false, now(), now(), true)
  returning u.id as uid, u.id, u.aud, u.role, u.email, u.encrypted_password, u.email_confirmed_at, u.invited_at, u.phone, u.phone_confirmed_at, u.confirmation_sent_at, u.confirmed_at, u.recovery_sent_at, u.email_change, u.email_change_sent_at, u.phone_change, u.phone_change_sent_at, u.reauthentication_sent_at, u.last_sign_in_at, u.raw_app_meta_data::text, u.raw_user_meta_data::text, u.created_at, u.updated_at, u.banned_until, u.deleted_at, u.is_anonymous, u.is_sso_user \;
insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"user_signedup"}', now(), '127.0.0.1')
\aset
with s as (
    insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
    values (md5('as' || :n || clock_timestamp())::uuid, ':uid'::uuid, now(), now(), 'aal1', 'bench', '127.0.0.1') returning id
), rt as (
    insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
    select '00000000-0000-0000-0000-000000000000', substr(md5(random()::text), 1, 12), ':uid', false, now(), now(), '', id from s
), amr as (
    insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
    select gen_random_uuid(), id, now(), now(), 'anonymous' from s
), u as (
    update auth.users set last_sign_in_at = now(), updated_at = now() where id = ':uid'::uuid returning *
)
select u.id, u.email, u.last_sign_in_at from u \;
select i.id, i.provider_id, i.user_id, i.identity_data::text, i.provider, i.last_sign_in_at, i.created_at, i.updated_at, i.email from auth.identities i where i.user_id = ':uid'::uuid order by i.created_at, i.id \;
insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"login"}', now(), '127.0.0.1');
COMMIT;
