// GitHub and Discord as their OAuth and user APIs answer, on 127.0.0.1, started by run.sh before the server:
//   node lib/social-providers.mjs <port>
// Each lives under /<provider> (what GOTRUE_EXTERNAL_<P>_URL points at): GitHub Enterprise paths
// (/login/oauth/authorize, /login/oauth/access_token answered form-encoded, /api/v3/user, /api/v3/user/emails)
// and Discord's (/api/oauth2/authorize, /api/oauth2/token, /api/users/@me). The client authenticates with
// HTTP Basic. Test-only: POST /_test/next-user {provider, user} sets who consents next (auto-consent).
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2]);
const CLIENT_ID = 'social-client';
const CLIENT_SECRET = 'social-secret';
const next = new Map();
const codes = new Map();
const tokens = new Map();

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
const paths = {
  github: { authorize: '/login/oauth/authorize', token: '/login/oauth/access_token' },
  discord: { authorize: '/api/oauth2/authorize', token: '/api/oauth2/token' },
};

function userApi(provider, path, user) {
  if (provider === 'github' && path === '/api/v3/user') {
    return { id: Number(user.id), login: user.login, name: user.name, email: null, avatar_url: 'https://avatars.example/u.png' };
  }
  if (provider === 'github' && path === '/api/v3/user/emails') {
    return [{ email: user.email, primary: true, verified: true, visibility: 'public' }];
  }
  if (provider === 'discord' && path === '/api/users/@me') {
    return { id: user.id, username: user.login, discriminator: '0', global_name: user.name, avatar: null, email: user.email, verified: true };
  }
  return null;
}

http.createServer(async (req, res) => {
  try {
    const u = new URL(req.url, `http://127.0.0.1:${port}`);
    if (u.pathname === '/_test/next-user' && req.method === 'POST') {
      const { provider, user } = JSON.parse(await readBody(req));
      next.set(provider, user);
      return json(res, 200, {});
    }
    if (u.pathname === '/_test/health') return json(res, 200, {});
    const [, provider, ...rest] = u.pathname.split('/');
    const path = `/${rest.join('/')}`;
    const p = paths[provider];
    if (!p) return json(res, 404, {});
    if (req.method === 'GET' && path === p.authorize) {
      if (u.searchParams.get('client_id') !== CLIENT_ID) return json(res, 400, { error: 'unknown client' });
      const code = randomUUID();
      codes.set(code, { provider, user: next.get(provider), redirectUri: u.searchParams.get('redirect_uri') });
      const back = new URL(u.searchParams.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', u.searchParams.get('state'));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (req.method === 'POST' && path === p.token) {
      const form = new URLSearchParams(await readBody(req));
      const grant = codes.get(form.get('code'));
      codes.delete(form.get('code'));
      if (req.headers.authorization !== basic) return json(res, 401, { error: 'invalid_client' });
      if (!grant || grant.provider !== provider || grant.redirectUri !== form.get('redirect_uri')) {
        return json(res, 400, { error: 'invalid_grant' });
      }
      const accessToken = `at-${randomUUID()}`;
      tokens.set(accessToken, grant);
      if (provider === 'github') {
        res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' });
        return res.end(`access_token=${accessToken}&scope=user%3Aemail&token_type=bearer`);
      }
      return json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 604800, refresh_token: `rt-${randomUUID()}`, scope: 'email identify' });
    }
    const grant = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!grant || grant.provider !== provider) return json(res, 401, { message: 'Bad credentials' });
    const body = userApi(provider, path, grant.user);
    return body ? json(res, 200, body) : json(res, 404, {});
  } catch (e) {
    json(res, 500, { error: String(e) });
  }
}).listen(port, '127.0.0.1');
