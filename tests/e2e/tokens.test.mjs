// Access tokens as issued and as checked: signature, claims, and how bad tokens are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { isAuthApiError } from '@supabase/supabase-js';
import { newClient, signUpNew, jwtPayload, rawAuth, anonKey } from './lib/helpers.mjs';

const secret = process.env.SUPABASE_JWT_SECRET;

function hs256Valid(token, key) {
  const [h, p, s] = token.split('.');
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(`${h}.${p}`).digest('base64url') === s;
}

test('the access token is an HS256 JWT signed with GOTRUE_JWT_SECRET, with GoTrue claims', { skip: !secret }, async () => {
  const { session, user, email } = await signUpNew('claims');
  const token = session.access_token;
  assert.deepEqual(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()), { alg: 'HS256', typ: 'JWT' });
  assert.ok(hs256Valid(token, secret), 'signature verifies with the JWT secret');

  const c = jwtPayload(token);
  assert.equal(c.sub, user.id);
  assert.equal(typeof c.aud, 'string', 'aud is a single string');
  assert.equal(c.exp - c.iat, 3600, 'GOTRUE_JWT_EXP default');
  assert.ok(Math.abs(session.expires_at - c.exp) <= 1, 'expires_at = exp');
  assert.ok(Math.abs(session.expires_in - (c.exp - Math.floor(Date.now() / 1000))) <= 5, 'expires_in = exp - now');
  assert.equal(c.email, email);
  assert.equal(c.phone, '');
  assert.deepEqual(c.app_metadata, { provider: 'email', providers: ['email'] });
  assert.equal(typeof c.user_metadata, 'object');
  assert.ok(Array.isArray(c.amr) && c.amr.length >= 1);
  assert.equal(typeof c.amr[0].timestamp, 'number');
  assert.ok(!('nbf' in c) && !('jti' in c), 'no nbf, no jti');
});

test('getUser with a token signed by another secret: 403 bad_jwt', async () => {
  const { session } = await signUpNew('forged');
  const [h, p] = session.access_token.split('.');
  const forged = `${h}.${p}.${createHmac('sha256', 'not-the-secret').update(`${h}.${p}`).digest('base64url')}`;
  const { data, error } = await newClient().auth.getUser(forged);
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 403);
  assert.equal(error.code, 'bad_jwt');
  assert.equal(data.user, null);
});

test('getUser with the anon key (no sub claim): 403 bad_jwt', async () => {
  const res = await rawAuth('GET', '/user', { token: anonKey });
  assert.equal(res.status, 403, res.text);
  assert.equal(res.json?.code, 'bad_jwt', res.text);
});

test('getUser without a bearer token: 401 no_authorization', async () => {
  const res = await rawAuth('GET', '/user');
  assert.equal(res.status, 401, res.text);
  assert.equal(res.json?.code, 'no_authorization', res.text);
});
