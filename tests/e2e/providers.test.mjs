// signInWithOAuth with two table providers (GitHub, Discord) against lib/social-providers.mjs:
// the implicit flow's fragment session and the PKCE flow's exchangeCodeForSession.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { newClient, uniqueEmail, url, anonKey } from './lib/helpers.mjs';

const social = process.env.SOCIAL_PROVIDERS_URL;

async function nextUser(provider, email) {
  const user = { id: String(randomInt(1, 2 ** 47)), login: `u${randomInt(1, 1e9)}`, name: 'Ada Lovelace', email };
  await fetch(`${social}/_test/next-user`, { method: 'POST', body: JSON.stringify({ provider, user }) });
  return user;
}

/** Follows the authorize URL → provider (auto-consent) → our /callback like a browser; the final target. */
async function browse(authorizeUrl) {
  const atAuthorize = await fetch(authorizeUrl, { redirect: 'manual' });
  assert.equal(atAuthorize.status, 302, await atAuthorize.text());
  const atProvider = await fetch(atAuthorize.headers.get('location'), { redirect: 'manual' });
  assert.equal(atProvider.status, 302, await atProvider.text());
  const callback = await fetch(atProvider.headers.get('location'), { redirect: 'manual' });
  assert.equal(callback.status, 302, await callback.text());
  return new URL(callback.headers.get('location'));
}

test('GitHub: signInWithOAuth lands with a session in the fragment, identity data from /user and /user/emails', async () => {
  const client = newClient();
  const email = uniqueEmail('github');
  const gh = await nextUser('github', email);
  const { data, error } = await client.auth.signInWithOAuth({
    provider: 'github',
    options: { redirectTo: 'http://localhost:3000/welcome', skipBrowserRedirect: true, scopes: 'read:org' },
  });
  assert.equal(error, null);
  assert.match(data.url, /provider=github/);

  const landing = await browse(data.url);
  const fragment = new URLSearchParams(landing.hash.slice(1));
  assert.equal(fragment.get('signup'), 'true');
  assert.match(fragment.get('provider_token'), /^at-/);
  const set = await client.auth.setSession({
    access_token: fragment.get('access_token'),
    refresh_token: fragment.get('refresh_token'),
  });
  assert.equal(set.error, null);
  assert.equal(set.data.user.email, email);
  const identity = set.data.user.identities.find((i) => i.provider === 'github');
  assert.equal(identity.identity_data.user_name, gh.login);
  assert.equal(identity.identity_data.provider_id, gh.id);
  assert.equal(identity.identity_data.email_verified, true);
  assert.equal(set.data.user.app_metadata.provider, 'github');
});

test('Discord: PKCE signInWithOAuth, then exchangeCodeForSession; a second sign-in is the same user', async () => {
  const client = createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType: 'pkce' },
    realtime: { transport: ws },
  });
  const email = uniqueEmail('discord');
  const dc = await nextUser('discord', email);

  const first = await client.auth.signInWithOAuth({
    provider: 'discord',
    options: { redirectTo: 'http://localhost:3000/cb', skipBrowserRedirect: true },
  });
  assert.equal(first.error, null);
  assert.match(first.data.url, /code_challenge=/);
  const landing = await browse(first.data.url);
  assert.equal(landing.origin + landing.pathname, 'http://localhost:3000/cb');
  const code = landing.searchParams.get('code');
  assert.ok(code);
  const exchanged = await client.auth.exchangeCodeForSession(code);
  assert.equal(exchanged.error, null);
  assert.equal(exchanged.data.user.email, email);
  assert.equal(exchanged.data.session.provider_token.startsWith('at-'), true);
  const identity = exchanged.data.user.identities.find((i) => i.provider === 'discord');
  assert.equal(identity.id, dc.id);
  assert.equal(identity.identity_data.custom_claims.global_name, 'Ada Lovelace');

  const again = await client.auth.signInWithOAuth({
    provider: 'discord',
    options: { redirectTo: 'http://localhost:3000/cb', skipBrowserRedirect: true },
  });
  const second = await browse(again.data.url);
  assert.equal(second.searchParams.get('signup'), null);
  const session = await client.auth.exchangeCodeForSession(second.searchParams.get('code'));
  assert.equal(session.error, null);
  assert.equal(session.data.user.id, exchanged.data.user.id);

  // The same code twice is refused.
  const replay = await client.auth.exchangeCodeForSession(code);
  assert.notEqual(replay.error, null);
});

test('an unknown provider: signInWithOAuth URL answers the reference error', async () => {
  const res = await fetch(`${url}/auth/v1/authorize?provider=myspace`, { headers: { apikey: anonKey } });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error_code, 'validation_failed');
  assert.equal(body.msg, 'Unsupported provider: Provider myspace could not be found');
});
