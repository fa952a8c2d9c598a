// Email flows through the real supabase-js against the server instance with mailer autoconfirm off,
// reading codes and links from the mail catcher (tests/e2e/run.sh starts both).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';
import { anonKey, uniqueEmail, PASSWORD, signUpNew, jwtPayload } from './lib/helpers.mjs';

const mailUrl = process.env.SUPABASE_MAIL_URL;
const inbox = process.env.MAILCATCHER_URL;
if (!mailUrl || !inbox) throw new Error('SUPABASE_MAIL_URL and MAILCATCHER_URL must be set (tests/e2e/run.sh sets them)');

function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

function mailClient(flowType = 'implicit') {
  return createClient(mailUrl, anonKey, {
    auth: { persistSession: true, storage: memoryStorage(), autoRefreshToken: false, detectSessionInUrl: false, flowType },
    realtime: { transport: ws },
  });
}

/** Waits for the count-th mail to `to` and returns it with its code and link. */
async function mailTo(to, count = 1) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${inbox}/api/messages?to=${encodeURIComponent(to)}`);
    const messages = await res.json();
    if (messages.length >= count) {
      const m = messages[count - 1];
      const code = /code: ([0-9]+)/.exec(m.html)?.[1] ?? /^([0-9]+) is your verification code$/.exec(m.subject)?.[1];
      const href = /href="([^"]+)"/.exec(m.html)?.[1]?.replaceAll('&amp;', '&');
      return { ...m, code, link: href };
    }
    if (Date.now() > deadline) throw new Error(`no mail #${count} to ${to} within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('signUp with confirmation: no session, mail, verifyOtp signs in', async () => {
  const client = mailClient();
  const email = uniqueEmail('confirm');
  const { data, error } = await client.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  assert.equal(data.session, null);
  assert.equal(data.user.email, email);

  const mail = await mailTo(email);
  assert.equal(mail.subject, 'Confirm your email address');
  assert.match(mail.link, new RegExp(`^${mailUrl}/verify\\?token=[0-9a-f]{56}&type=signup&redirect_to=http://localhost:3000$`));
  const verified = await client.auth.verifyOtp({ email, token: mail.code, type: 'signup' });
  assert.equal(verified.error, null);
  assert.ok(verified.data.session.access_token);
  assert.ok(verified.data.user.email_confirmed_at);

  const signIn = await mailClient().auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(signIn.error, null);
});

test('signInWithOtp + verifyOtp, and a reused code is rejected', async () => {
  const email = uniqueEmail('otp');
  const client = mailClient();
  const sent = await client.auth.signInWithOtp({ email });
  assert.equal(sent.error, null);
  const mail = await mailTo(email);
  const { data, error } = await client.auth.verifyOtp({ email, token: mail.code, type: 'email' });
  assert.equal(error, null);
  assert.equal(data.user.email, email);

  const again = await mailClient().auth.verifyOtp({ email, token: mail.code, type: 'email' });
  assert.equal(again.error?.code, 'otp_expired');
});

test('resend sends a new confirmation code', async () => {
  const email = uniqueEmail('resend');
  const client = mailClient();
  assert.equal((await client.auth.signUp({ email, password: PASSWORD })).error, null);
  await mailTo(email);
  await sleep(1100); // GOTRUE_SMTP_MAX_FREQUENCY=1s in run.sh
  const { error } = await client.auth.resend({ type: 'signup', email });
  assert.equal(error, null);
  const second = await mailTo(email, 2);
  const verified = await client.auth.verifyOtp({ email, token: second.code, type: 'signup' });
  assert.equal(verified.error, null);
});

test('resetPasswordForEmail + verifyOtp(recovery) + updateUser({ password })', async () => {
  const { email } = await signUpNew('reset');
  const client = mailClient();
  assert.equal((await client.auth.resetPasswordForEmail(email)).error, null);
  const mail = await mailTo(email);
  assert.equal(mail.subject, 'Reset your password');
  const verified = await client.auth.verifyOtp({ email, token: mail.code, type: 'recovery' });
  assert.equal(verified.error, null);
  const updated = await client.auth.updateUser({ password: 'a-brand-new-password-2' });
  assert.equal(updated.error, null);
  const signIn = await mailClient().auth.signInWithPassword({ email, password: 'a-brand-new-password-2' });
  assert.equal(signIn.error, null);
});

test('reauthenticate mails a nonce that updateUser accepts', async () => {
  const { email } = await signUpNew('reauth');
  const client = mailClient();
  assert.equal((await client.auth.signInWithPassword({ email, password: PASSWORD })).error, null);
  assert.equal((await client.auth.reauthenticate()).error, null);
  const mail = await mailTo(email);
  assert.match(mail.subject, /^[0-9]{6} is your verification code$/);
  const { error } = await client.auth.updateUser({ password: 'reauthenticated-password-3', nonce: mail.code });
  assert.equal(error, null);
});

test('PKCE client: magic link → exchangeCodeForSession', async () => {
  const { email } = await signUpNew('pkce');
  const client = mailClient('pkce');
  const sent = await client.auth.signInWithOtp({ email, options: { emailRedirectTo: 'http://localhost:3000/callback' } });
  assert.equal(sent.error, null);
  const mail = await mailTo(email);
  assert.match(mail.link, /token=pkce_[0-9a-f]{56}&type=magiclink&redirect_to=http:\/\/localhost:3000\/callback/);

  const res = await fetch(mail.link, { redirect: 'manual' });
  assert.equal(res.status, 303);
  const location = new URL(res.headers.get('location'));
  assert.equal(location.origin + location.pathname, 'http://localhost:3000/callback');
  const code = location.searchParams.get('code');
  assert.ok(code);

  const { data, error } = await client.auth.exchangeCodeForSession(code);
  assert.equal(error, null);
  assert.equal(data.user.email, email);
  assert.equal(jwtPayload(data.session.access_token).amr[0].method, 'magiclink');
  const reuse = await mailClient('pkce').auth.exchangeCodeForSession(code);
  assert.ok(reuse.error);
});

test('updateUser({ email }) with secure change: both links, then the new email', async () => {
  const { email } = await signUpNew('change');
  const client = mailClient();
  assert.equal((await client.auth.signInWithPassword({ email, password: PASSWORD })).error, null);
  const newEmail = uniqueEmail('changed');
  const { data, error } = await client.auth.updateUser({ email: newEmail });
  assert.equal(error, null);
  assert.equal(data.user.new_email, newEmail);

  const toNew = await mailTo(newEmail);
  const toCurrent = await mailTo(email);
  assert.equal(toNew.subject, 'Confirm your new email address');
  const first = await client.auth.verifyOtp({ email: newEmail, token: toNew.code, type: 'email_change' });
  assert.equal(first.error, null);
  assert.equal(first.data.session, null);
  const second = await client.auth.verifyOtp({ email, token: toCurrent.code, type: 'email_change' });
  assert.equal(second.error, null);
  assert.equal(second.data.user.email, newEmail);
});
