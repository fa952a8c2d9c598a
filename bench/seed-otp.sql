-- Users of the otp_verify flow (run by bench/run.sh after bench/seed.sql when the flow is selected):
--   psql -v otp_users=K -f bench/seed-otp.sql
--   OTP user k: id md5('o'||k)::uuid, email otp<k>@bench.local, confirmed, with its email identity.
-- Their codes are (re)issued by bench/otp-codes.sql before every measurement: each request consumes one.
\set ON_ERROR_STOP on
begin;
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, confirmation_token,
    recovery_token, email_change_token_new, email_change, raw_app_meta_data, raw_user_meta_data,
    is_super_admin, created_at, updated_at, is_anonymous)
select '00000000-0000-0000-0000-000000000000', md5('o' || k)::uuid, 'authenticated', 'authenticated',
       'otp' || k || '@bench.local', '', now(), '', '', '', '',
       '{"provider": "email", "providers": ["email"]}'::jsonb,
       jsonb_build_object('sub', md5('o' || k)::uuid::text, 'email', 'otp' || k || '@bench.local',
                          'email_verified', true, 'phone_verified', false),
       false, now(), now(), false
from generate_series(1, :otp_users) k;
insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select md5('o' || k)::uuid::text, md5('o' || k)::uuid,
       jsonb_build_object('sub', md5('o' || k)::uuid::text, 'email', 'otp' || k || '@bench.local',
                          'email_verified', true, 'phone_verified', false),
       'email', now(), now(), now()
from generate_series(1, :otp_users) k;
commit;
