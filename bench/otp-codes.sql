-- Issues a fresh email OTP (123456) to every otp_verify user, stored the way GoTrue stores a magic-link /
-- recovery code (internal/api/magic_link.go → sendMagicLink, internal/models/one_time_token.go):
--   users.recovery_token = hex SHA-224(email || otp), recovery_sent_at = now(), plus the auth.one_time_tokens
--   row (recovery_token, same hash, relates_to = the email). src/AuthServer/Security/Secrets.cs TokenHashes.Of.
--   psql -v otp_users=K -f bench/otp-codes.sql
\set ON_ERROR_STOP on
begin;
update auth.users set recovery_token = encode(sha224(convert_to(email || '123456', 'UTF8')), 'hex'),
       recovery_sent_at = now()
where id in (select md5('o' || k)::uuid from generate_series(1, :otp_users) k);
delete from auth.one_time_tokens where user_id in (select md5('o' || k)::uuid from generate_series(1, :otp_users) k);
insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at)
select gen_random_uuid(), md5('o' || k)::uuid, 'recovery_token',
       encode(sha224(convert_to('otp' || k || '@bench.local' || '123456', 'UTF8')), 'hex'), 'otp' || k || '@bench.local',
       now(), now()
from generate_series(1, :otp_users) k;
commit;
