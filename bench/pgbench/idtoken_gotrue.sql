-- id-token sign-in of a returning user (POST /token?grant_type=id_token), statement by statement: GoTrue's
-- internal/api/token_oidc.go → createAccountFromExternalIdentity (identity by provider id, identity data refresh,
-- providers in app metadata, the user with its identities, login audit, issueRefreshToken) with the statements of
-- our path (src/AuthServer/Features/Token/IdTokenGrant.cs, IdTokenQueries.cs — the used-token record is ours,
-- beyond GoTrue —, Features/Identity/ExternalAccounts.cs ResolveAsync, Sessions/SessionIssuer.cs). The JWT
-- signature check is CPU in the server, not here. Seeded identities n > users/2 stand in for the OIDC ones.
\set n random(:users / 2 + 1, :users)
BEGIN;
DELETE FROM authserver.used_id_tokens WHERE expires_at < now();
INSERT INTO authserver.used_id_tokens (token_sha256, expires_at) VALUES (md5(random()::text) || md5(random()::text), now() + interval '1 hour') ON CONFLICT (token_sha256) DO NOTHING;
SELECT * FROM auth.identities WHERE provider_id = md5('u' || :n)::uuid::text AND provider = 'email' FOR UPDATE;
UPDATE auth.identities SET identity_data = identity_data || '{"email_verified": true}'::jsonb, last_sign_in_at = now(), updated_at = now() WHERE provider_id = md5('u' || :n)::uuid::text AND provider = 'email';
UPDATE auth.users u SET raw_app_meta_data = coalesce(u.raw_app_meta_data, '{}'::jsonb) || jsonb_build_object('providers', p.list), updated_at = now()
  FROM (SELECT coalesce(jsonb_agg(provider ORDER BY provider), '[]'::jsonb) AS list FROM auth.identities WHERE user_id = md5('u' || :n)::uuid) p WHERE u.id = md5('u' || :n)::uuid;
SELECT * FROM auth.users WHERE id = md5('u' || :n)::uuid;
SELECT * FROM auth.identities WHERE user_id = md5('u' || :n)::uuid;
INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), '{"action":"login"}', now(), '127.0.0.1');
INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip) VALUES (gen_random_uuid(), md5('u' || :n)::uuid, now(), now(), 'aal1', 'bench', '127.0.0.1') RETURNING id AS sid \gset
INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
  VALUES ('00000000-0000-0000-0000-000000000000', substr(md5(random()::text), 1, 12), md5('u' || :n)::uuid::text, false, now(), now(), '', ':sid'::uuid);
INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method) VALUES (gen_random_uuid(), ':sid'::uuid, now(), now(), 'oauth');
UPDATE auth.users SET last_sign_in_at = now(), updated_at = now() WHERE id = md5('u' || :n)::uuid;
COMMIT;
