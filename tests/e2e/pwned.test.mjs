// Leaked-password protection (GOTRUE_PASSWORD_HIBP_ENABLED, run.sh points it at lib/pwned-passwords.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isAuthWeakPasswordError } from '@supabase/supabase-js';
import { newClient, signUpNew, uniqueEmail } from './lib/helpers.mjs';

// Listed by lib/pwned-passwords.mjs as seen in breaches.
const PWNED_PASSWORD = 'pwned-by-e2e-Passw0rd';
const PWNED_MESSAGE = 'Password is known to be weak and easy to guess, please choose a different one.';

test('signUp with a pwned password: AuthWeakPasswordError with reason pwned, no session', async () => {
  const { data, error } = await newClient().auth.signUp({ email: uniqueEmail('pwned'), password: PWNED_PASSWORD });

  assert.ok(isAuthWeakPasswordError(error), `expected AuthWeakPasswordError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 422);
  assert.equal(error.code, 'weak_password');
  assert.deepEqual(error.reasons, ['pwned']);
  assert.equal(error.message, PWNED_MESSAGE);
  assert.equal(data.session, null);
});

test('updateUser with a pwned password: AuthWeakPasswordError; a clean one still works', async () => {
  const { client } = await signUpNew('pwned-update');

  const refused = await client.auth.updateUser({ password: PWNED_PASSWORD });
  assert.ok(isAuthWeakPasswordError(refused.error), `expected AuthWeakPasswordError, got ${refused.error?.name}`);
  assert.deepEqual(refused.error.reasons, ['pwned']);

  const accepted = await client.auth.updateUser({ password: 'a-clean-new-password-9' });
  assert.equal(accepted.error, null);
});

test('only the 5-character SHA-1 prefix reaches the range API', async () => {
  await newClient().auth.signUp({ email: uniqueEmail('pwned-prefix'), password: PWNED_PASSWORD });
  const hash = createHash('sha1').update(PWNED_PASSWORD).digest('hex').toUpperCase();

  const requests = await (await fetch(`${process.env.PWNED_PASSWORDS_URL}/api/requests`)).json();
  const ours = requests.filter((r) => r.path === `/range/${hash.slice(0, 5)}`);
  assert.ok(ours.length > 0, 'the server asked for the prefix');
  for (const r of requests) {
    const seen = JSON.stringify(r);
    assert.ok(!seen.includes(PWNED_PASSWORD) && !seen.includes(hash.slice(5)), `leak in ${seen}`);
    assert.equal(r.headers['add-padding'], 'true');
  }
});
