// getClaims() verifying RS256 and ES256 sessions locally through our /.well-known/jwks.json.
// Starts extra servers (same published dll and database as run.sh) configured with GOTRUE_JWT_KEYS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';

const dll = process.env.E2E_AUTHSERVER_DLL;
const databaseUrl = process.env.E2E_DATABASE_URL;
const secret = process.env.SUPABASE_JWT_SECRET;
const skip = !dll || !databaseUrl || !secret;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

function privateJwk(alg) {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, key_ops: ['sign', 'verify'] };
}

const servers = {};

async function startServer(alg) {
  const port = await freePort();
  const jwk = privateJwk(alg);
  const child = spawn('dotnet', [dll], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1',
      GOTRUE_JWT_SECRET: secret, GOTRUE_JWT_KEYS: JSON.stringify([jwk]), GOTRUE_JWT_VALID_METHODS: `HS256,${alg}`,
      GOTRUE_SITE_URL: 'http://localhost:3000', API_EXTERNAL_URL: `http://127.0.0.1:${port}`, GOTRUE_DB_DRIVER: 'postgres',
      DATABASE_URL: databaseUrl, GOTRUE_API_HOST: '127.0.0.1', PORT: String(port), GOTRUE_MAILER_AUTOCONFIRM: 'true',
      GOTRUE_PASSWORD_HASH_COST: '4', GOTRUE_JWT_AUD: 'authenticated', GOTRUE_JWT_DEFAULT_GROUP_NAME: 'authenticated',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) return { child, base, jwk };
    } catch { /* not up yet */ }
    if (child.exitCode !== null) throw new Error(`server for ${alg} exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGTERM');
  throw new Error(`server for ${alg} did not become healthy`);
}

before(async () => {
  if (skip) return;
  [servers.ES256, servers.RS256] = await Promise.all([startServer('ES256'), startServer('RS256')]);
});

after(() => {
  for (const s of Object.values(servers)) s.child.kill('SIGTERM');
});

for (const alg of ['ES256', 'RS256']) {
  test(`getClaims() verifies an ${alg} session through the JWKS without calling /user`, { skip }, async () => {
    const { base, jwk } = servers[alg];
    const jwks = await (await fetch(`${base}/auth/v1/.well-known/jwks.json`)).json();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].kid, jwk.kid);
    assert.equal(jwks.keys[0].alg, alg);
    assert.ok(!('d' in jwks.keys[0]), 'no private part published');

    const anon = createClient(base, 'anon-key-unused', {
      auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws },
    });
    const email = `e2e-jwks-${alg.toLowerCase()}-${randomUUID()}@example.com`;
    const { data: signUp, error: signUpError } = await anon.auth.signUp({ email, password: 'correct-horse-battery-staple-1' });
    assert.equal(signUpError, null, signUpError?.message);
    const header = JSON.parse(Buffer.from(signUp.session.access_token.split('.')[0], 'base64url').toString());
    assert.deepEqual(header, { alg, kid: jwk.kid, typ: 'JWT' });

    // Count /user calls: getClaims must verify locally with the JWKS instead.
    let userCalls = 0;
    const counting = createClient(base, 'anon-key-unused', {
      auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws },
      global: { fetch: (input, init) => { if (String(input).endsWith('/user')) userCalls++; return fetch(input, init); } },
    });
    const { data, error } = await counting.auth.getClaims(signUp.session.access_token);
    assert.equal(error, null, error?.message);
    assert.equal(data.claims.sub, signUp.user.id);
    assert.equal(data.header.kid, jwk.kid);
    assert.equal(userCalls, 0);

    // A token from another key under the same kid fails verification.
    const [h, p] = signUp.session.access_token.split('.');
    const forged = `${h}.${p}.${Buffer.from('x'.repeat(alg === 'ES256' ? 64 : 256)).toString('base64url')}`;
    const bad = await counting.auth.getClaims(forged);
    assert.ok(bad.error, 'a forged signature is rejected');
  });
}

test('the HS256 service_role key still works on an asymmetric server listing HS256', { skip }, async () => {
  const res = await fetch(`${servers.ES256.base}/auth/v1/admin/users`, {
    headers: { Authorization: `Bearer ${process.env.SUPABASE_SERVICE_ROLE_KEY}` },
  });
  assert.equal(res.status, 200);
});
