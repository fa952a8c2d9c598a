// A local stand-in for Google / Apple (OIDC) on 127.0.0.1, started by run.sh before the server:
//   node lib/oidc-issuer.mjs <port>
// Discovery, JWKS (RSA), authorize (auto-consent as `nextUser`), token and userinfo endpoints, and two
// test-only endpoints: POST /_test/sign (claims → RS256 ID token) and POST /_test/next-user.
import http from 'node:http';
import { createHash, createSign, generateKeyPairSync, randomUUID } from 'node:crypto';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
export const CLIENT_ID = 'oauth-client';
export const CLIENT_SECRET = 'oauth-secret';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = `rsa-${randomUUID().slice(0, 8)}`;
const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
const codes = new Map();
const accessTokens = new Map();
let nextUser = { sub: 'oauth-user', email: 'oauth@example.com', email_verified: true };

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function sign(claims) {
  const header = b64url(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${b64url(signer.sign(privateKey))}`;
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const server = http.createServer(async (req, res) => {
  const u = new URL(req.url, issuer);
  try {
    if (u.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (u.pathname === '/jwks') return json(res, 200, { keys: [jwk] });
    if (u.pathname === '/authorize') {
      if (u.searchParams.get('client_id') !== CLIENT_ID) return json(res, 400, { error: 'unknown client' });
      const code = randomUUID();
      codes.set(code, {
        user: nextUser,
        redirectUri: u.searchParams.get('redirect_uri'),
        challenge: u.searchParams.get('code_challenge'),
      });
      const back = new URL(u.searchParams.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', u.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
        return json(res, 401, { error: 'invalid_client' });
      }
      const grant = codes.get(form.get('code'));
      codes.delete(form.get('code'));
      if (!grant || grant.redirectUri !== form.get('redirect_uri')) return json(res, 400, { error: 'invalid_grant' });
      if (grant.challenge) {
        const expected = b64url(createHash('sha256').update(form.get('code_verifier') ?? '').digest());
        if (expected !== grant.challenge) return json(res, 400, { error: 'invalid_grant' });
      }
      const accessToken = `at-${randomUUID()}`;
      accessTokens.set(accessToken, grant.user);
      const now = Math.floor(Date.now() / 1000);
      return json(res, 200, {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: 3600,
        id_token: sign({ iss: issuer, aud: CLIENT_ID, iat: now, exp: now + 3600, ...grant.user }),
      });
    }
    if (u.pathname === '/userinfo') {
      const user = accessTokens.get((req.headers.authorization ?? '').replace('Bearer ', ''));
      return user ? json(res, 200, user) : json(res, 401, { error: 'invalid_token' });
    }
    if (u.pathname === '/_test/sign' && req.method === 'POST') {
      const now = Math.floor(Date.now() / 1000);
      return json(res, 200, { token: sign({ iss: issuer, iat: now, exp: now + 3600, ...JSON.parse(await readBody(req)) }) });
    }
    if (u.pathname === '/_test/next-user' && req.method === 'POST') {
      nextUser = JSON.parse(await readBody(req));
      return json(res, 200, {});
    }
    json(res, 404, { error: 'not found' });
  } catch (e) {
    json(res, 500, { error: String(e) });
  }
});

server.listen(port, '127.0.0.1', () => console.log(`oidc issuer on ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
