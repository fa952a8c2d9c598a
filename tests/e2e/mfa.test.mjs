// MFA (TOTP) through supabase-js: enroll, challenge, verify, challengeAndVerify, listFactors,
// getAuthenticatorAssuranceLevel, unenroll; plus GoTrue's answers for features this server does not build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { isAuthApiError } from '@supabase/supabase-js';
import { signUpNew, signInNew, jwtPayload, rawAuth } from './lib/helpers.mjs';

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

const currentStep = () => Math.floor(Date.now() / 1000 / 30);

test('enroll → challenge → verify upgrades the session to aal2; listFactors and AAL follow', async () => {
  const { client, email } = await signUpNew('mfa');

  const before = await client.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(before.error, null);
  assert.deepEqual([before.data.currentLevel, before.data.nextLevel], ['aal1', 'aal1']);

  const enrolled = await client.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'e2e phone' });
  assert.equal(enrolled.error, null, enrolled.error?.message);
  assert.equal(enrolled.data.type, 'totp');
  assert.equal(enrolled.data.friendly_name, 'e2e phone');
  assert.match(enrolled.data.totp.secret, /^[A-Z2-7]{32}$/);
  assert.ok(enrolled.data.totp.uri.startsWith(`otpauth://totp/localhost:3000:${email}?`), enrolled.data.totp.uri);
  assert.ok(enrolled.data.totp.qr_code.startsWith('data:image/svg+xml;utf-8,<?xml version="1.0"?>'));

  const unverified = await client.auth.mfa.listFactors();
  assert.equal(unverified.error, null);
  assert.equal(unverified.data.all.length, 1);
  assert.equal(unverified.data.all[0].status, 'unverified');
  assert.equal(unverified.data.totp.length, 0, 'only verified factors are listed by type');

  const challenge = await client.auth.mfa.challenge({ factorId: enrolled.data.id });
  assert.equal(challenge.error, null, challenge.error?.message);
  assert.ok(challenge.data.expires_at > Date.now() / 1000);

  const wrong = await client.auth.mfa.verify({
    factorId: enrolled.data.id, challengeId: challenge.data.id,
    code: String((Number(totp(enrolled.data.totp.secret)) + 1) % 1_000_000).padStart(6, '0'),
  });
  assert.ok(isAuthApiError(wrong.error));
  assert.equal(wrong.error.code, 'mfa_verification_failed');

  const verified = await client.auth.mfa.verify({
    factorId: enrolled.data.id, challengeId: challenge.data.id, code: totp(enrolled.data.totp.secret),
  });
  assert.equal(verified.error, null, verified.error?.message);
  const claims = jwtPayload(verified.data.access_token);
  assert.equal(claims.aal, 'aal2');
  assert.deepEqual(claims.amr.map((a) => a.method), ['totp', 'password']);

  const after = await client.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.deepEqual([after.data.currentLevel, after.data.nextLevel], ['aal2', 'aal2']);
  assert.equal(after.data.currentAuthenticationMethods[0].method, 'totp');

  const listed = await client.auth.mfa.listFactors();
  assert.equal(listed.data.totp.length, 1);
  assert.equal(listed.data.totp[0].id, enrolled.data.id);
  assert.equal(listed.data.totp[0].status, 'verified');

  // Another sign-in is aal1 with aal2 possible: the app must ask for the second factor.
  const { client: other } = await signInNew(email);
  const otherAal = await other.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.deepEqual([otherAal.data.currentLevel, otherAal.data.nextLevel], ['aal1', 'aal2']);
  const refused = await other.auth.updateUser({ password: 'a-brand-new-password-2' });
  assert.ok(isAuthApiError(refused.error));
  assert.equal(refused.error.status, 401);
  assert.equal(refused.error.code, 'insufficient_aal');
  const refusedUnenroll = await other.auth.mfa.unenroll({ factorId: enrolled.data.id });
  assert.equal(refusedUnenroll.error?.code, 'insufficient_aal');

  // challengeAndVerify on the second device, with the next step's code (this step's is spent).
  const stepped = await other.auth.mfa.challengeAndVerify({
    factorId: enrolled.data.id, code: totp(enrolled.data.totp.secret, currentStep() + 1),
  });
  assert.equal(stepped.error, null, stepped.error?.message);
  assert.equal(jwtPayload(stepped.data.access_token).aal, 'aal2');

  const removed = await client.auth.mfa.unenroll({ factorId: enrolled.data.id });
  assert.equal(removed.error, null, removed.error?.message);
  assert.equal(removed.data.id, enrolled.data.id);
  const empty = await client.auth.mfa.listFactors();
  assert.equal(empty.data.all.length, 0);
  const { data: refreshed, error: refreshError } = await client.auth.refreshSession();
  assert.equal(refreshError, null);
  assert.equal(jwtPayload(refreshed.session.access_token).aal, 'aal1');
});

test('a reused TOTP code is refused on a new challenge', async () => {
  const { client } = await signUpNew('mfa-replay');
  const { data: factor } = await client.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'replay' });
  const code = totp(factor.totp.secret);

  const first = await client.auth.mfa.challengeAndVerify({ factorId: factor.id, code });
  assert.equal(first.error, null, first.error?.message);
  const again = await client.auth.mfa.challengeAndVerify({ factorId: factor.id, code });
  assert.equal(again.error?.code, 'mfa_verification_failed');
});

test('unbuilt features answer like GoTrue with them off', async () => {
  const passkeys = await rawAuth('POST', '/passkeys/authentication/options', { body: {} });
  assert.equal(passkeys.status, 404);
  assert.deepEqual(passkeys.json, { code: 'passkey_disabled', message: 'Passkeys are disabled' });

  const oauth = await rawAuth('GET', '/.well-known/oauth-authorization-server');
  assert.equal(oauth.status, 404);
  assert.deepEqual(oauth.json, { code: 'feature_disabled', message: 'OAuth server is disabled' });
});
