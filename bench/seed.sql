-- Seeds the benchmark database (run by bench/run.sh after the server applied its migrations).
--   psql -v users=N -v hash='<bcrypt cost-10 hash of bench-password-1>' -f bench/seed.sql
-- Deterministic rows so wrk scripts, minted tokens and pgbench scripts address them by an integer n:
--   user n:          id md5('u'||n)::uuid, email user<n>@bench.local, confirmed, password bench-password-1
--   identity n:      the user's email identity
--   session n:       id md5('s'||n)::uuid of user n, with its AMR claim (password)
--   refresh token n: substr(md5('t'||n),1,12) (12 chars of [0-9a-f], a valid v1 token) in session n
-- Every user shares one hash: the bcrypt work per verification depends on the cost only, not on the salt.
-- Sessions 1..users/2 belong to the server's refresh flow, users/2+1..users to the pgbench refresh floors,
-- so neither revokes the other's tokens.
\set ON_ERROR_STOP on
begin;
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, confirmation_token,
    recovery_token, email_change_token_new, email_change, last_sign_in_at, raw_app_meta_data, raw_user_meta_data,
    is_super_admin, created_at, updated_at, is_anonymous)
select '00000000-0000-0000-0000-000000000000', md5('u' || n)::uuid, 'authenticated', 'authenticated',
       'user' || n || '@bench.local', :'hash', now(), '', '', '', '', now(),
       '{"provider": "email", "providers": ["email"]}'::jsonb,
       jsonb_build_object('sub', md5('u' || n)::uuid::text, 'email', 'user' || n || '@bench.local',
                          'email_verified', true, 'phone_verified', false),
       false, now(), now(), false
from generate_series(1, :users) n;
insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select md5('u' || n)::uuid::text, md5('u' || n)::uuid,
       jsonb_build_object('sub', md5('u' || n)::uuid::text, 'email', 'user' || n || '@bench.local',
                          'email_verified', true, 'phone_verified', false),
       'email', now(), now(), now()
from generate_series(1, :users) n;
insert into auth.sessions (id, user_id, created_at, updated_at, aal, refreshed_at, user_agent, ip)
select md5('s' || n)::uuid, md5('u' || n)::uuid, now(), now(), 'aal1', now()::timestamp, 'bench', '127.0.0.1'
from generate_series(1, :users) n;
insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
select gen_random_uuid(), md5('s' || n)::uuid, now(), now(), 'password' from generate_series(1, :users) n;
insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
select '00000000-0000-0000-0000-000000000000', substr(md5('t' || n), 1, 12), md5('u' || n)::uuid::text, false,
       now(), now(), '', md5('s' || n)::uuid
from generate_series(1, :users) n;
commit;
vacuum analyze;
