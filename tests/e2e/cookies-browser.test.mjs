// Cookie sessions in a real browser (security review 2026-12, M-4): Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser is ever downloaded) against an extra server started here with
// GOTRUE_COOKIE_ENABLED=true (same published dll and database as run.sh). Two tiny pages on other loopback
// ports: the app at the site URL (http://localhost:SITE) and an attacker page on the same host, another port
// (http://localhost:EVIL): same site, so the SameSite=Lax cookies ride along on its requests, as they do
// for a sibling subdomain. The app signs in and uses the cookies; the attacker page must neither read nor
// change anything with them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { randomUUID } from 'node:crypto';

const dll = process.env.E2E_AUTHSERVER_DLL;
const databaseUrl = process.env.E2E_DATABASE_URL;
const secret = process.env.SUPABASE_JWT_SECRET;
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = !dll || !databaseUrl || !secret ? 'needs run.sh (E2E_AUTHSERVER_DLL, E2E_DATABASE_URL)' : false;

const PASSWORD = 'correct-horse-battery-staple-1';
let authServer, sitePage, evilPage, browser;
let auth, siteOrigin, evilOrigin; // http://localhost:PORT each

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

/** A blank HTML page on 127.0.0.1:port; the tests run their scripts in it. */
async function servePage(title) {
  const port = await freePort();
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>${title}</title><p>${title}</p>`);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, origin: `http://localhost:${port}` };
}

async function startAuthServer(site) {
  const port = await freePort();
  const child = spawn('dotnet', [dll], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1',
      GOTRUE_JWT_SECRET: secret, GOTRUE_SITE_URL: site, API_EXTERNAL_URL: `http://localhost:${port}`,
      GOTRUE_DB_DRIVER: 'postgres', DATABASE_URL: databaseUrl, GOTRUE_API_HOST: '127.0.0.1', PORT: String(port),
      GOTRUE_MAILER_AUTOCONFIRM: 'true', GOTRUE_PASSWORD_HASH_COST: '4', GOTRUE_JWT_AUD: 'authenticated',
      GOTRUE_JWT_DEFAULT_GROUP_NAME: 'authenticated', GOTRUE_COOKIE_ENABLED: 'true',
      GOTRUE_RATE_LIMIT_TOKEN_REFRESH: '100000', GOTRUE_RATE_LIMIT_EMAIL_SENT: '100000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return { child, url: `http://localhost:${port}`, base };
    } catch { /* not up yet */ }
    if (child.exitCode !== null) throw new Error(`cookie-mode server exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGTERM');
  throw new Error('cookie-mode server did not become healthy');
}

before(async () => {
  if (skip) return;
  assert.ok(existsSync(chromiumPath),
    `${chromiumPath} not found: install Chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  const { chromium } = await import('playwright-core');
  [sitePage, evilPage] = await Promise.all([servePage('app'), servePage('attacker')]);
  siteOrigin = sitePage.origin;
  evilOrigin = evilPage.origin;
  authServer = await startAuthServer(siteOrigin);
  auth = authServer.url;
  browser = await chromium.launch({ executablePath: chromiumPath });
});

after(async () => {
  await browser?.close();
  authServer?.child.kill('SIGTERM');
  sitePage?.server.close();
  evilPage?.server.close();
});

/** A new user (autoconfirm on) and a browser context with the app page open. */
async function signedUpUser() {
  const email = `e2e-cookie-${randomUUID()}@example.com`;
  const res = await fetch(`${authServer.base}/signup`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(res.status, 200, await res.text());
  const context = await browser.newContext();
  const app = await context.newPage();
  await app.goto(siteOrigin);
  return { email, context, app };
}

/** Runs fetch in the page; returns { status, body } or { error } when the browser refuses the response. */
function pageFetch(page, url, init) {
  return page.evaluate(async ({ url, init }) => {
    try {
      const res = await fetch(url, { credentials: 'include', ...init });
      return { status: res.status, body: await res.text() };
    } catch (e) {
      return { error: String(e) };
    }
  }, { url, init });
}

/** What the auth server answered to the page's requests, as "METHOD /path status", whether or not the browser
 *  let the page read it: Chromium's raw network events (CDP), which also see responses CORS withholds. */
async function serverAnswers(context, page) {
  const cdp = await context.newCDPSession(page);
  const requests = new Map();
  const answers = [];
  cdp.on('Network.requestWillBeSent', (e) => requests.set(e.requestId, e.request));
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    const request = requests.get(e.requestId);
    if (request?.url.startsWith(auth)) answers.push(`${request.method} ${new URL(request.url).pathname} ${e.statusCode}`);
  });
  await cdp.send('Network.enable');
  return answers;
}

async function signIn(app, email) {
  return pageFetch(app, `${auth}/token?grant_type=password`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'x-use-cookie': '1' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
}

/** The user as the server has it, read with a bearer token outside the browser. */
async function userMetadata(email) {
  const res = await fetch(`${authServer.base}/token?grant_type=password`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }),
  });
  return (await res.json()).user.user_metadata;
}

test('browser: the site URL origin signs in with x-use-cookie, gets no tokens in JavaScript, and uses the cookies', { skip }, async () => {
  const { email, context, app } = await signedUpUser();
  try {
    const signedIn = await signIn(app, email);
    assert.equal(signedIn.status, 200, signedIn.body ?? signedIn.error);
    const session = JSON.parse(signedIn.body);
    assert.equal(session.user.email, email);
    assert.equal(session.access_token, undefined, 'the tokens are in HttpOnly cookies, not in the body');
    assert.equal(session.refresh_token, undefined);
    const cookies = await context.cookies(auth);
    assert.deepEqual(cookies.map((c) => c.name).sort(), ['sb-access-token', 'sb-refresh-token']);
    assert.ok(cookies.every((c) => c.httpOnly && c.sameSite === 'Lax'));
    assert.equal(await app.evaluate(() => document.cookie), '', 'HttpOnly: invisible to scripts');

    const user = await pageFetch(app, `${auth}/user`);
    assert.equal(user.status, 200, user.body ?? user.error);
    assert.equal(JSON.parse(user.body).email, email);

    const updated = await pageFetch(app, `${auth}/user`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json', 'x-use-cookie': '1' },
      body: JSON.stringify({ data: { theme: 'dark' } }),
    });
    assert.equal(updated.status, 200, updated.body ?? updated.error);
    assert.equal((await userMetadata(email)).theme, 'dark');

    const refreshed = await pageFetch(app, `${auth}/token?grant_type=refresh_token`, { method: 'POST', headers: { 'x-use-cookie': '1' } });
    assert.equal(refreshed.status, 200, refreshed.body ?? refreshed.error);
    assert.equal(JSON.parse(refreshed.body).refresh_token, undefined);
  } finally {
    await context.close();
  }
});

test('browser: M4 a page on another origin of the same site can neither read nor change the user with the cookies', { skip }, async () => {
  const { email, context, app } = await signedUpUser();
  try {
    const signedIn = await signIn(app, email);
    assert.equal(signedIn.status, 200, signedIn.body ?? signedIn.error);
    const refreshCookie = (await context.cookies(auth)).find((c) => c.name === 'sb-refresh-token').value;

    const evil = await context.newPage();
    const statuses = await serverAnswers(context, evil);
    await evil.goto(evilOrigin);

    // A simple GET: no preflight, the Lax cookie is sent (same site); the server refuses it and the
    // browser would not hand the answer to the page anyway (no Access-Control-Allow-Credentials).
    const read = await pageFetch(evil, `${auth}/user`);
    assert.ok(read.error, `the attacker page read GET /user: ${read.status} ${read.body}`);
    assert.ok(statuses.includes('GET /user 403'), `server answers: ${statuses.join(', ')}`);

    // Preflighted requests (x-use-cookie, JSON): the preflight grants no credentials, so the browser never sends them.
    const update = await pageFetch(evil, `${auth}/user`, {
      method: 'PUT', headers: { 'Content-Type': 'application/json', 'x-use-cookie': '1' },
      body: JSON.stringify({ data: { theme: 'evil' } }),
    });
    assert.ok(update.error, `the attacker page changed the user: ${update.status} ${update.body}`);
    const refresh = await pageFetch(evil, `${auth}/token?grant_type=refresh_token`, { method: 'POST', headers: { 'x-use-cookie': '1' } });
    assert.ok(refresh.error, `the attacker page refreshed the session: ${refresh.status} ${refresh.body}`);
    assert.ok(!statuses.includes('PUT /user 200') && !statuses.some((s) => s.startsWith('POST /token')),
      `server answers: ${statuses.join(', ')}`);

    // A state-changing GET reached by navigation carries the cookie but not x-use-cookie: not authenticated.
    const navigation = await evil.goto(`${auth}/reauthenticate`);
    assert.equal(navigation.status(), 401);

    assert.equal((await userMetadata(email)).theme, undefined);
    const cookiesAfter = await context.cookies(auth);
    assert.equal(cookiesAfter.find((c) => c.name === 'sb-refresh-token').value, refreshCookie, 'the session was not rotated');

    // The app itself still works with the same cookies.
    const user = await pageFetch(app, `${auth}/user`);
    assert.equal(user.status, 200, user.body ?? user.error);
  } finally {
    await context.close();
  }
});
