// Passkeys and WebAuthn MFA factors through supabase-js (auth.passkey.*, registerPasskey, signInWithPasskey,
// auth.mfa.webauthn.*) against an extra server started here with the reference env file
// ../shared/reference-env/local-cli-stack.env (passkeys and WebAuthn MFA on, RP id localhost, origin
// http://localhost:5173); only the database, the port and SMTP are overridden. supabase-js calls the browser's
// navigator.credentials: a software authenticator (ES256 from node:crypto, CBOR by hand) stands in for it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { createHash, createHmac, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const envFile = process.env.E2E_REFERENCE_ENV ?? resolve(here, '../../../shared/reference-env/local-cli-stack.env');
const dll = process.env.E2E_AUTHSERVER_DLL;
const databaseUrl = process.env.E2E_DATABASE_URL;
const skip = !dll || !databaseUrl ? 'needs run.sh (E2E_AUTHSERVER_DLL, E2E_DATABASE_URL)'
  : !existsSync(envFile) ? `reference env ${envFile} not found (set E2E_REFERENCE_ENV)` : false;

const ORIGIN = 'http://localhost:5173';
const PASSWORD = 'correct-horse-battery-staple-1';
let server, anonKey;

// ---- the browser's WebAuthn API, in node ----

function cborHead(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(n, 1); return b;
}

function cbor(value) {
  if (typeof value === 'number') return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  if (typeof value === 'string') { const b = Buffer.from(value); return Buffer.concat([cborHead(3, b.length), b]); }
  if (value instanceof Uint8Array) return Buffer.concat([cborHead(2, value.length), value]);
  return Buffer.concat([cborHead(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/** One ES256 credential; answers create() and get() like a platform authenticator. */
class SoftAuthenticator {
  constructor() {
    this.keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.credentialId = randomBytes(16);
    this.counter = 0;
    this.userHandle = null;
  }

  authData(rpId, flags, attested) {
    const counter = Buffer.alloc(4); counter.writeUInt32BE(this.counter);
    const parts = [createHash('sha256').update(rpId).digest(), Buffer.from([flags]), counter];
    if (attested) {
      const jwk = this.keys.publicKey.export({ format: 'jwk' });
      const cose = new Map([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x, 'base64url')], [-3, Buffer.from(jwk.y, 'base64url')]]);
      const idLength = Buffer.alloc(2); idLength.writeUInt16BE(this.credentialId.length);
      parts.push(Buffer.alloc(16), idLength, this.credentialId, cbor(cose));
    }
    return Buffer.concat(parts);
  }

  clientData(type, challenge) {
    return Buffer.from(JSON.stringify({ type, challenge: b64url(new Uint8Array(challenge)), origin: ORIGIN, crossOrigin: false }));
  }

  create(publicKey) {
    this.userHandle = Buffer.from(new Uint8Array(publicKey.user.id));
    const clientDataJSON = this.clientData('webauthn.create', publicKey.challenge);
    const authData = this.authData(publicKey.rp.id, 0x45, true);
    const attestationObject = cbor(new Map([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    return new PublicKeyCredentialShim(this.credentialId, {
      clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'],
    });
  }

  get(publicKey) {
    const allowed = publicKey.allowCredentials ?? [];
    if (allowed.length > 0 && !allowed.some((c) => Buffer.from(new Uint8Array(c.id)).equals(this.credentialId))) {
      throw Object.assign(new Error('no matching credential'), { name: 'NotAllowedError' });
    }
    this.counter += 1;
    const clientDataJSON = this.clientData('webauthn.get', publicKey.challenge);
    const authData = this.authData(publicKey.rpId, 0x05, false);
    const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), this.keys.privateKey);
    return new PublicKeyCredentialShim(this.credentialId, {
      clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature),
      userHandle: b64url(this.userHandle),
    });
  }
}

/** What navigator.credentials returns; supabase-js serialises it with toJSON(). */
class PublicKeyCredentialShim {
  constructor(rawId, response) { this.rawId = rawId; this.responseJson = response; }
  get id() { return b64url(this.rawId); }
  toJSON() {
    return {
      id: this.id, rawId: this.id, type: 'public-key', response: this.responseJson,
      clientExtensionResults: {}, authenticatorAttachment: 'platform',
    };
  }
}

let authenticator = null; // the device the current test holds
globalThis.PublicKeyCredential = PublicKeyCredentialShim;
globalThis.window = {
  PublicKeyCredential: PublicKeyCredentialShim,
  location: { href: `${ORIGIN}/`, origin: ORIGIN, hostname: 'localhost' },
};
globalThis.document = {};
Object.defineProperty(globalThis, 'navigator', {
  configurable: true,
  value: {
    credentials: {
      create: async ({ publicKey }) => authenticator.create(publicKey),
      get: async ({ publicKey }) => authenticator.get(publicKey),
    },
  },
});

// ---- the server ----

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createNetServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolvePort(port)); });
    srv.on('error', reject);
  });
}

/** godotenv's `KEY="value"` lines with `\"`, `\\` and `\n` escapes. */
function parseDotEnv(text) {
  const env = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const eq = line.indexOf('=');
    if (!line || line.startsWith('#') || eq < 0) continue;
    let value = line.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    env[line.slice(0, eq).trim()] = value;
  }
  return env;
}

function hs256(payload, secret) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

before(async () => {
  if (skip) return;
  const reference = parseDotEnv(readFileSync(envFile, 'utf8'));
  const port = await freePort();
  const child = spawn('dotnet', [dll], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1',
      ...reference,
      DATABASE_URL: databaseUrl, GOTRUE_API_HOST: '127.0.0.1', PORT: String(port),
      API_EXTERNAL_URL: `http://localhost:${port}`, GOTRUE_SMTP_HOST: '127.0.0.1', GOTRUE_SMTP_PORT: '9',
      GOTRUE_PASSWORD_HASH_COST: '4',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120 && !server; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) server = { child, url: `http://localhost:${port}` };
    } catch { /* not up yet */ }
    if (child.exitCode !== null) throw new Error(`reference-env server exited with ${child.exitCode}`);
    if (!server) await new Promise((r) => setTimeout(r, 250));
  }
  if (!server) { child.kill('SIGTERM'); throw new Error('reference-env server did not become healthy'); }
  anonKey = hs256({ role: 'anon', iss: 'supabase-demo', exp: Math.floor(Date.now() / 1000) + 3600 }, reference.GOTRUE_JWT_SECRET);
});

after(() => server?.child.kill('SIGTERM'));

function newClient() {
  return createClient(server.url, anonKey, {
    // window/document exist here (for browserSupportsWebAuthn): a storage key per client keeps supabase-js
    // from warning about several clients in one browser context.
    auth: {
      persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, storageKey: `sb-${randomUUID()}`,
      experimental: { passkey: true },
    },
    realtime: { transport: ws },
  });
}

async function signedUp() {
  const client = newClient();
  const email = `e2e-passkey-${randomUUID()}@example.com`;
  const { data, error } = await client.auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null, error?.message);
  assert.ok(data.session);
  return { client, email, user: data.user };
}

const claims = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));

// ---- passkeys ----

test('registerPasskey, then signInWithPasskey on another client: a passkey session for that user', { skip }, async () => {
  authenticator = new SoftAuthenticator();
  const { client, user } = await signedUp();

  const { data: created, error } = await client.auth.registerPasskey();
  assert.equal(error, null, error?.message);
  assert.equal(created.friendly_name, 'Passkey');

  const device = newClient();
  const { data, error: signInError } = await device.auth.signInWithPasskey();
  assert.equal(signInError, null, signInError?.message);
  assert.equal(data.user.id, user.id);
  assert.deepEqual(claims(data.session.access_token).amr.map((a) => a.method), ['passkey']);
  const { data: current } = await device.auth.getUser();
  assert.equal(current.user.id, user.id);
});

test('passkey.list / update / delete, and a deleted passkey no longer signs in', { skip }, async () => {
  authenticator = new SoftAuthenticator();
  const { client } = await signedUp();
  const { data: created } = await client.auth.registerPasskey();

  const { data: list, error: listError } = await client.auth.passkey.list();
  assert.equal(listError, null, listError?.message);
  assert.deepEqual(list.map((p) => p.id), [created.id]);

  const { data: renamed, error: updateError } = await client.auth.passkey.update({ passkeyId: created.id, friendlyName: 'Laptop' });
  assert.equal(updateError, null, updateError?.message);
  assert.equal(renamed.friendly_name, 'Laptop');

  const { error: deleteError } = await client.auth.passkey.delete({ passkeyId: created.id });
  assert.equal(deleteError, null, deleteError?.message);
  const { data: after } = await client.auth.passkey.list();
  assert.deepEqual(after, []);

  const { data, error } = await newClient().auth.signInWithPasskey();
  assert.equal(data, null);
  assert.equal(error.code, 'webauthn_verification_failed');
});

test('passkey.update of another user\'s passkey: 404 validation_failed', { skip }, async () => {
  authenticator = new SoftAuthenticator();
  const { client } = await signedUp();
  const { data: created } = await client.auth.registerPasskey();
  const { client: other } = await signedUp();

  const { error } = await other.auth.passkey.update({ passkeyId: created.id, friendlyName: 'mine' });
  assert.equal(error.status, 404);
  assert.equal(error.code, 'validation_failed');
});

test('verifyAuthentication with a replayed challenge: webauthn_challenge_not_found', { skip }, async () => {
  authenticator = new SoftAuthenticator();
  const { client } = await signedUp();
  await client.auth.registerPasskey();
  const device = newClient();
  const { data: options } = await device.auth.passkey.startAuthentication();
  const publicKey = { challenge: Buffer.from(options.options.challenge, 'base64url'), rpId: options.options.rpId };
  const credential = authenticator.get(publicKey).toJSON();

  const first = await device.auth.passkey.verifyAuthentication({ challengeId: options.challenge_id, credential });
  assert.equal(first.error, null, first.error?.message);
  const second = await newClient().auth.passkey.verifyAuthentication({ challengeId: options.challenge_id, credential });
  assert.equal(second.error.code, 'webauthn_challenge_not_found');
});

// ---- WebAuthn MFA ----

test('mfa.webauthn.register reaches aal2; authenticate on a new session reaches aal2 again', { skip }, async () => {
  authenticator = new SoftAuthenticator();
  const { client, email } = await signedUp();

  const registered = await client.auth.mfa.webauthn.register({ friendlyName: 'Security key', webauthn: { rpId: 'localhost', rpOrigins: [ORIGIN] } });
  assert.equal(registered.error, null, registered.error?.message);
  const first = claims(registered.data.access_token);
  assert.equal(first.aal, 'aal2');
  assert.ok(first.amr.some((a) => a.method === 'mfa/webauthn'));

  const device = newClient();
  const { error: signInError } = await device.auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(signInError, null);
  const { data: factors } = await device.auth.mfa.listFactors();
  const factor = factors.all.find((f) => f.factor_type === 'webauthn' && f.status === 'verified');
  assert.ok(factor, 'the verified webauthn factor is listed');

  const authenticated = await device.auth.mfa.webauthn.authenticate({ factorId: factor.id, webauthn: { rpId: 'localhost', rpOrigins: [ORIGIN] } });
  assert.equal(authenticated.error, null, authenticated.error?.message);
  assert.equal(claims(authenticated.data.access_token).aal, 'aal2');
  const { data: level } = await device.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(level.currentLevel, 'aal2');
});

test('mfa.webauthn.authenticate with another device: refused, the session stays aal1', { skip }, async () => {
  authenticator = new SoftAuthenticator();
  const { client, email } = await signedUp();
  const registered = await client.auth.mfa.webauthn.register({ friendlyName: 'Key', webauthn: { rpId: 'localhost', rpOrigins: [ORIGIN] } });
  assert.equal(registered.error, null, registered.error?.message);

  const device = newClient();
  await device.auth.signInWithPassword({ email, password: PASSWORD });
  const { data: factors } = await device.auth.mfa.listFactors();
  authenticator = new SoftAuthenticator(); // not the registered credential
  const { data, error } = await device.auth.mfa.webauthn.authenticate({ factorId: factors.all[0].id, webauthn: { rpId: 'localhost', rpOrigins: [ORIGIN] } });
  assert.equal(data, null);
  assert.ok(error);
  const { data: level } = await device.auth.mfa.getAuthenticatorAssuranceLevel();
  assert.equal(level.currentLevel, 'aal1');
});
