// updateUser: metadata and password changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAuthApiError, isAuthWeakPasswordError } from '@supabase/supabase-js';
import { newClient, signUpNew, signInNew, refreshWith, jwtPayload, PASSWORD } from './lib/helpers.mjs';

test('updateUser({ data }) merges into user_metadata; null deletes a key', async () => {
  const { client, user } = await signUpNew('meta');

  const first = await client.auth.updateUser({ data: { theme: 'dark', plan: 'free', nested: { a: 1 } } });
  assert.equal(first.error, null);
  assert.equal(first.data.user.id, user.id);
  assert.equal(first.data.user.user_metadata.theme, 'dark');
  assert.equal(first.data.user.user_metadata.plan, 'free');
  assert.deepEqual(first.data.user.user_metadata.nested, { a: 1 });

  const second = await client.auth.updateUser({ data: { plan: 'pro', theme: null } });
  assert.equal(second.error, null);
  const meta = second.data.user.user_metadata;
  assert.equal(meta.plan, 'pro');
  assert.ok(!('theme' in meta), `theme deleted, got ${JSON.stringify(meta)}`);
  assert.deepEqual(meta.nested, { a: 1 }, 'untouched keys are kept');

  // getUser reads the stored state back.
  const { data: got, error } = await client.auth.getUser();
  assert.equal(error, null);
  assert.equal(got.user.user_metadata.plan, 'pro');
  assert.ok(!('theme' in got.user.user_metadata));

  // A refreshed access token carries the new metadata.
  const { data: refreshed, error: refreshErr } = await client.auth.refreshSession();
  assert.equal(refreshErr, null);
  assert.equal(jwtPayload(refreshed.session.access_token).user_metadata.plan, 'pro');
});

test('updateUser({ password }) changes the password: the new one signs in, the old one does not', async () => {
  const { client, email } = await signUpNew('pwchange');
  const other = await signInNew(email); // another session of the same user
  const newPassword = 'a-brand-new-password-2';

  const { data, error } = await client.auth.updateUser({ password: newPassword });
  assert.equal(error, null);
  assert.equal(data.user.email, email);

  const withNew = await newClient().auth.signInWithPassword({ email, password: newPassword });
  assert.equal(withNew.error, null);
  assert.ok(withNew.data.session);

  const withOld = await newClient().auth.signInWithPassword({ email, password: PASSWORD });
  assert.ok(isAuthApiError(withOld.error));
  assert.equal(withOld.error.status, 400);
  assert.equal(withOld.error.code, 'invalid_credentials');

  // GoTrue deletes the user's other sessions on a password change; the current one survives.
  const stillMine = await client.auth.refreshSession();
  assert.equal(stillMine.error, null, `current session survives: ${stillMine.error?.message}`);
  const otherRefresh = await refreshWith(other.session.refresh_token);
  assert.ok(otherRefresh.error, 'the other session was signed out by the password change');
  assert.equal(otherRefresh.data.session, null);
});

test('updateUser with the same password: 422 same_password', async () => {
  const { client } = await signUpNew('samepw');
  const { error } = await client.auth.updateUser({ password: PASSWORD });
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 422);
  assert.equal(error.code, 'same_password');
});

test('updateUser with a weak password: AuthWeakPasswordError with reasons ["length"]', async () => {
  const { client } = await signUpNew('weakupdate');
  const { error } = await client.auth.updateUser({ password: 'abc' });
  assert.ok(isAuthWeakPasswordError(error), `AuthWeakPasswordError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 422);
  assert.deepEqual(error.reasons, ['length']);
});

test('onAuthStateChange reports USER_UPDATED after updateUser', async () => {
  const { client } = await signUpNew('userupdated');
  const events = [];
  const {
    data: { subscription },
  } = client.auth.onAuthStateChange((event) => events.push(event));
  try {
    assert.equal((await client.auth.updateUser({ data: { x: 1 } })).error, null);
    assert.ok(events.includes('USER_UPDATED'), `USER_UPDATED among ${JSON.stringify(events)}`);
  } finally {
    subscription.unsubscribe();
  }
});
