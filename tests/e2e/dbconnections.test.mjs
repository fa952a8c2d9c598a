// POST /dbconnections/signup (the Auth0 / Faable-style sign-up) with plain fetch, then sign-in and the
// profile layer through the real supabase-js. run.sh starts the server with mailer autoconfirm on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { url, newClient, uniqueEmail, PASSWORD } from './lib/helpers.mjs';

const serviceRoleKey = process.env.SUPABASE_SERVICE_ROLE_KEY;

/** A connection of our own, with one client allowed, created with the service_role key. */
async function createConnection() {
  const clientId = `e2e-${randomUUID()}`;
  const res = await fetch(`${url}/auth/v1/connections`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${serviceRoleKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: `e2e-${randomUUID()}`, enabled_clients: [clientId] }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return { clientId, connection: JSON.parse(text) };
}

function dbSignup(body) {
  return fetch(`${url}/auth/v1/dbconnections/signup`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

test('dbconnections/signup then signInWithPassword through supabase-js', async () => {
  const { clientId } = await createConnection();
  const email = uniqueEmail('dbconn');

  const res = await dbSignup({ client_id: clientId, email, password: PASSWORD, name: 'Ada Lovelace' });
  assert.equal(res.status, 200);
  const created = await res.json();
  assert.equal(created.status, 'created');
  assert.match(created.user_id, /^[0-9a-f-]{36}$/);

  const client = newClient();
  const { data, error } = await client.auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(error, null, `signInWithPassword failed: ${error?.message}`);
  assert.equal(data.user.id, created.user_id);
  assert.equal(data.user.user_metadata.name, 'Ada Lovelace');

  // The profile row was created with the user; read it with the new session's token.
  const profile = await fetch(`${url}/auth/v1/profile`, {
    headers: { Authorization: `Bearer ${data.session.access_token}` },
  });
  assert.equal(profile.status, 200);
  const row = await profile.json();
  assert.equal(row.id, created.user_id);
  assert.equal(row.display_name, 'Ada Lovelace');
});

test('dbconnections/signup of a taken email answers 409 email_taken', async () => {
  const { clientId } = await createConnection();
  const email = uniqueEmail('dbconn-taken');
  assert.equal((await dbSignup({ client_id: clientId, email, password: PASSWORD })).status, 200);

  const res = await dbSignup({ client_id: clientId, email, password: PASSWORD });

  assert.equal(res.status, 409);
  assert.equal((await res.json()).code, 'email_taken');
});
