// A database GoTrue created and used, adopted by AuthServer (issue 8): every seeded kind of record works
// through supabase-js. The server and its database come from run.sh (tests/e2e/lib/adopt.sh): the xunit
// fixture tests/AuthServer.Tests/Infrastructure/GoTrue/gotrue_database.sql, the project's JWT secret and
// its GOTRUE_SECURITY_DB_ENCRYPTION key. Tests in this file run in order (node --test runs a file's
// tests sequentially); Bob's MFA verification ends his aal1 sessions, so his refresh token is used first.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createClient, isAuthApiError } from '@supabase/supabase-js';
import ws from 'ws';
import { jwtPayload } from './lib/helpers.mjs';

const adoptUrl = process.env.SUPABASE_ADOPT_URL;
const adoptAnonKey = process.env.SUPABASE_ADOPT_ANON_KEY;
const adoptJwtSecret = process.env.SUPABASE_ADOPT_JWT_SECRET;
const skip = !adoptUrl || !adoptAnonKey || !adoptJwtSecret
  ? 'SUPABASE_ADOPT_URL, SUPABASE_ADOPT_ANON_KEY and SUPABASE_ADOPT_JWT_SECRET are not set (tests/e2e/run.sh sets them)'
  : false;

const PASSWORD = 'allmine'; // every seeded hash: golang.org/x/crypto/bcrypt's test vector
const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';
const PENDING = '33333333-3333-4333-8333-333333333333';
const FRANK = '66666666-6666-4666-8666-666666666666';
const BOB_FACTOR = 'b2000000-0000-4000-8000-000000000001';
const FRANK_FACTOR = 'f0000000-0000-4000-8000-000000000002';
const TOTP_SECRET = 'JBSWY3DPEHPK3PXP'; // Bob's in plaintext, Frank's encrypted by GoTrue
// v2 refresh tokens GoTrue would have issued (computed outside AuthServer, see AdoptTests.cs).
const ALICE_V2_SESSION = 'aaaaaaaa-0000-4000-8000-000000000002';
const ALICE_V2_COUNTER_3 = 'AKqqqqoAAEAAgAAAAAAAAAIDBsMl_ecnlhnlv59fF8aoYzvN58Y';
const ALICE_V2_COUNTER_4 = 'AKqqqqoAAEAAgAAAAAAAAAIEHVsn4mjI-boHqDo7SKYq5vMzyFE';
const FRANK_V2_COUNTER_0 = 'AP____8AAEAAgAAAAAAAAAMAAlF18CqDBEyrgxHw62H-ic7wCCA';

function client() {
  return createClient(adoptUrl, adoptAnonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: ws },
  });
}

async function signIn(email) {
  const c = client();
  const { data, error } = await c.auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(error, null, `signInWithPassword(${email}): ${error?.message}`);
  return { client: c, session: data.session };
}

/** RFC 6238 (SHA-1, 30 s, 6 digits) from the base32 secret, computed here with node's crypto. */
function totp(secret, step = Math.floor(Date.now() / 1000 / 30)) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const hash = createHmac('sha1', key).update(counter).digest();
  const offset = hash[hash.length - 1] & 0x0f;
  return String((hash.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** An access token as GoTrue signed it before the move (HS256 with the project's JWT secret). */
function goTrueAccessToken(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signing = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${signing}.${createHmac('sha256', adoptJwtSecret).update(signing).digest('base64url')}`;
}

describe('adopted GoTrue database', { skip }, () => {
  test('signInWithPassword: a password hashed by Go bcrypt, metadata as GoTrue stored it', async () => {
    const { session } = await signIn('alice@example.com');

    assert.equal(session.user.id, ALICE);
    assert.deepEqual(session.user.app_metadata.roles, ['admin', 'billing']);
    assert.deepEqual(session.user.app_metadata.tenant, { id: 42, plan: null });
    assert.equal(session.user.user_metadata['display name'], 'Älîçé 🚀 "the" \\ admin');
    assert.equal(session.user.user_metadata.html, '<script>alert(1)</script>');
    assert.equal(jwtPayload(session.access_token).aal, 'aal1');
  });

  test('setSession with an access token GoTrue issued and its v1 refresh token, then refreshSession', async () => {
    const c = client();
    const now = Math.floor(Date.now() / 1000);
    const accessToken = goTrueAccessToken({
      aud: 'authenticated', exp: now + 3600, iat: now, iss: 'https://project.supabase.co/auth/v1', sub: ALICE,
      email: 'alice@example.com', phone: '', app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: {}, role: 'authenticated', aal: 'aal1',
      amr: [{ method: 'password', timestamp: now - 7200 }],
      session_id: 'aaaaaaaa-0000-4000-8000-000000000001', is_anonymous: false,
    });

    const set = await c.auth.setSession({ access_token: accessToken, refresh_token: 'fixtureactiv' });
    assert.equal(set.error, null, set.error?.message);
    assert.equal(set.data.user.id, ALICE);

    const refreshed = await c.auth.refreshSession();
    assert.equal(refreshed.error, null, refreshed.error?.message);
    assert.notEqual(refreshed.data.session.refresh_token, 'fixtureactiv');
    const claims = jwtPayload(refreshed.data.session.access_token);
    assert.equal(claims.session_id, 'aaaaaaaa-0000-4000-8000-000000000001');
    assert.equal(claims.amr[0].method, 'password'); // the AMR claim GoTrue recorded for the session
  });

  test('refreshSession with a v2 refresh token GoTrue issued: the next counter, same session', async () => {
    const { data, error } = await client().auth.refreshSession({ refresh_token: ALICE_V2_COUNTER_3 });

    assert.equal(error, null, error?.message);
    assert.equal(data.session.refresh_token, ALICE_V2_COUNTER_4);
    assert.equal(jwtPayload(data.session.access_token).session_id, ALICE_V2_SESSION);
    assert.equal(data.user.id, ALICE);
  });

  test('refreshSession with a v2 token whose session key GoTrue stored encrypted', async () => {
    const { data, error } = await client().auth.refreshSession({ refresh_token: FRANK_V2_COUNTER_0 });

    assert.equal(error, null, error?.message);
    assert.equal(data.user.id, FRANK);
  });

  test('verifyOtp: the signup OTP GoTrue mailed to an unconfirmed user confirms them', async () => {
    const c = client();

    const { data, error } = await c.auth.verifyOtp({ email: 'pending@example.com', token: '123456', type: 'email' });

    assert.equal(error, null, error?.message);
    assert.equal(data.user.id, PENDING);
    assert.ok(data.user.email_confirmed_at);
    assert.ok(data.session.access_token);
    await signIn('pending@example.com'); // confirmed: the password GoTrue hashed signs in
    const again = await client().auth.verifyOtp({ email: 'pending@example.com', token: '123456', type: 'email' });
    assert.ok(isAuthApiError(again.error));
    assert.equal(again.error.code, 'otp_expired');
  });

  test('getUserIdentities: the Google identity GoTrue linked, on an OAuth session it issued', async () => {
    const c = client();
    const refreshed = await c.auth.refreshSession({ refresh_token: 'bobtokenaaaa' });
    assert.equal(refreshed.error, null, refreshed.error?.message);
    assert.equal(jwtPayload(refreshed.data.session.access_token).amr[0].method, 'oauth');

    const { data, error } = await c.auth.getUserIdentities();

    assert.equal(error, null, error?.message);
    const byProvider = Object.fromEntries(data.identities.map((i) => [i.provider, i]));
    assert.deepEqual(Object.keys(byProvider).sort(), ['email', 'google']);
    assert.equal(byProvider.google.id, '109876543210987654321');
    assert.equal(byProvider.google.identity_id, 'b1000000-0000-4000-8000-000000000002');
    assert.equal(byProvider.google.identity_data.full_name, 'Bob Builder');
    assert.equal(byProvider.email.user_id, BOB);
  });

  test('mfa.challenge + mfa.verify: a TOTP factor GoTrue enrolled (plaintext secret)', async () => {
    const { client: c } = await signIn('bob@example.com');
    const factors = await c.auth.mfa.listFactors();
    assert.equal(factors.error, null, factors.error?.message);
    assert.deepEqual(factors.data.totp.map((f) => [f.id, f.status]), [[BOB_FACTOR, 'verified']]);

    const challenge = await c.auth.mfa.challenge({ factorId: BOB_FACTOR });
    assert.equal(challenge.error, null, challenge.error?.message);
    const verified = await c.auth.mfa.verify({ factorId: BOB_FACTOR, challengeId: challenge.data.id, code: totp(TOTP_SECRET) });

    assert.equal(verified.error, null, verified.error?.message);
    assert.equal(jwtPayload(verified.data.access_token).aal, 'aal2');
    const aal = await c.auth.mfa.getAuthenticatorAssuranceLevel();
    assert.deepEqual([aal.data.currentLevel, aal.data.nextLevel], ['aal2', 'aal2']);
  });

  test('mfa.challengeAndVerify: a TOTP factor whose secret GoTrue stored encrypted', async () => {
    const { client: c } = await signIn('frank@example.com'); // his password is an encrypted string too
    const aal1 = await c.auth.mfa.getAuthenticatorAssuranceLevel();
    assert.deepEqual([aal1.data.currentLevel, aal1.data.nextLevel], ['aal1', 'aal2']);

    const { data, error } = await c.auth.mfa.challengeAndVerify({ factorId: FRANK_FACTOR, code: totp(TOTP_SECRET) });

    assert.equal(error, null, error?.message);
    const claims = jwtPayload(data.access_token);
    assert.equal(claims.aal, 'aal2');
    assert.deepEqual(claims.amr.map((a) => a.method), ['totp', 'password']);
  });

  test('a user GoTrue banned stays banned: sign-in and refresh refused', async () => {
    const signInResult = await client().auth.signInWithPassword({ email: 'banned@example.com', password: PASSWORD });
    assert.ok(isAuthApiError(signInResult.error));
    assert.equal(signInResult.error.status, 400);
    assert.equal(signInResult.error.code, 'user_banned');

    const refreshResult = await client().auth.refreshSession({ refresh_token: 'davetokenaaa' });
    assert.ok(isAuthApiError(refreshResult.error));
    assert.equal(refreshResult.error.code, 'user_banned');
  });

  test('a user GoTrue soft-deleted cannot sign in', async () => {
    const { error } = await client().auth.signInWithPassword({
      email: '7b8c0d2e9a1f4c3b5d6e7f8091a2b3c4d5e6f708@deleted.example.com', password: PASSWORD,
    });

    assert.ok(isAuthApiError(error));
    assert.equal(error.code, 'invalid_credentials');
  });
});
