// Phone flows through the real supabase-js: SMS OTPs go to the Twilio-shaped provider that
// tests/e2e/run.sh starts (lib/sms-provider.mjs); codes are read from the messages it received.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newClient, signUpNew, PASSWORD, jwtPayload } from './lib/helpers.mjs';

const provider = process.env.SMS_PROVIDER_URL;
if (!provider) throw new Error('SMS_PROVIDER_URL must be set (tests/e2e/run.sh sets it)');

function newPhone() {
  return `1555${Math.floor(1_000_000 + Math.random() * 8_999_999)}`;
}

/** The code in the count-th SMS to +phone. */
async function smsCode(phone, count = 1) {
  const res = await fetch(`${provider}/api/messages?to=${encodeURIComponent(`+${phone}`)}`);
  const messages = await res.json();
  assert.ok(messages.length >= count, `expected ${count} SMS to +${phone}, got ${messages.length}`);
  const match = /^Your code is ([0-9]{6})$/.exec(messages[count - 1].body);
  assert.ok(match, `unexpected SMS body: ${messages[count - 1].body}`);
  return match[1];
}

test('signUp with a phone sends an SMS; verifyOtp type sms confirms and signs in', async () => {
  const client = newClient();
  const phone = newPhone();

  const { data, error } = await client.auth.signUp({ phone: `+${phone}`, password: PASSWORD });
  assert.equal(error, null);
  assert.equal(data.session, null);
  assert.equal(data.user.phone, phone);

  const verified = await client.auth.verifyOtp({ phone: `+${phone}`, token: await smsCode(phone), type: 'sms' });
  assert.equal(verified.error, null);
  assert.ok(verified.data.session.access_token);
  assert.ok(verified.data.user.phone_confirmed_at);
  assert.equal(jwtPayload(verified.data.session.access_token).phone, phone);

  const signedIn = await newClient().auth.signInWithPassword({ phone: `+${phone}`, password: PASSWORD });
  assert.equal(signedIn.error, null);
});

test('signInWithOtp with a phone, then verifyOtp, signs in; a wrong code is refused', async () => {
  const client = newClient();
  const phone = newPhone();

  const sent = await client.auth.signInWithOtp({ phone: `+${phone}` });
  assert.equal(sent.error, null);

  const wrong = await client.auth.verifyOtp({ phone: `+${phone}`, token: '000000' === (await smsCode(phone)) ? '000001' : '000000', type: 'sms' });
  assert.equal(wrong.error?.code, 'otp_expired');
  assert.equal(wrong.error?.status, 403);

  const verified = await client.auth.verifyOtp({ phone: `+${phone}`, token: await smsCode(phone), type: 'sms' });
  assert.equal(verified.error, null);
  assert.equal(verified.data.user.phone, phone);
  assert.deepEqual(verified.data.user.app_metadata.providers, ['phone']);
});

test('updateUser({ phone }) sends an SMS to the new phone; verifyOtp type phone_change applies it', async () => {
  const { client } = await signUpNew('phone-change');
  const phone = newPhone();

  const updated = await client.auth.updateUser({ phone: `+${phone}` });
  assert.equal(updated.error, null);
  assert.equal(updated.data.user.new_phone, phone);
  assert.equal(updated.data.user.phone, '');

  const verified = await client.auth.verifyOtp({ phone: `+${phone}`, token: await smsCode(phone), type: 'phone_change' });
  assert.equal(verified.error, null);
  assert.equal(verified.data.user.phone, phone);
  assert.ok(verified.data.user.identities.some((i) => i.provider === 'phone'));

  const { data } = await client.auth.getUser();
  assert.equal(data.user.phone, phone);
});
