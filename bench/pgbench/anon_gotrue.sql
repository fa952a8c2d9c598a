-- GoTrue anonymous sign-in (internal/api/anonymous.go → signup + session): one statement per round trip.
BEGIN;
INSERT INTO auth.users (instance_id, id, aud, role, raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous)
  VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', '{}', '{}', now(), now(), true) RETURNING id AS uid \gset
INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"user_signedup"}', now(), '127.0.0.1');
INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal) VALUES (gen_random_uuid(), ':uid'::uuid, now(), now(), 'aal1') RETURNING id AS sid \gset
INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
  VALUES ('00000000-0000-0000-0000-000000000000', substr(md5(random()::text), 1, 12), ':uid', false, now(), now(), '', ':sid'::uuid);
UPDATE auth.users SET last_sign_in_at = now(), updated_at = now() WHERE id = ':uid'::uuid;
INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) VALUES (gen_random_uuid(), ':sid'::uuid, now(), now(), 'anonymous');
INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"login"}', now(), '127.0.0.1');
COMMIT;
