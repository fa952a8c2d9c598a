// Anonymous sign-in, signInWithIdToken (Google and Apple flavours) against the local OIDC issuer,
// linkIdentity by ID token and by OAuth (this test plays the browser), getUserIdentities, unlinkIdentity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { newClient, uniqueEmail, signUpNew, jwtPayload } from './lib/helpers.mjs';

const issuer = process.env.OIDC_ISSUER_URL;
assert.ok(issuer, 'OIDC_ISSUER_URL must be set (tests/e2e/run.sh starts the issuer)');

/** An ID token signed by the local issuer. */
async function idToken(claims) {
  const res = await fetch(`${issuer}/_test/sign`, { method: 'POST', body: JSON.stringify(claims) });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

/** Who logs in at the issuer's next /authorize. */
async function nextOAuthUser(user) {
  await fetch(`${issuer}/_test/next-user`, { method: 'POST', body: JSON.stringify(user) });
}

/** Follows provider URL → issuer → our /callback like a browser; returns the final redirect target. */
async function driveOAuth(providerUrl) {
  const atIssuer = await fetch(providerUrl, { redirect: 'manual' });
  assert.equal(atIssuer.status, 302);
  const callback = await fetch(atIssuer.headers.get('location'), { redirect: 'manual' });
  assert.equal(callback.status, 302, await callback.text());
  return new URL(callback.headers.get('location'));
}

test('signInAnonymously gives an anonymous session; updateUser with email + password makes it permanent', async () => {
  const client = newClient();
  const { data, error } = await client.auth.signInAnonymously({ options: { data: { color: 'teal' } } });
  assert.equal(error, null);
  assert.ok(data.session);
  assert.equal(data.user.is_anonymous, true);
  assert.deepEqual(data.user.identities, []);
  assert.equal(data.user.user_metadata.color, 'teal');
  assert.equal(jwtPayload(data.session.access_token).is_anonymous, true);
  const id = data.user.id;

  const email = uniqueEmail('anon-upgrade');
  const updated = await client.auth.updateUser({ email, password: 'anon-upgrade-pass-1' });
  assert.equal(updated.error, null);
  assert.equal(updated.data.user.id, id);
  assert.equal(updated.data.user.is_anonymous, false);
  assert.equal(updated.data.user.email, email);

  const again = newClient();
  const signedIn = await again.auth.signInWithPassword({ email, password: 'anon-upgrade-pass-1' });
  assert.equal(signedIn.error, null);
  assert.equal(signedIn.data.user.id, id);
});

test('signInWithIdToken (Google flavour, hashed nonce) creates a user with a google identity', async () => {
  const client = newClient();
  const email = uniqueEmail('google');
  const rawNonce = randomUUID();
  const token = await idToken({
    aud: 'google-ios-client', sub: `g-${randomUUID()}`, email, email_verified: true, name: 'Gee',
    nonce: createHash('sha256').update(rawNonce).digest('hex'),
  });

  const { data, error } = await client.auth.signInWithIdToken({ provider: 'google', token, nonce: rawNonce });
  assert.equal(error, null);
  assert.equal(data.user.email, email);
  assert.equal(data.user.app_metadata.provider, 'google');
  assert.equal(data.user.identities[0].provider, 'google');
  assert.equal(jwtPayload(data.session.access_token).amr[0].method, 'oauth');

  const { data: session } = await client.auth.getSession();
  assert.equal(session.session.user.id, data.user.id);
});

test('signInWithIdToken (Apple flavour, bundle id audience, string email_verified)', async () => {
  const client = newClient();
  const email = uniqueEmail('apple');
  const token = await idToken({ aud: 'com.example.ios', sub: `a-${randomUUID()}`, email, email_verified: 'true', is_private_email: 'true' });

  const { data, error } = await client.auth.signInWithIdToken({ provider: 'apple', token });
  assert.equal(error, null);
  assert.equal(data.user.email, email);
  assert.ok(data.user.email_confirmed_at);
  assert.equal(data.user.identities[0].provider, 'apple');
});

test('signInWithIdToken errors: wrong audience and nonce mismatch surface GoTrue messages', async () => {
  const client = newClient();
  const wrongAud = await idToken({ aud: 'someone-else', sub: `x-${randomUUID()}`, email: uniqueEmail('x'), email_verified: true });
  const a = await client.auth.signInWithIdToken({ provider: 'google', token: wrongAud });
  assert.equal(a.data.session, null);
  assert.equal(a.error?.status, 400);
  assert.equal(a.error?.message, 'Unacceptable audience in id_token: [someone-else]');

  const badNonce = await idToken({ aud: 'oauth-client', sub: `y-${randomUUID()}`, email: uniqueEmail('y'), email_verified: true, nonce: 'abc' });
  const b = await client.auth.signInWithIdToken({ provider: 'google', token: badNonce, nonce: 'not-abc' });
  assert.equal(b.error?.message, 'Nonces mismatch');
});

test('linkIdentity with an ID token upgrades an anonymous user; getUserIdentities lists it', async () => {
  const client = newClient();
  const anon = await client.auth.signInAnonymously();
  assert.equal(anon.error, null);
  const email = uniqueEmail('link-token');
  const token = await idToken({ aud: 'oauth-client', sub: `l-${randomUUID()}`, email, email_verified: true });

  const { data, error } = await client.auth.linkIdentity({ provider: 'google', token });
  assert.equal(error, null);
  assert.equal(data.user.id, anon.data.user.id);
  assert.equal(data.user.is_anonymous, false);
  assert.equal(data.user.email, email);

  const identities = await client.auth.getUserIdentities();
  assert.equal(identities.error, null);
  assert.deepEqual(identities.data.identities.map((i) => i.provider), ['google']);
});

test('linkIdentity by OAuth (browser driven), then unlinkIdentity removes it', async () => {
  const { client, user } = await signUpNew('link-oauth');
  const sub = `o-${randomUUID()}`;
  await nextOAuthUser({ sub, email: uniqueEmail('link-oauth-google'), email_verified: true });

  const { data, error } = await client.auth.linkIdentity({
    provider: 'google',
    options: { redirectTo: 'http://localhost:3000/linked', skipBrowserRedirect: true },
  });
  assert.equal(error, null);
  assert.ok(data.url.startsWith(`${issuer}/authorize?`), data.url);
  const landing = await driveOAuth(data.url);
  assert.equal(`${landing.origin}${landing.pathname}`, 'http://localhost:3000/linked');
  const fragment = new URLSearchParams(landing.hash.slice(1));
  assert.ok(fragment.get('access_token'), landing.toString());
  assert.equal(jwtPayload(fragment.get('access_token')).sub, user.id);

  let identities = (await client.auth.getUserIdentities()).data.identities;
  assert.deepEqual(identities.map((i) => i.provider).sort(), ['email', 'google']);
  const google = identities.find((i) => i.provider === 'google');
  assert.equal(google.id, sub);

  const unlinked = await client.auth.unlinkIdentity(google);
  assert.equal(unlinked.error, null);
  identities = (await client.auth.getUserIdentities()).data.identities;
  assert.deepEqual(identities.map((i) => i.provider), ['email']);

  const last = await client.auth.unlinkIdentity(identities[0]);
  assert.equal(last.error?.code, 'single_identity_not_deletable');
});

test('signInWithOAuth URL: the browser flow lands with a session in the fragment', async () => {
  const client = newClient();
  const email = uniqueEmail('oauth-signin');
  await nextOAuthUser({ sub: `s-${randomUUID()}`, email, email_verified: true });
  const { data, error } = await client.auth.signInWithOAuth({
    provider: 'google',
    options: { redirectTo: 'http://localhost:3000/welcome', skipBrowserRedirect: true },
  });
  assert.equal(error, null);
  const atAuthorize = await fetch(data.url, { redirect: 'manual' });
  assert.equal(atAuthorize.status, 302);
  const landing = await driveOAuth(atAuthorize.headers.get('location'));
  const fragment = new URLSearchParams(landing.hash.slice(1));
  assert.equal(fragment.get('signup'), 'true');
  const set = await client.auth.setSession({
    access_token: fragment.get('access_token'),
    refresh_token: fragment.get('refresh_token'),
  });
  assert.equal(set.error, null);
  assert.equal(set.data.user.email, email);
});
