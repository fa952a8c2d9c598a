// The OAuth 2.1 / OpenID Connect provider mode (issue 16, docs/oauth-server.md) against an extra server started
// here (same published dll and database as run.sh) with the OAuth server on, dynamic registration, consent page
// at SITE_URL/oauth/consent, GOTRUE_JWT_ISSUER set to its own /auth/v1 URL and an RS256 signing key (ID tokens
// need an asymmetric key), as local-cli-stack.env configures it.
//  - supabase-js: auth.admin.oauth.* (client CRUD, secret regeneration) and auth.oauth.* (the consent page's
//    authorization details, approve / deny, grants list / revoke).
//  - openid-client (a third-party relying party): discovery, RFC 7591 registration, authorization code + PKCE
//    with the consent step driven by supabase-js, the ID token checked against our JWKS, userinfo, refresh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import * as oidc from 'openid-client';
import ws from 'ws';

const dll = process.env.E2E_AUTHSERVER_DLL;
const databaseUrl = process.env.E2E_DATABASE_URL;
const secret = process.env.SUPABASE_JWT_SECRET;
const anonKey = process.env.SUPABASE_ANON_KEY;
const serviceRoleKey = process.env.SUPABASE_SERVICE_ROLE_KEY;
const skip = !dll || !databaseUrl || !secret ? 'needs run.sh (E2E_AUTHSERVER_DLL, E2E_DATABASE_URL)' : false;

const PASSWORD = 'correct-horse-battery-staple-1';
const SITE = 'http://localhost:3000';
const REDIRECT = 'http://localhost:4000/callback';
let server; // { child, base }

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

async function startAuthServer() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'e2e-oauth-rsa', alg: 'RS256', key_ops: ['sign', 'verify'] };
  const child = spawn('dotnet', [dll], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1',
      GOTRUE_JWT_SECRET: secret, GOTRUE_SITE_URL: SITE, API_EXTERNAL_URL: base,
      GOTRUE_DB_DRIVER: 'postgres', DATABASE_URL: databaseUrl, GOTRUE_API_HOST: '127.0.0.1', PORT: String(port),
      GOTRUE_MAILER_AUTOCONFIRM: 'true', GOTRUE_PASSWORD_HASH_COST: '4', GOTRUE_JWT_AUD: 'authenticated',
      GOTRUE_JWT_ADMIN_ROLES: 'service_role', GOTRUE_JWT_ISSUER: `${base}/auth/v1`,
      GOTRUE_JWT_KEYS: JSON.stringify([jwk]), GOTRUE_JWT_VALID_METHODS: 'HS256,RS256',
      GOTRUE_OAUTH_SERVER_ENABLED: 'true', GOTRUE_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION: 'true',
      GOTRUE_OAUTH_SERVER_AUTHORIZATION_PATH: '/oauth/consent',
      GOTRUE_RATE_LIMIT_TOKEN_REFRESH: '100000', GOTRUE_RATE_LIMIT_EMAIL_SENT: '100000',
      GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED: 'true',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return { child, base };
    } catch { /* not up yet */ }
    if (child.exitCode !== null) throw new Error(`oauth-server instance exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGTERM');
  throw new Error('oauth-server instance did not become healthy');
}

before(async () => {
  if (skip) return;
  server = await startAuthServer();
});

after(() => server?.child.kill('SIGTERM'));

function supabase(key = anonKey) {
  return createClient(server.base, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: ws },
  });
}

/** A signed-in user on the app's consent page. */
async function signedIn() {
  const client = supabase();
  const email = `e2e-oauth-${randomUUID()}@example.com`;
  const { data, error } = await client.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null, error?.message);
  assert.ok(data.session);
  return { client, email, user: data.user };
}

/** The authorization endpoint as a browser follows it: the Location it sends the user to. */
async function authorize(url) {
  const response = await fetch(url, { redirect: 'manual' });
  assert.equal(response.status, 302);
  return new URL(response.headers.get('location'));
}

async function pkce() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
}

test('auth.admin.oauth: create, list, get, update, regenerate the secret, delete', { skip }, async () => {
  const admin = supabase(serviceRoleKey).auth.admin.oauth;

  const created = await admin.createClient({ client_name: 'E2E App', redirect_uris: [REDIRECT] });
  assert.equal(created.error, null, created.error?.message);
  const client = created.data;
  assert.equal(client.client_type, 'confidential');
  assert.equal(client.registration_type, 'manual');
  assert.ok(client.client_secret, 'the secret is shown on create');

  const listed = await admin.listClients();
  assert.equal(listed.error, null);
  assert.ok(listed.data.clients.some((c) => c.client_id === client.client_id));

  const fetched = await admin.getClient(client.client_id);
  assert.equal(fetched.error, null);
  assert.equal(fetched.data.client_secret, undefined, 'never shown again');

  const updated = await admin.updateClient(client.client_id, { client_name: 'Renamed' });
  assert.equal(updated.error, null);
  assert.equal(updated.data.client_name, 'Renamed');

  const regenerated = await admin.regenerateClientSecret(client.client_id);
  assert.equal(regenerated.error, null);
  assert.ok(regenerated.data.client_secret);
  assert.notEqual(regenerated.data.client_secret, client.client_secret);

  const deleted = await admin.deleteClient(client.client_id);
  assert.equal(deleted.error, null);
  const gone = await admin.getClient(client.client_id);
  assert.equal(gone.error?.status, 404);
  assert.equal(gone.error?.code, 'oauth_client_not_found');

  const invalid = await admin.createClient({ client_name: 'No redirect' });
  assert.equal(invalid.error?.status, 400);
  assert.equal(invalid.error?.code, 'validation_failed');
});

test('auth.oauth: authorization details, approve, deny, grants list and revoke', { skip }, async () => {
  const admin = supabase(serviceRoleKey).auth.admin.oauth;
  const { data: client } = await admin.createClient({ client_name: 'Consent App', redirect_uris: [REDIRECT] });
  const { client: app, email } = await signedIn();
  const { challenge } = await pkce();
  const authorizeUrl = (state) => `${server.base}/auth/v1/oauth/authorize?response_type=code&client_id=${client.client_id}` +
    `&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid%20email&state=${state}` +
    `&code_challenge=${challenge}&code_challenge_method=S256`;

  // Deny first: the client gets access_denied with its state.
  const denied = (await authorize(authorizeUrl('s-deny'))).searchParams.get('authorization_id');
  assert.equal((await app.auth.oauth.getAuthorizationDetails(denied)).error, null);
  const deny = await app.auth.oauth.denyAuthorization(denied);
  assert.equal(deny.error, null);
  const deniedUrl = new URL(deny.data.redirect_url);
  assert.equal(deniedUrl.searchParams.get('error'), 'access_denied');
  assert.equal(deniedUrl.searchParams.get('state'), 's-deny');

  // Approve.
  const consentPage = await authorize(authorizeUrl('s-ok'));
  assert.equal(`${consentPage.origin}${consentPage.pathname}`, `${SITE}/oauth/consent`);
  const authorizationId = consentPage.searchParams.get('authorization_id');
  const details = await app.auth.oauth.getAuthorizationDetails(authorizationId);
  assert.equal(details.error, null, details.error?.message);
  assert.equal(details.data.client.name, 'Consent App');
  assert.equal(details.data.user.email, email);
  assert.equal(details.data.scope, 'openid email');
  const approve = await app.auth.oauth.approveAuthorization(authorizationId);
  assert.equal(approve.error, null);
  const approvedUrl = new URL(approve.data.redirect_url);
  assert.ok(approvedUrl.searchParams.get('code'));
  assert.equal(approvedUrl.searchParams.get('state'), 's-ok');

  // An authorization opened by this user is not another user's to see or decide.
  const owned = (await authorize(authorizeUrl('s-2'))).searchParams.get('authorization_id');
  const { client: stranger } = await signedIn();
  const { data: opened } = await app.auth.oauth.getAuthorizationDetails(owned);
  assert.ok(opened.redirect_url, 'consent already given: straight back to the client');
  const mine = (await authorize(authorizeUrl('s-3'))).searchParams.get('authorization_id');
  assert.equal((await stranger.auth.oauth.getAuthorizationDetails(mine)).error, null, 'the first to open it owns it');
  const foreign = await app.auth.oauth.approveAuthorization(mine);
  assert.equal(foreign.error?.status, 404);
  assert.equal(foreign.error?.code, 'oauth_authorization_not_found');

  const grants = await app.auth.oauth.listGrants();
  assert.equal(grants.error, null);
  assert.deepEqual(grants.data.map((g) => [g.client.id, g.scopes]), [[client.client_id, ['openid', 'email']]]);

  const revoke = await app.auth.oauth.revokeGrant({ clientId: client.client_id });
  assert.equal(revoke.error, null);
  assert.deepEqual((await app.auth.oauth.listGrants()).data, []);
  const again = await app.auth.oauth.revokeGrant({ clientId: client.client_id });
  assert.equal(again.error?.code, 'oauth_consent_not_found');
});

test('openid-client: discovery, dynamic registration, code + PKCE, ID token on our JWKS, userinfo, refresh', { skip }, async () => {
  const issuer = new URL(`${server.base}/auth/v1`);
  const options = { execute: [oidc.allowInsecureRequests] };

  // RFC 7591 registration through the discovered registration_endpoint, as a public client (as MCP clients
  // register): GoTrue's registration response has no client_secret_expires_at, which oauth4webapi requires
  // beside an issued secret, so a confidential client cannot be registered this way against GoTrue either.
  const config = await oidc.dynamicClientRegistration(issuer, {
    redirect_uris: [REDIRECT], client_name: 'openid-client RP', token_endpoint_auth_method: 'none',
  }, oidc.None(), options);
  oidc.enableNonRepudiationChecks(config); // verify ID token signatures against jwks_uri
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, issuer.href);
  assert.equal(metadata.registration_endpoint, `${issuer.href}/oauth/clients/register`);
  assert.equal(config.clientMetadata().client_secret, undefined);

  const { verifier, challenge: code_challenge } = await pkce();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid email profile', code_challenge, code_challenge_method: 'S256', state, nonce,
  });

  // The consent page, played by supabase-js with a signed-in user.
  const { client: app, email, user } = await signedIn();
  const authorizationId = (await authorize(url)).searchParams.get('authorization_id');
  const approve = await app.auth.oauth.approveAuthorization(
    (await app.auth.oauth.getAuthorizationDetails(authorizationId)).data.authorization_id);
  assert.equal(approve.error, null, approve.error?.message);

  const tokens = await oidc.authorizationCodeGrant(config, new URL(approve.data.redirect_url), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.sub, user.id);
  assert.equal(claims.aud, config.clientMetadata().client_id);
  assert.equal(claims.email, email);
  assert.equal(claims.nonce, nonce);

  const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
  assert.equal(info.email, email);
  assert.equal(info.email_verified, true);

  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);

  // The spent refresh token's family is gone once it is replayed after the next rotation.
  await oidc.refreshTokenGrant(config, refreshed.refresh_token);
  await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
});
