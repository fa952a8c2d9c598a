// Shared helpers for the e2e suite. The server under test comes from the environment
// (tests/e2e/run.sh sets these): SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';

export const url = process.env.SUPABASE_URL;
export const anonKey = process.env.SUPABASE_ANON_KEY;
if (!url || !anonKey) {
  throw new Error('SUPABASE_URL and SUPABASE_ANON_KEY must be set (tests/e2e/run.sh sets them)');
}

/** A fresh supabase-js client with its own in-memory session. */
export function newClient() {
  return createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // supabase-js builds a realtime client up front, and on Node 20 (no global WebSocket) it needs
    // one given. Realtime is never connected by these tests.
    realtime: { transport: ws },
  });
}

/** A unique, valid email address per call. */
export function uniqueEmail(tag = 'user') {
  return `e2e-${tag}-${randomUUID()}@example.com`;
}

export const PASSWORD = 'correct-horse-battery-staple-1';

/** Signs a new user up (autoconfirm is on) and returns { client, email, password, session, user }. */
export async function signUpNew(tag = 'user', password = PASSWORD) {
  const client = newClient();
  const email = uniqueEmail(tag);
  const { data, error } = await client.auth.signUp({ email, password });
  assert.equal(error, null, `signUp failed: ${error?.message}`);
  assert.ok(data.session, 'signUp with autoconfirm on must return a session');
  return { client, email, password, session: data.session, user: data.user };
}

/** Signs in with a fresh client: another device / another session of the same user. */
export async function signInNew(email, password = PASSWORD) {
  const client = newClient();
  const { data, error } = await client.auth.signInWithPassword({ email, password });
  assert.equal(error, null, `signInWithPassword failed: ${error?.message}`);
  assert.ok(data.session);
  return { client, session: data.session };
}

/** Refreshes with an explicit refresh token on a throwaway client (does not touch other clients). */
export async function refreshWith(refreshToken) {
  return newClient().auth.refreshSession({ refresh_token: refreshToken });
}

/** Decodes a JWT payload without verifying it. */
export function jwtPayload(token) {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

/** Raw call to the auth API, as supabase-js would make it (apikey + API version header). */
export async function rawAuth(method, path, { token, body } = {}) {
  const headers = { apikey: anonKey, 'X-Supabase-Api-Version': '2024-01-01' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${url}/auth/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
