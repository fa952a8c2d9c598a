// supabase-js auth.admin.* with the service_role key (api.md "Admin users").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, isAuthApiError } from '@supabase/supabase-js';
import ws from 'ws';
import { url, newClient, uniqueEmail, signUpNew, rawAuth, PASSWORD } from './lib/helpers.mjs';

const serviceKey = process.env.SUPABASE_SERVICE_ROLE_KEY;

function adminClient() {
  return createClient(url, serviceKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: ws },
  }).auth.admin;
}

test('admin.createUser with email_confirm: the user can sign in at once', { skip: !serviceKey }, async () => {
  const admin = adminClient();
  const email = uniqueEmail('admin-create');
  const { data, error } = await admin.createUser({
    email, password: PASSWORD, email_confirm: true,
    user_metadata: { full_name: 'Ada' }, app_metadata: { plan: 'pro' },
  });
  assert.equal(error, null, error?.message);
  assert.equal(data.user.email, email);
  assert.ok(data.user.email_confirmed_at);
  assert.equal(data.user.user_metadata.full_name, 'Ada');
  assert.equal(data.user.app_metadata.plan, 'pro');
  assert.deepEqual(data.user.app_metadata.providers, ['email']);

  const signIn = await newClient().auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(signIn.error, null, signIn.error?.message);
  assert.equal(signIn.data.user.id, data.user.id);
});

test('admin.createUser with a taken email: AuthApiError 422 email_exists', { skip: !serviceKey }, async () => {
  const { email } = await signUpNew('admin-taken');
  const { data, error } = await adminClient().createUser({ email, password: PASSWORD });
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}`);
  assert.equal(error.status, 422);
  assert.equal(error.code, 'email_exists');
  assert.equal(data.user, null);
});

test('admin.listUsers pages with nextPage, lastPage and total', { skip: !serviceKey }, async () => {
  const admin = adminClient();
  for (let i = 0; i < 3; i++) {
    const { error } = await admin.createUser({ email: uniqueEmail('admin-list') });
    assert.equal(error, null, error?.message);
  }
  const first = await admin.listUsers({ page: 1, perPage: 2 });
  assert.equal(first.error, null, first.error?.message);
  assert.equal(first.data.users.length, 2);
  assert.ok(first.data.total >= 3, `total ${first.data.total}`);
  assert.equal(first.data.nextPage, 2);
  assert.equal(first.data.aud, 'authenticated');
  assert.ok(first.data.lastPage >= 2);

  const second = await admin.listUsers({ page: 2, perPage: 2 });
  assert.equal(second.error, null);
  const ids = new Set(first.data.users.map((u) => u.id));
  assert.ok(second.data.users.every((u) => !ids.has(u.id)), 'page 2 does not repeat page 1');
});

test('admin.getUserById, updateUserById, deleteUser', { skip: !serviceKey }, async () => {
  const admin = adminClient();
  const { user, client } = await signUpNew('admin-crud');

  const got = await admin.getUserById(user.id);
  assert.equal(got.error, null, got.error?.message);
  assert.equal(got.data.user.email, user.email);

  const newEmail = uniqueEmail('admin-moved');
  const updated = await admin.updateUserById(user.id, { email: newEmail, user_metadata: { role: 'editor' }, ban_duration: '1h' });
  assert.equal(updated.error, null, updated.error?.message);
  assert.equal(updated.data.user.email, newEmail);
  assert.equal(updated.data.user.user_metadata.role, 'editor');
  assert.ok(updated.data.user.banned_until);

  const bannedSignIn = await newClient().auth.signInWithPassword({ email: newEmail, password: PASSWORD });
  assert.equal(bannedSignIn.error?.code, 'user_banned');

  const deleted = await admin.deleteUser(user.id);
  assert.equal(deleted.error, null, deleted.error?.message);
  const gone = await admin.getUserById(user.id);
  assert.equal(gone.error?.status, 404);
  assert.equal(gone.error?.code, 'user_not_found');
  // The deleted user's session is over.
  const { error } = await client.auth.refreshSession();
  assert.ok(error, 'refresh after delete fails');
});

test('GET /admin/users/{non-UUID}: 404 validation_failed (auth-js refuses such ids before calling)', { skip: !serviceKey }, async () => {
  await assert.rejects(adminClient().getUserById('not-a-uuid'), /UUID/);
  const res = await rawAuth('GET', '/admin/users/not-a-uuid', { token: serviceKey });
  assert.equal(res.status, 404, res.text);
  assert.equal(res.json?.code, 'validation_failed');
});

test('admin.deleteUser soft delete keeps the row with deleted_at', { skip: !serviceKey }, async () => {
  const admin = adminClient();
  const { data } = await admin.createUser({ email: uniqueEmail('admin-soft') });
  const { error } = await admin.deleteUser(data.user.id, true);
  assert.equal(error, null, error?.message);
  const got = await admin.getUserById(data.user.id);
  assert.ok(got.data.user.deleted_at);
  assert.notEqual(got.data.user.email, data.user.email);
});

test('admin.mfa.listFactors on a user without factors: empty list', { skip: !serviceKey }, async () => {
  const { data } = await adminClient().createUser({ email: uniqueEmail('admin-mfa') });
  const res = await adminClient().mfa.listFactors({ userId: data.user.id });
  assert.equal(res.error, null, res.error?.message);
  assert.deepEqual(res.data.factors, []);
});

test('admin calls with the anon key: 403 not_admin', async () => {
  const admin = createClient(url, process.env.SUPABASE_ANON_KEY, {
    auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws },
  }).auth.admin;
  const { error } = await admin.listUsers();
  assert.equal(error?.status, 403);
  assert.equal(error?.code, 'not_admin');
});
