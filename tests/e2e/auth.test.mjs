// Sign-up, sign-in, getUser, getSession, onAuthStateChange and the errors supabase-js surfaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthApiError, isAuthApiError, isAuthWeakPasswordError } from '@supabase/supabase-js';
import { newClient, uniqueEmail, signUpNew, PASSWORD, jwtPayload, url } from './lib/helpers.mjs';

test('GET /health answers 200 JSON at the root and under /auth/v1', async () => {
  for (const path of ['/health', '/auth/v1/health']) {
    const res = await fetch(`${url}${path}`);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/, path);
    await res.json();
  }
});

test('signUp with autoconfirm on returns a confirmed user and a session', async () => {
  const client = newClient();
  const email = uniqueEmail('signup');
  const { data, error } = await client.auth.signUp({
    email,
    password: PASSWORD,
    options: { data: { display_name: 'E2E Tester' } },
  });
  assert.equal(error, null);
  const { user, session } = data;
  assert.ok(session, 'session returned');
  assert.ok(user);
  assert.equal(user.email, email);
  assert.equal(user.aud, 'authenticated');
  assert.equal(user.role, 'authenticated');
  assert.ok(user.email_confirmed_at, 'email_confirmed_at set by autoconfirm');
  assert.equal(user.user_metadata.display_name, 'E2E Tester');
  assert.equal(user.app_metadata.provider, 'email');
  assert.deepEqual(user.app_metadata.providers, ['email']);
  assert.ok(Array.isArray(user.identities) && user.identities.length === 1, 'one email identity');
  assert.equal(user.identities[0].provider, 'email');

  assert.equal(session.token_type, 'bearer');
  assert.ok(session.access_token);
  assert.ok(session.refresh_token);
  assert.ok(session.expires_in > 0);
  assert.ok(session.expires_at > Math.floor(Date.now() / 1000));
  assert.equal(session.user.id, user.id);

  const claims = jwtPayload(session.access_token);
  assert.equal(claims.sub, user.id);
  assert.equal(claims.role, 'authenticated');
  assert.equal(claims.aud, 'authenticated');
  assert.equal(claims.email, email);
  assert.ok(claims.session_id, 'session_id claim');
  assert.equal(claims.aal, 'aal1');
  assert.equal(claims.is_anonymous, false);

  // The client keeps the session it got.
  const { data: got } = await client.auth.getSession();
  assert.equal(got.session?.access_token, session.access_token);
});

test('signInWithPassword returns a new session; getUser returns the user', async () => {
  const { email, user, session: signUpSession } = await signUpNew('signin');
  const client = newClient();
  const { data, error } = await client.auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(error, null);
  assert.ok(data.session);
  assert.equal(data.user.id, user.id);
  assert.ok(data.user.last_sign_in_at);
  assert.notEqual(
    jwtPayload(data.session.access_token).session_id,
    jwtPayload(signUpSession.access_token).session_id,
    'each sign-in is a session of its own',
  );
  assert.deepEqual(jwtPayload(data.session.access_token).amr?.map((a) => a.method), ['password']);

  const { data: got, error: getErr } = await client.auth.getUser();
  assert.equal(getErr, null);
  assert.equal(got.user.id, user.id);
  assert.equal(got.user.email, email);

  // getUser with an explicit JWT, on a client without a session.
  const { data: got2, error: getErr2 } = await newClient().auth.getUser(data.session.access_token);
  assert.equal(getErr2, null);
  assert.equal(got2.user.id, user.id);
});

test('signInWithPassword matches the email case-insensitively', async () => {
  const { email, user } = await signUpNew('case');
  const { data, error } = await newClient().auth.signInWithPassword({
    email: email.toUpperCase(),
    password: PASSWORD,
  });
  assert.equal(error, null);
  assert.equal(data.user.id, user.id);
});

test('getSession is null before sign-in and the signed-in session after', async () => {
  const { email } = await signUpNew('getsession');
  const client = newClient();
  const before = await client.auth.getSession();
  assert.equal(before.error, null);
  assert.equal(before.data.session, null);

  const { data } = await client.auth.signInWithPassword({ email, password: PASSWORD });
  const after = await client.auth.getSession();
  assert.equal(after.error, null);
  assert.equal(after.data.session.access_token, data.session.access_token);
  assert.equal(after.data.session.refresh_token, data.session.refresh_token);
  assert.equal(after.data.session.user.email, email);
});

test('onAuthStateChange reports SIGNED_IN, then SIGNED_OUT', async () => {
  const { email } = await signUpNew('events');
  const client = newClient();
  const events = [];
  const {
    data: { subscription },
  } = client.auth.onAuthStateChange((event, session) => {
    events.push({ event, email: session?.user?.email ?? null });
  });
  try {
    const { error } = await client.auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(error, null);
    const signedIn = events.find((e) => e.event === 'SIGNED_IN');
    assert.ok(signedIn, `SIGNED_IN among ${JSON.stringify(events)}`);
    assert.equal(signedIn.email, email);

    assert.equal((await client.auth.signOut()).error, null);
    assert.ok(events.some((e) => e.event === 'SIGNED_OUT'), `SIGNED_OUT among ${JSON.stringify(events)}`);
  } finally {
    subscription.unsubscribe();
  }
});

test('wrong password: AuthApiError 400 invalid_credentials "Invalid login credentials"', async () => {
  const { email } = await signUpNew('wrongpw');
  const { data, error } = await newClient().auth.signInWithPassword({ email, password: 'not-the-password' });
  assert.ok(error instanceof AuthApiError, `AuthApiError, got ${error?.name}`);
  assert.ok(isAuthApiError(error));
  assert.equal(error.status, 400);
  assert.equal(error.code, 'invalid_credentials');
  assert.equal(error.message, 'Invalid login credentials');
  assert.equal(data.session, null);
  assert.equal(data.user, null);
});

test('unknown email: same invalid_credentials error as a wrong password (no enumeration)', async () => {
  const { error } = await newClient().auth.signInWithPassword({
    email: uniqueEmail('nobody'),
    password: PASSWORD,
  });
  assert.ok(isAuthApiError(error));
  assert.equal(error.status, 400);
  assert.equal(error.code, 'invalid_credentials');
  assert.equal(error.message, 'Invalid login credentials');
});

test('duplicate signUp with autoconfirm on: 422 user_already_exists', async () => {
  const { email } = await signUpNew('dup');
  const { data, error } = await newClient().auth.signUp({ email, password: PASSWORD });
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 422);
  assert.equal(error.code, 'user_already_exists');
  assert.equal(error.message, 'User already registered');
  assert.equal(data.session, null);
});

test('weak password on signUp: AuthWeakPasswordError with reasons ["length"]', async () => {
  const client = newClient();
  const { data, error } = await client.auth.signUp({ email: uniqueEmail('weak'), password: '123' });
  assert.ok(isAuthWeakPasswordError(error), `AuthWeakPasswordError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 422);
  assert.equal(error.code, 'weak_password');
  assert.deepEqual(error.reasons, ['length']);
  assert.equal(error.message, 'Password should be at least 6 characters.');
  assert.equal(data.session, null);
  assert.equal((await client.auth.getSession()).data.session, null);
});

test('signUp with an invalid email: 400 validation_failed', async () => {
  const { error } = await newClient().auth.signUp({ email: 'not-an-email', password: PASSWORD });
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 400);
  assert.equal(error.code, 'validation_failed');
});

test('routes answer at the root too: POST /token at / signs in like /auth/v1/token', async () => {
  const { email, user } = await signUpNew('rootpath');
  const res = await fetch(`${url}/token?grant_type=password`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.user.id, user.id);
  assert.ok(body.access_token && body.refresh_token);
});

test('error bodies: 2024-01-01 shape with the version header echoed, legacy shape without it', async () => {
  const { email } = await signUpNew('errshape');
  const login = (headers) =>
    fetch(`${url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ email, password: 'wrong-password' }),
    });

  const modern = await login({ 'X-Supabase-Api-Version': '2024-01-01' });
  assert.equal(modern.status, 400);
  assert.equal(modern.headers.get('x-supabase-api-version'), '2024-01-01');
  assert.equal(modern.headers.get('x-sb-error-code'), 'invalid_credentials');
  assert.deepEqual(await modern.json(), { code: 'invalid_credentials', message: 'Invalid login credentials' });

  const legacy = await login({});
  assert.equal(legacy.status, 400);
  assert.equal(legacy.headers.get('x-supabase-api-version'), null);
  assert.equal(legacy.headers.get('x-sb-error-code'), 'invalid_credentials');
  assert.deepEqual(await legacy.json(), {
    code: 400,
    error_code: 'invalid_credentials',
    msg: 'Invalid login credentials',
  });
});

test('signUp with an existing email in other letter case: 422 user_already_exists', async () => {
  const { email } = await signUpNew('dupcase');
  const { error } = await newClient().auth.signUp({ email: email.toUpperCase(), password: PASSWORD });
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 422);
  assert.equal(error.code, 'user_already_exists');
});

test('a password over 72 characters is rejected: 400 validation_failed', async () => {
  const { error } = await newClient().auth.signUp({ email: uniqueEmail('long'), password: 'x'.repeat(73) });
  assert.ok(isAuthApiError(error), `AuthApiError, got ${error?.name}: ${error?.message}`);
  assert.equal(error.status, 400);
  assert.equal(error.code, 'validation_failed');
  assert.equal(error.message, 'Password cannot be longer than 72 characters');
});

test('GET /settings reports the email provider on and mailer autoconfirm on', async () => {
  const res = await fetch(`${url}/auth/v1/settings`);
  assert.equal(res.status, 200);
  const settings = await res.json();
  assert.equal(settings.external?.email, true);
  assert.equal(settings.mailer_autoconfirm, true);
  assert.equal(settings.disable_signup, false);
});
