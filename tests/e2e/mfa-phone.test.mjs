// Phone MFA and the SMS test-OTP path through the real supabase-js. SMS go to the Twilio-shaped provider
// that tests/e2e/run.sh starts (lib/sms-provider.mjs); codes are read from the messages it received.
// run.sh turns phone MFA on (GOTRUE_MFA_PHONE_*) and lists SMS_TEST_PHONE in GOTRUE_SMS_TEST_OTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAuthApiError } from '@supabase/supabase-js';
import { newClient, signUpNew, jwtPayload } from './lib/helpers.mjs';

const provider = process.env.SMS_PROVIDER_URL;
const testPhone = process.env.SMS_TEST_PHONE;
const testOtp = process.env.SMS_TEST_OTP;
if (!provider || !testPhone || !testOtp) {
  throw new Error('SMS_PROVIDER_URL, SMS_TEST_PHONE and SMS_TEST_OTP must be set (tests/e2e/run.sh sets them)');
}

function newPhone() {
  return `1555${Math.floor(1_000_000 + Math.random() * 8_999_999)}`;
}

async function messagesTo(phone) {
  const res = await fetch(`${provider}/api/messages?to=${encodeURIComponent(`+${phone}`)}`);
  return res.json();
}

/** The code in the count-th SMS to +phone. */
async function smsCode(phone, count = 1) {
  const messages = await messagesTo(phone);
  assert.ok(messages.length >= count, `expected ${count} SMS to +${phone}, got ${messages.length}`);
  const match = /^Your code is ([0-9]{6})$/.exec(messages[count - 1].body);
  assert.ok(match, `unexpected SMS body: ${messages[count - 1].body}`);
  return match[1];
}

test('mfa.enroll a phone factor → challenge sends an SMS → verify with its code gives aal2 (amr mfa/phone)', async () => {
  const { client } = await signUpNew('mfa-phone');
  const phone = newPhone();

  const enrolled = await client.auth.mfa.enroll({ factorType: 'phone', friendlyName: 'e2e sms', phone: `+${phone}` });
  assert.equal(enrolled.error, null, enrolled.error?.message);
  assert.equal(enrolled.data.type, 'phone');
  assert.equal(enrolled.data.friendly_name, 'e2e sms');
  assert.equal(enrolled.data.phone, `+${phone}`);

  const challenge = await client.auth.mfa.challenge({ factorId: enrolled.data.id });
  assert.equal(challenge.error, null, challenge.error?.message);
  assert.equal(challenge.data.type, 'phone');
  assert.ok(challenge.data.expires_at > Date.now() / 1000);
  const code = await smsCode(phone);

  const wrong = await client.auth.mfa.verify({
    factorId: enrolled.data.id, challengeId: challenge.data.id, code: code === '000000' ? '000001' : '000000',
  });
  assert.ok(isAuthApiError(wrong.error));
  assert.equal(wrong.error.code, 'mfa_verification_failed');
  assert.equal(wrong.error.message, 'Invalid MFA Phone code entered');

  const verified = await client.auth.mfa.verify({ factorId: enrolled.data.id, challengeId: challenge.data.id, code });
  assert.equal(verified.error, null, verified.error?.message);
  const claims = jwtPayload(verified.data.access_token);
  assert.equal(claims.aal, 'aal2');
  assert.ok(claims.amr.some((a) => a.method === 'mfa/phone'), JSON.stringify(claims.amr));

  const aal = await client.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.deepEqual([aal.data.currentLevel, aal.data.nextLevel], ['aal2', 'aal2']);
  const factors = await client.auth.mfa.listFactors();
  assert.equal(factors.error, null);
  assert.equal(factors.data.phone.length, 1);
  assert.equal(factors.data.phone[0].phone, phone);
  assert.equal(factors.data.phone[0].status, 'verified');

  // The code verified once; the same challenge is spent.
  const again = await client.auth.mfa.verify({ factorId: enrolled.data.id, challengeId: challenge.data.id, code });
  assert.equal(again.error?.code, 'mfa_ip_address_mismatch');

  const duplicate = await client.auth.mfa.enroll({ factorType: 'phone', friendlyName: 'again', phone: `+${phone}` });
  assert.equal(duplicate.error?.code, 'mfa_verified_factor_exists');

  const unenrolled = await client.auth.mfa.unenroll({ factorId: enrolled.data.id });
  assert.equal(unenrolled.error, null, unenrolled.error?.message);
});

test('a second challenge within GOTRUE_MFA_PHONE_MAX_FREQUENCY is refused with over_sms_send_rate_limit', async () => {
  const { client } = await signUpNew('mfa-phone-freq');
  const phone = newPhone();
  const { data: factor } = await client.auth.mfa.enroll({ factorType: 'phone', phone: `+${phone}` });

  const first = await client.auth.mfa.challenge({ factorId: factor.id });
  assert.equal(first.error, null, first.error?.message);
  const second = await client.auth.mfa.challenge({ factorId: factor.id });
  assert.equal(second.error?.code, 'over_sms_send_rate_limit');
  assert.equal(second.error?.status, 429);
  assert.equal((await messagesTo(phone)).length, 1);
});

test('signInWithOtp({ phone }) + verifyOtp with a GOTRUE_SMS_TEST_OTP number: fixed code, no SMS sent', async () => {
  const client = newClient();

  const sent = await client.auth.signInWithOtp({ phone: `+${testPhone}` });
  assert.equal(sent.error, null, sent.error?.message);

  const verified = await client.auth.verifyOtp({ phone: `+${testPhone}`, token: testOtp, type: 'sms' });
  assert.equal(verified.error, null, verified.error?.message);
  assert.equal(verified.data.user.phone, testPhone);
  assert.ok(verified.data.session.access_token);
  assert.equal(jwtPayload(verified.data.session.access_token).phone, testPhone);
  assert.deepEqual(await messagesTo(testPhone), []);
});
