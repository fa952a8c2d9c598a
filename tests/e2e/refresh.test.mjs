// refreshSession: rotation and reuse detection (rotation on, reuse interval 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAuthApiError } from '@supabase/supabase-js';
import { signUpNew, refreshWith, jwtPayload } from './lib/helpers.mjs';

test('refreshSession returns a new refresh token and access token for the same session', async () => {
  const { client, session } = await signUpNew('refresh');
  const events = [];
  const {
    data: { subscription },
  } = client.auth.onAuthStateChange((event) => events.push(event));
  try {
    const { data, error } = await client.auth.refreshSession();
    assert.equal(error, null);
    assert.ok(data.session);
    assert.notEqual(data.session.refresh_token, session.refresh_token, 'rotated refresh token');
    assert.equal(data.user.id, session.user.id);
    const before = jwtPayload(session.access_token);
    const after = jwtPayload(data.session.access_token);
    assert.equal(after.session_id, before.session_id, 'same session');
    assert.equal(after.sub, before.sub);
    assert.deepEqual(
      after.amr?.map((a) => a.method),
      before.amr?.map((a) => a.method),
      'a refresh keeps the session AMR',
    );
    assert.ok(events.includes('TOKEN_REFRESHED'), `TOKEN_REFRESHED among ${JSON.stringify(events)}`);

    // The client now holds the rotated session.
    const { data: got } = await client.auth.getSession();
    assert.equal(got.session.refresh_token, data.session.refresh_token);
  } finally {
    subscription.unsubscribe();
  }
});

test('the parent of the active refresh token is answered with the active token again', async () => {
  // GoTrue: a revoked token whose child is the session's active token returns that child
  // (the client lost the previous response) instead of failing.
  const { session } = await signUpNew('lostresponse');
  const first = await refreshWith(session.refresh_token);
  assert.equal(first.error, null);
  const again = await refreshWith(session.refresh_token);
  assert.equal(again.error, null, `retry of the last refresh: ${again.error?.message}`);
  assert.equal(again.data.session.refresh_token, first.data.session.refresh_token);
});

test('reusing a rotated refresh token: refresh_token_already_used, and the session is revoked', async () => {
  const { session } = await signUpNew('reuse');
  const r0 = session.refresh_token;
  const r1 = await refreshWith(r0);
  assert.equal(r1.error, null);
  const r2 = await refreshWith(r1.data.session.refresh_token);
  assert.equal(r2.error, null);
  assert.notEqual(r2.data.session.refresh_token, r1.data.session.refresh_token);

  // r0 is two rotations old: a reuse outside the (zero) reuse interval.
  const reused = await refreshWith(r0);
  assert.ok(isAuthApiError(reused.error), `AuthApiError, got ${reused.error?.name}: ${reused.error?.message}`);
  assert.equal(reused.error.status, 400);
  assert.equal(reused.error.code, 'refresh_token_already_used');
  assert.equal(reused.error.message, 'Invalid Refresh Token: Already Used');
  assert.equal(reused.data.session, null);

  // Rotation on: the whole token family is revoked, so the newest token fails too.
  const newest = await refreshWith(r2.data.session.refresh_token);
  assert.ok(isAuthApiError(newest.error), `newest token revoked, got ${newest.error?.message ?? 'success'}`);
  assert.equal(newest.error.status, 400);
  assert.equal(newest.error.code, 'refresh_token_already_used');
});

test('an unknown refresh token: 400 refresh_token_not_found', async () => {
  const { error } = await refreshWith('abcdefghijkl');
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 400);
  assert.equal(error.code, 'refresh_token_not_found');
  assert.equal(error.message, 'Invalid Refresh Token: Refresh Token Not Found');
});

test('concurrent refreshes of one token (several tabs) all succeed with the same new token', async () => {
  const { session } = await signUpNew('concurrent');
  const results = await Promise.all(Array.from({ length: 5 }, () => refreshWith(session.refresh_token)));
  for (const r of results) assert.equal(r.error, null, `concurrent refresh failed: ${r.error?.code} ${r.error?.message}`);
  const tokens = new Set(results.map((r) => r.data.session.refresh_token));
  assert.equal(tokens.size, 1, `all racers converge on one child token, got ${tokens.size}`);
  // And that token is live.
  const next = await refreshWith([...tokens][0]);
  assert.equal(next.error, null);
});

test('a malformed refresh token: 400 validation_failed', async () => {
  const { error } = await refreshWith('short');
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 400);
  assert.equal(error.code, 'validation_failed');
});
