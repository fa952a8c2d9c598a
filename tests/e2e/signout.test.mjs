// signOut with scope global / local / others, checked by what still works afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAuthSessionMissingError } from '@supabase/supabase-js';
import { signUpNew, signInNew, refreshWith, rawAuth } from './lib/helpers.mjs';

/** One user with two sessions: A (sign-up) and B (a second sign-in). */
async function twoSessions(tag) {
  const a = await signUpNew(tag);
  const b = await signInNew(a.email, a.password);
  return { a, b };
}

async function assertRefreshFails(refreshToken, what) {
  const { data, error } = await refreshWith(refreshToken);
  assert.ok(error, `${what}: refresh should fail`);
  assert.equal(error.status, 400, `${what}: ${error.name} ${error.code} ${error.message}`);
  // Sessions are deleted and their refresh tokens cascade: refresh_token_not_found. (A server that
  // kept the tokens would say session_not_found, which auth-js turns into AuthSessionMissingError.)
  assert.ok(
    isAuthSessionMissingError(error) ||
      ['refresh_token_not_found', 'refresh_token_already_used'].includes(error.code),
    `${what}: unexpected error ${error.name} ${error.code} ${error.message}`,
  );
  assert.equal(data.session, null);
}

async function assertRefreshWorks(refreshToken, what) {
  const { data, error } = await refreshWith(refreshToken);
  assert.equal(error, null, `${what}: ${error?.message}`);
  assert.ok(data.session, what);
  return data.session;
}

test("signOut({ scope: 'local' }) ends only this session", async () => {
  const { a, b } = await twoSessions('local');
  const { error } = await a.client.auth.signOut({ scope: 'local' });
  assert.equal(error, null);
  assert.equal((await a.client.auth.getSession()).data.session, null, 'A dropped its session');

  await assertRefreshFails(a.session.refresh_token, 'A after local sign-out');
  const stale = await rawAuth('GET', '/user', { token: a.session.access_token });
  assert.equal(stale.status, 403, `A's access token after local sign-out: ${stale.text}`);
  assert.equal(stale.json?.code, 'session_not_found', stale.text);
  const bSession = await assertRefreshWorks(b.session.refresh_token, 'B after A signed out locally');
  const { data, error: userErr } = await b.client.auth.getUser(bSession.access_token);
  assert.equal(userErr, null);
  assert.equal(data.user.email, a.email);
});

test("signOut({ scope: 'global' }) ends every session of the user", async () => {
  const { a, b } = await twoSessions('global');
  const { error } = await a.client.auth.signOut({ scope: 'global' });
  assert.equal(error, null);
  assert.equal((await a.client.auth.getSession()).data.session, null);

  await assertRefreshFails(a.session.refresh_token, 'A after global sign-out');
  await assertRefreshFails(b.session.refresh_token, 'B after global sign-out');
});

test('signOut() defaults to the global scope', async () => {
  const { a, b } = await twoSessions('default');
  assert.equal((await a.client.auth.signOut()).error, null);
  await assertRefreshFails(b.session.refresh_token, 'B after default sign-out');
});

test("signOut({ scope: 'others' }) keeps this session and ends the others", async () => {
  const { a, b } = await twoSessions('others');
  const { error } = await a.client.auth.signOut({ scope: 'others' });
  assert.equal(error, null);

  const kept = await a.client.auth.getSession();
  assert.equal(kept.data.session?.access_token, a.session.access_token, 'A keeps its session locally');
  const { data, error: userErr } = await a.client.auth.getUser();
  assert.equal(userErr, null, `A still works: ${userErr?.message}`);
  assert.equal(data.user.email, a.email);
  const refreshed = await a.client.auth.refreshSession();
  assert.equal(refreshed.error, null, `A still refreshes: ${refreshed.error?.message}`);

  await assertRefreshFails(b.session.refresh_token, 'B after others sign-out');
  const bUser = await b.client.auth.getUser(b.session.access_token);
  assert.ok(isAuthSessionMissingError(bUser.error), `B's access token: ${bUser.error?.name}`);
});

test('after a global signOut the old access token gets session_not_found', async () => {
  const { client, session } = await signUpNew('stale');
  assert.equal((await client.auth.signOut({ scope: 'global' })).error, null);

  // As supabase-js surfaces it: auth-js turns error code session_not_found into AuthSessionMissingError.
  const { data, error } = await client.auth.getUser(session.access_token);
  assert.ok(isAuthSessionMissingError(error), `AuthSessionMissingError, got ${error?.name}: ${error?.message}`);
  assert.equal(data.user, null);

  // On the wire: 403 with code session_not_found.
  const res = await rawAuth('GET', '/user', { token: session.access_token });
  assert.equal(res.status, 403, res.text);
  assert.equal(res.json?.code, 'session_not_found', res.text);
  assert.equal(res.headers.get('x-sb-error-code'), 'session_not_found');
});

test('POST /logout answers 204 with an empty body; an unknown scope is 400 validation_failed', async () => {
  const { session } = await signUpNew('logoutwire');
  const bad = await rawAuth('POST', '/logout?scope=everything', { token: session.access_token });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json?.code, 'validation_failed', bad.text);

  const ok = await rawAuth('POST', '/logout?scope=local', { token: session.access_token });
  assert.equal(ok.status, 204, ok.text);
  assert.equal(ok.text, '');
});
