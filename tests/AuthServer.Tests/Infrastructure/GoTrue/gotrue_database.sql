-- A database as GoTrue (supabase/auth) leaves it, for the adoption tests. Applied after
-- migrations/0001_create_auth_schema.sql (whose DDL is GoTrue's final shape, schema.md), it adds what
-- 0001 leaves out — GoTrue's own bookkeeping table auth.schema_migrations with the versions a current
-- Supabase project records — and seeds rows the way GoTrue writes them: nil instance_id, '' in empty
-- token columns, NULL email/phone when absent, bcrypt hashes made by Go's x/crypto/bcrypt, v1 and v2
-- refresh tokens, encrypted-string columns (GOTRUE_SECURITY_DB_ENCRYPTION_*).
--
-- Known secrets (tests only):
--   password of every user with a hash: 'allmine' — hash from golang.org/x/crypto/bcrypt's
--     TestBcryptingIsCorrect vector, $2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga
--   encryption key id 'fixture-key-1' = X3RphuIuCIdjfBpXtowPS2aUHJg2hrEyQBFaHejKBW8 (base64url, 32 bytes)
--   pending@example.com's mailed OTP '123456' (confirmation_token = hex sha224(email || otp))
--   Bob's and Frank's TOTP factors: secret JBSWY3DPEHPK3PXP (Frank's encrypted, HKDF info = the factor id)
--   the project's JWT secret, for API keys and access tokens minted against this dump (tests/e2e/lib/adopt.sh):
--     'super-secret-jwt-token-with-at-least-32-characters-long' (the Supabase CLI's default)
-- The ciphertexts and v2 refresh tokens were produced with Python's `cryptography` (HKDF-SHA256 with
-- info = row id, AES-256-GCM) and a separate encoder, not with AuthServer's code.

create table auth.schema_migrations (
    version varchar(255) not null,
    constraint schema_migrations_pkey primary key (version)
);
comment on table auth.schema_migrations is 'Auth: Manages updates to the auth system.';

-- The first seven come from the Supabase Postgres image's init scripts, '00' onward from
-- supabase/auth migrations/ (file names without the _name.up.sql suffix).
insert into auth.schema_migrations (version) values
    ('20171026211738'),
    ('20171026211808'),
    ('20171026211834'),
    ('20180103212743'),
    ('20180108183307'),
    ('20180119214651'),
    ('20180125194653'),
    ('00'),
    ('20210710035447'),
    ('20210722035447'),
    ('20210730183235'),
    ('20210909172000'),
    ('20210927181326'),
    ('20211122151130'),
    ('20211124214934'),
    ('20211202183645'),
    ('20220114185221'),
    ('20220114185340'),
    ('20220224000811'),
    ('20220323170000'),
    ('20220429102000'),
    ('20220531120530'),
    ('20220614074223'),
    ('20220811173540'),
    ('20221003041349'),
    ('20221003041400'),
    ('20221011041400'),
    ('20221020193600'),
    ('20221021073300'),
    ('20221021082433'),
    ('20221027105023'),
    ('20221114143122'),
    ('20221114143410'),
    ('20221125140132'),
    ('20221208132122'),
    ('20221215195500'),
    ('20221215195800'),
    ('20221215195900'),
    ('20230116124310'),
    ('20230116124412'),
    ('20230131181311'),
    ('20230322519590'),
    ('20230402418590'),
    ('20230411005111'),
    ('20230508135423'),
    ('20230523124323'),
    ('20230818113222'),
    ('20230914180801'),
    ('20231027141322'),
    ('20231114161723'),
    ('20231117164230'),
    ('20240115144230'),
    ('20240214120130'),
    ('20240306115329'),
    ('20240314092811'),
    ('20240427152123'),
    ('20240612123726'),
    ('20240729123726'),
    ('20240802193726'),
    ('20240806073726'),
    ('20241009103726'),
    ('20250717082212'),
    ('20250731150234'),
    ('20250804100000'),
    ('20250901200500'),
    ('20250903112500'),
    ('20250904133000'),
    ('20250925093508'),
    ('20251007112900'),
    ('20251104100000'),
    ('20251111201300'),
    ('20251201000000'),
    ('20260115000000'),
    ('20260121000000'),
    ('20260219120000'),
    ('20260302000000');

-- ---------------------------------------------------------------------------------------------------
-- Users
-- ---------------------------------------------------------------------------------------------------
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, invited_at,
    confirmation_token, confirmation_sent_at, recovery_token, recovery_sent_at, email_change_token_new, email_change,
    email_change_sent_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at,
    updated_at, phone, phone_confirmed_at, phone_change, phone_change_token, email_change_token_current,
    email_change_confirm_status, banned_until, reauthentication_token, is_sso_user, deleted_at, is_anonymous)
values
-- alice: confirmed email user with metadata GoTrue would store verbatim.
('00000000-0000-0000-0000-000000000000', '11111111-1111-4111-8111-111111111111', 'authenticated', 'authenticated',
 'alice@example.com', '$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga',
 '2024-03-01 10:00:00+00', null, '', null, '', null, '', '', null, '2024-06-01 09:00:00+00',
 '{"provider": "email", "providers": ["email"], "roles": ["admin", "billing"], "tenant": {"id": 42, "plan": null}}',
 $json${"sub": "11111111-1111-4111-8111-111111111111", "email": "alice@example.com", "email_verified": true,
  "phone_verified": false, "display name": "Älîçé 🚀 \"the\" \\ admin", "line\nbreak": "\u2028\t",
  "big": 123456789012345678901234567890, "precise": 0.1000000000000000055511151231257827,
  "tiny": 1e-300, "neg": -0.0, "nested": {"list": [1, 2.5, null, true, "x", [], {}], "deep": {"a": {"b": {"c": [[]]}}}},
  "": "empty key", "html": "<script>alert(1)</script>"}$json$,
 null, '2024-03-01 09:59:00+00', '2024-06-01 09:00:00+00', null, null, '', '', '', 0, null, '', false, null, false),
-- bob: email + password, linked Google identity, verified TOTP factor.
('00000000-0000-0000-0000-000000000000', '22222222-2222-4222-8222-222222222222', 'authenticated', 'authenticated',
 'bob@example.com', '$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga',
 '2024-03-02 10:00:00+00', null, '', null, '', null, '', '', null, '2024-06-02 09:00:00+00',
 '{"provider": "email", "providers": ["email", "google"]}',
 '{"iss": "https://accounts.google.com", "sub": "109876543210987654321", "name": "Bob Builder", "email": "bob@example.com", "picture": "https://lh3.googleusercontent.com/a/bob", "full_name": "Bob Builder", "avatar_url": "https://lh3.googleusercontent.com/a/bob", "provider_id": "109876543210987654321", "email_verified": true, "phone_verified": false}',
 null, '2024-03-02 09:59:00+00', '2024-06-02 09:00:00+00', null, null, '', '', '', 0, null, '', false, null, false),
-- carol: signed up, confirmation mail pending (OTP 123456).
('00000000-0000-0000-0000-000000000000', '33333333-3333-4333-8333-333333333333', 'authenticated', 'authenticated',
 'pending@example.com', '$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga',
 null, null, '55a158e72c3f5bd1797c64eb7627b585e4dd0b76974f7188a7b969f5', now(), '', null, '', '', null, null,
 '{"provider": "email", "providers": ["email"]}',
 '{"sub": "33333333-3333-4333-8333-333333333333", "email": "pending@example.com", "email_verified": false, "phone_verified": false}',
 null, now(), now(), null, null, '', '', '', 0, null, '', false, null, false),
-- dave: banned until the year 2999.
('00000000-0000-0000-0000-000000000000', '44444444-4444-4444-8444-444444444444', 'authenticated', 'authenticated',
 'banned@example.com', '$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga',
 '2024-03-04 10:00:00+00', null, '', null, '', null, '', '', null, '2024-03-04 10:00:00+00',
 '{"provider": "email", "providers": ["email"]}',
 '{"sub": "44444444-4444-4444-8444-444444444444", "email": "banned@example.com", "email_verified": true, "phone_verified": false}',
 null, '2024-03-04 09:59:00+00', '2024-05-01 00:00:00+00', null, null, '', '', '', 0, '2999-01-01 00:00:00+00', '',
 false, null, false),
-- erin: soft-deleted by GoTrue (admin delete with should_soft_delete): email obfuscated, secrets cleared.
('00000000-0000-0000-0000-000000000000', '55555555-5555-4555-8555-555555555555', 'authenticated', 'authenticated',
 '7b8c0d2e9a1f4c3b5d6e7f8091a2b3c4d5e6f708@deleted.example.com', '',
 '2024-03-05 10:00:00+00', null, '', null, '', null, '', '', null, '2024-03-05 10:00:00+00',
 '{}', '{}', null, '2024-03-05 09:59:00+00', '2024-05-05 00:00:00+00', null, null, '', '', '', 0, null, '', false,
 '2024-05-05 00:00:00+00', false),
-- frank: password stored as an encrypted string (GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT=true).
('00000000-0000-0000-0000-000000000000', '66666666-6666-4666-8666-666666666666', 'authenticated', 'authenticated',
 'frank@example.com',
 '{"key_id":"fixture-key-1","alg":"aes-gcm-hkdf","data":"ExIq2BzCcubDvkiqLVYtZhJOwHK4/p8QvHrP0zlOiPv5kj2L333z6ljyfIIJHb1ithkZK9/6/dmgIEi1mVQ8RNB/MGS9+18biXmOoA==","nonce":"CngAlZFyLMhIJcqV"}',
 '2024-03-06 10:00:00+00', null, '', null, '', null, '', '', null, '2024-06-06 09:00:00+00',
 '{"provider": "email", "providers": ["email"]}',
 '{"sub": "66666666-6666-4666-8666-666666666666", "email": "frank@example.com", "email_verified": true, "phone_verified": false}',
 null, '2024-03-06 09:59:00+00', '2024-06-06 09:00:00+00', null, null, '', '', '', 0, null, '', false, null, false);

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at, id)
values
('11111111-1111-4111-8111-111111111111', '11111111-1111-4111-8111-111111111111',
 '{"sub": "11111111-1111-4111-8111-111111111111", "email": "alice@example.com", "email_verified": false, "phone_verified": false}',
 'email', '2024-03-01 09:59:00+00', '2024-03-01 09:59:00+00', '2024-03-01 09:59:00+00', 'a1000000-0000-4000-8000-000000000001'),
('22222222-2222-4222-8222-222222222222', '22222222-2222-4222-8222-222222222222',
 '{"sub": "22222222-2222-4222-8222-222222222222", "email": "bob@example.com", "email_verified": false, "phone_verified": false}',
 'email', '2024-03-02 09:59:00+00', '2024-03-02 09:59:00+00', '2024-03-02 09:59:00+00', 'b1000000-0000-4000-8000-000000000001'),
('109876543210987654321', '22222222-2222-4222-8222-222222222222',
 '{"iss": "https://accounts.google.com", "sub": "109876543210987654321", "name": "Bob Builder", "email": "bob@example.com", "picture": "https://lh3.googleusercontent.com/a/bob", "full_name": "Bob Builder", "avatar_url": "https://lh3.googleusercontent.com/a/bob", "provider_id": "109876543210987654321", "email_verified": true, "phone_verified": false}',
 'google', '2024-06-02 09:00:00+00', '2024-04-02 12:00:00+00', '2024-06-02 09:00:00+00', 'b1000000-0000-4000-8000-000000000002'),
('33333333-3333-4333-8333-333333333333', '33333333-3333-4333-8333-333333333333',
 '{"sub": "33333333-3333-4333-8333-333333333333", "email": "pending@example.com", "email_verified": false, "phone_verified": false}',
 'email', null, now(), now(), 'c1000000-0000-4000-8000-000000000001'),
('44444444-4444-4444-8444-444444444444', '44444444-4444-4444-8444-444444444444',
 '{"sub": "44444444-4444-4444-8444-444444444444", "email": "banned@example.com", "email_verified": false, "phone_verified": false}',
 'email', '2024-03-04 09:59:00+00', '2024-03-04 09:59:00+00', '2024-03-04 09:59:00+00', 'd1000000-0000-4000-8000-000000000001'),
('7b8c0d2e9a1f4c3b5d6e7f8091a2b3c4d5e6f708', '55555555-5555-4555-8555-555555555555', '{}',
 'email', '2024-03-05 09:59:00+00', '2024-03-05 09:59:00+00', '2024-05-05 00:00:00+00', 'e1000000-0000-4000-8000-000000000001'),
('66666666-6666-4666-8666-666666666666', '66666666-6666-4666-8666-666666666666',
 '{"sub": "66666666-6666-4666-8666-666666666666", "email": "frank@example.com", "email_verified": false, "phone_verified": false}',
 'email', '2024-03-06 09:59:00+00', '2024-03-06 09:59:00+00', '2024-03-06 09:59:00+00', 'f1000000-0000-4000-8000-000000000001');

insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at)
values ('c2000000-0000-4000-8000-000000000001', '33333333-3333-4333-8333-333333333333', 'confirmation_token',
        '55a158e72c3f5bd1797c64eb7627b585e4dd0b76974f7188a7b969f5', 'pending@example.com', now() at time zone 'utc',
        now() at time zone 'utc');

insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
values
('b2000000-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'Authenticator', 'totp', 'verified',
 '2024-04-01 00:00:00+00', '2024-04-01 00:00:00+00', 'JBSWY3DPEHPK3PXP'),
('f0000000-0000-4000-8000-000000000002', '66666666-6666-4666-8666-666666666666', '', 'totp', 'verified',
 '2024-04-01 00:00:00+00', '2024-04-01 00:00:00+00',
 '{"key_id":"fixture-key-1","alg":"aes-gcm-hkdf","data":"1WOFT5OxLbK0usSg1aKApikLm6fAWqkktrClNMV/Bfs=","nonce":"D1+SRQCk1wO5pIAw"}');

-- ---------------------------------------------------------------------------------------------------
-- Sessions and refresh tokens. Created "now" so the default validity rules keep them usable.
-- ---------------------------------------------------------------------------------------------------
insert into auth.sessions (id, user_id, created_at, updated_at, factor_id, aal, not_after, refreshed_at, user_agent,
    ip, tag, refresh_token_hmac_key, refresh_token_counter)
values
-- alice, v1 tokens: one rotation already happened.
('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', now() - interval '2 hours',
 now() - interval '1 hour', null, 'aal1', null, (now() - interval '1 hour') at time zone 'utc', 'Mozilla/5.0', '203.0.113.7', null, null, null),
-- alice, v2 token at counter 3.
('aaaaaaaa-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', now() - interval '2 hours',
 now() - interval '1 hour', null, 'aal1', null, (now() - interval '1 hour') at time zone 'utc', 'Mozilla/5.0', '203.0.113.7', null,
 'W-M5VLyOL7sosmVXIRMCRKjkQNuZcCDyV0Gx4LKO5eo', 3),
-- bob, v1.
('bbbbbbbb-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', now() - interval '1 hour',
 now() - interval '1 hour', null, 'aal1', null, null, 'supabase-js', '198.51.100.4', null, null, null),
-- dave (banned), v1.
('dddddddd-0000-4000-8000-000000000001', '44444444-4444-4444-8444-444444444444', now() - interval '1 hour',
 now() - interval '1 hour', null, 'aal1', null, null, null, null, null, null, null),
-- frank, v2 with the HMAC key stored as an encrypted string, counter 0.
('ffffffff-0000-4000-8000-000000000003', '66666666-6666-4666-8666-666666666666', now() - interval '1 hour',
 now() - interval '1 hour', null, 'aal1', null, null, null, null, null,
 '{"key_id":"fixture-key-1","alg":"aes-gcm-hkdf","data":"MOzGpvfSyo7H4hwoX499h0oGusjYOPr4Bzlj1Wiy4MhikKlhdKE0g39/cdjuM+GT/PZSk05gHWj9TuI=","nonce":"Ym4eO2k1xmosirnI"}', 0);

insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
values
('00000000-0000-0000-0000-000000000000', 'fixtureoldaa', '11111111-1111-4111-8111-111111111111', true,
 now() - interval '2 hours', now() - interval '1 hour', '', 'aaaaaaaa-0000-4000-8000-000000000001'),
('00000000-0000-0000-0000-000000000000', 'fixtureactiv', '11111111-1111-4111-8111-111111111111', false,
 now() - interval '1 hour', now() - interval '1 hour', 'fixtureoldaa', 'aaaaaaaa-0000-4000-8000-000000000001'),
('00000000-0000-0000-0000-000000000000', 'bobtokenaaaa', '22222222-2222-4222-8222-222222222222', false,
 now() - interval '1 hour', now() - interval '1 hour', '', 'bbbbbbbb-0000-4000-8000-000000000001'),
('00000000-0000-0000-0000-000000000000', 'davetokenaaa', '44444444-4444-4444-8444-444444444444', false,
 now() - interval '1 hour', now() - interval '1 hour', '', 'dddddddd-0000-4000-8000-000000000001');

insert into auth.mfa_amr_claims (session_id, created_at, updated_at, authentication_method, id)
values
('aaaaaaaa-0000-4000-8000-000000000001', now() - interval '2 hours', now() - interval '2 hours', 'password', 'a3000000-0000-4000-8000-000000000001'),
('aaaaaaaa-0000-4000-8000-000000000002', now() - interval '2 hours', now() - interval '2 hours', 'password', 'a3000000-0000-4000-8000-000000000002'),
('bbbbbbbb-0000-4000-8000-000000000001', now() - interval '1 hour', now() - interval '1 hour', 'oauth', 'b3000000-0000-4000-8000-000000000001'),
('dddddddd-0000-4000-8000-000000000001', now() - interval '1 hour', now() - interval '1 hour', 'password', 'd3000000-0000-4000-8000-000000000001'),
('ffffffff-0000-4000-8000-000000000003', now() - interval '1 hour', now() - interval '1 hour', 'password', 'f3000000-0000-4000-8000-000000000001');

insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
values ('00000000-0000-0000-0000-000000000000', 'a4000000-0000-4000-8000-000000000001',
 '{"action":"login","actor_id":"11111111-1111-4111-8111-111111111111","actor_username":"alice@example.com","actor_via_sso":false,"log_type":"account","traits":{"provider":"email"}}',
 now() - interval '2 hours', '203.0.113.7');
