// The admin console (issue 20, docs/console.md) in a real browser: Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core; no browser is ever downloaded) against an extra server started here with
// GOTRUE_ADMIN_CONSOLE_ENABLED=true on a database of its own in run.sh's throwaway cluster, seeded with 10,000
// users. Walks every page and action and checks what the page shows and what PostgreSQL then holds; proves that
// markup in user data never runs and that the page asks nothing of any other origin; measures the users page's
// first paint (reported, not asserted) and saves the screenshots docs/console.md shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { createHmac, randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dll = process.env.E2E_AUTHSERVER_DLL;
const clusterUrl = process.env.E2E_DATABASE_URL;
const secret = process.env.SUPABASE_JWT_SECRET;
const smtpPort = process.env.MAILCATCHER_SMTP_PORT;
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = !dll || !clusterUrl || !secret ? 'needs run.sh (E2E_AUTHSERVER_DLL, E2E_DATABASE_URL)' : false;
const IMAGES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'images');

const PASSWORD = 'correct-horse-battery-staple-1';
const SEEDED = 10_000;
let server, browser, context, page, dbUrl;
const requests = []; // every URL the console's pages asked for
const cspViolations = [];
const dialogs = [];

// ---- helpers ----

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on('error', reject);
  });
}

/** One SQL statement through psql; rows as arrays of strings. */
function sql(statement, url = dbUrl) {
  const out = execFileSync('psql', ['-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', url, '-c', statement], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}
const scalar = (statement) => sql(statement)[0]?.[0];
const quote = (text) => `'${String(text).replaceAll("'", "''")}'`;

function sign(claims, key = secret) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}
const serviceKey = () => sign({ role: 'service_role', iss: 'supabase-demo', iat: 1700000000, exp: 4100000000 });

async function adminApi(method, path, body) {
  const res = await fetch(`${server.base}${path}`, {
    method, headers: { Authorization: `Bearer ${serviceKey()}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function signIn(email, password, userAgent) {
  const res = await fetch(`${server.base}/token?grant_type=password`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'User-Agent': userAgent ?? 'console-e2e' },
    body: JSON.stringify({ email, password }),
  });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  return JSON.parse(body);
}

async function newUser(body = {}) {
  return adminApi('POST', '/admin/users', { email: `console-${randomUUID()}@example.com`, password: PASSWORD, ...body });
}

async function startServer() {
  const port = await freePort();
  const child = spawn('dotnet', [dll], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1',
      GOTRUE_JWT_SECRET: secret, GOTRUE_SITE_URL: 'http://localhost:3000', API_EXTERNAL_URL: `http://127.0.0.1:${port}`,
      GOTRUE_DB_DRIVER: 'postgres', DATABASE_URL: dbUrl, GOTRUE_API_HOST: '127.0.0.1', PORT: String(port),
      GOTRUE_MAILER_AUTOCONFIRM: 'true', GOTRUE_PASSWORD_HASH_COST: '4', GOTRUE_JWT_AUD: 'authenticated',
      GOTRUE_JWT_DEFAULT_GROUP_NAME: 'authenticated', GOTRUE_JWT_ADMIN_ROLES: 'service_role,supabase_admin',
      GOTRUE_ADMIN_CONSOLE_ENABLED: 'true',
      GOTRUE_RATE_LIMIT_EMAIL_SENT: '100000', GOTRUE_RATE_LIMIT_TOKEN_REFRESH: '100000', GOTRUE_RATE_LIMIT_VERIFY: '100000',
      GOTRUE_SMTP_MAX_FREQUENCY: '1s',
      ...(smtpPort ? { GOTRUE_SMTP_HOST: '127.0.0.1', GOTRUE_SMTP_PORT: smtpPort, GOTRUE_SMTP_ADMIN_EMAIL: 'admin@example.com' } : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return { child, base, console: `${base}/admin/console` };
    } catch { /* not up yet */ }
    if (child.exitCode !== null) throw new Error(`console server exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGTERM');
  throw new Error('console server did not become healthy');
}

/** 10,000 users in one statement: every 7th unconfirmed, 11th anonymous (no email), 13th banned, 17th SSO (unless
 *  anonymous), 5th with a phone. */
function seed() {
  sql(`
    insert into auth.users (instance_id, id, aud, role, email, phone, encrypted_password, email_confirmed_at,
      phone_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at, banned_until, is_anonymous, is_sso_user)
    select '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
      case when i % 11 = 0 then null else 'seed-' || lpad(i::text, 5, '0') || '@example.com' end,
      case when i % 5 = 0 then '1555' || lpad(i::text, 7, '0') end,
      '', case when i % 7 = 0 or i % 11 = 0 then null else now() end, null,
      case when i % 11 = 0 then '{}'::jsonb
           when i % 17 = 0 then '{"provider":"sso:7f3c5d7e-0000-4000-8000-000000000017","providers":["sso:7f3c5d7e-0000-4000-8000-000000000017"]}'::jsonb
           else '{"provider":"email","providers":["email"]}'::jsonb end,
      jsonb_build_object('full_name', 'Seed User ' || i),
      now() - interval '1 day' - (i || ' seconds')::interval, now(),
      case when i % 13 = 0 then now() + interval '1 day' end, i % 11 = 0, i % 17 = 0 and i % 11 <> 0
    from generate_series(1, ${SEEDED}) as i`);
}

/** Navigates inside the console (hash routes) and waits for the page's main content to match. */
async function go(hash, waitFor) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  if (waitFor) await page.waitForSelector(waitFor);
}
const text = (selector) => page.locator(selector).innerText();
async function message() {
  await page.waitForSelector('#message:not([hidden])');
  return text('#message');
}
async function clearMessage() {
  await page.evaluate(() => { const m = document.getElementById('message'); m.hidden = true; m.textContent = ''; });
}
async function userPage(id) {
  await go(`#/user/${id}`);
  await page.waitForFunction((uid) => document.querySelector('#details')?.textContent.includes(uid), id);
}
async function actOn(id, button) {
  await clearMessage();
  await page.click(button);
  const said = await message();
  await page.waitForFunction((uid) => document.querySelector('#details')?.textContent.includes(uid), id).catch(() => {});
  return said;
}

// ---- set-up ----

before(async () => {
  if (skip) return;
  assert.ok(existsSync(chromiumPath),
    `${chromiumPath} not found: install Chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  const name = `console_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  sql(`create database ${name}`, clusterUrl);
  dbUrl = clusterUrl.replace(/\/[^/]*$/, `/${name}`);
  server = await startServer(); // migrates the new database
  seed();
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: chromiumPath });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  page.on('pageerror', (e) => cspViolations.push(`pageerror: ${e.message}`));
});

after(async () => {
  await browser?.close();
  server?.child.kill('SIGTERM');
});

// ---- tests (in order: they share one signed-in tab) ----

test('sign-in: a wrong key and a non-admin key are refused with a clear message; the service_role key signs in', { skip }, async () => {
  await page.goto(server.console);
  await page.waitForSelector('#key-form');

  await page.fill('#key', sign({ role: 'service_role' }, 'some-other-secret-that-is-long-enough-0123456789'));
  await page.click('#key-form button[type=submit]');
  assert.match(await message(), /not valid for this server/);

  await clearMessage();
  await page.fill('#key', sign({ role: 'anon', iss: 'supabase-demo' }));
  await page.click('#key-form button[type=submit]');
  assert.match(await message(), /not an admin/);

  await page.fill('#key', serviceKey());
  await page.click('#key-form button[type=submit]');
  await page.waitForSelector('#users tbody tr');
  // Kept in sessionStorage only: not in the URL, not in a cookie.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('authserver.console.token')), serviceKey());
  assert.ok(!page.url().includes('eyJ'));
  assert.equal((await context.cookies()).length, 0);
});

test('users page: 10,000 users, paged by the Link header; first paint measured', { skip }, async (t) => {
  const total = scalar("select count(*) from auth.users where aud = 'authenticated'");
  assert.ok(Number(total) >= SEEDED);

  await page.reload();
  await page.waitForSelector('#users tbody tr');
  const timing = await page.evaluate(() => ({
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
    users: performance.getEntriesByName('console-users-rendered')[0]?.startTime,
  }));
  t.diagnostic(`users page with ${total} users: first contentful paint ${Math.round(timing.fcp)} ms, user table rendered ${Math.round(timing.users)} ms after navigation start`);
  console.log(`# console first paint: FCP ${Math.round(timing.fcp)} ms, users table ${Math.round(timing.users)} ms (${total} users)`);

  assert.equal(await text('#user-count'), `${total} users`);
  assert.equal(await page.locator('#users tbody tr').count(), 50);
  assert.equal(await text('#page-info'), `Page 1 of ${Math.ceil(Number(total) / 50)}`);
  const newest = sql("select coalesce(email, phone, id::text) from auth.users where aud = 'authenticated' order by created_at desc, id limit 1")[0][0];
  assert.equal(await page.locator('#users tbody tr td a').first().innerText(), newest);

  mkdirSync(IMAGES, { recursive: true });
  await page.screenshot({ path: join(IMAGES, 'console-users.png') });

  await page.click('#next');
  await page.waitForSelector('#page-info:text("Page 2 of")');
  const second = sql("select coalesce(email, phone, id::text) from auth.users where aud = 'authenticated' order by created_at desc, id limit 1 offset 50")[0][0];
  assert.equal(await page.locator('#users tbody tr td a').first().innerText(), second);
  await page.click('#prev');
  await page.waitForSelector('#page-info:text("Page 1 of")');
});

test('users page: search by email and phone, and the four filters match the database', { skip }, async () => {
  await page.fill('#search', 'seed-00042@');
  await page.click('#user-search button[type=submit]');
  await page.waitForSelector('#user-count:text-is("1 user")');
  assert.equal(await page.locator('#users tbody tr td a').first().innerText(), 'seed-00042@example.com');

  await page.fill('#search', '+1555000012');
  await page.click('#user-search button[type=submit]');
  const phones = scalar("select count(*) from auth.users where phone like '%1555000012%'");
  assert.ok(Number(phones) > 0);
  await page.waitForSelector(`#user-count:text-is("${phones} user${phones === '1' ? '' : 's'}")`);

  await page.fill('#search', '');
  const expected = {
    unconfirmed: "email_confirmed_at is null and phone_confirmed_at is null and not is_anonymous",
    anonymous: 'is_anonymous',
    banned: 'banned_until > now()',
    sso: 'is_sso_user',
  };
  for (const [filter, where] of Object.entries(expected)) {
    const count = scalar(`select count(*) from auth.users where aud = 'authenticated' and ${where}`);
    assert.ok(Number(count) > 0, filter);
    await page.check(`#f-${filter}`);
    await page.click('#user-search button[type=submit]');
    await page.waitForSelector(`#user-count:text-is("${count} users")`);
    const badges = await page.locator('#users tbody tr td:last-child').allInnerTexts();
    assert.ok(badges.every((b) => b.includes(filter)), `${filter}: ${badges.slice(0, 3)}`);
    await page.uncheck(`#f-${filter}`);
  }
  await page.click('#user-search button[type=submit]');
  await page.waitForSelector('#users tbody tr');
});

test('create user: the form creates a confirmed user with metadata; invite creates an invited one', { skip }, async () => {
  const email = `created-${randomUUID()}@example.com`;
  await go('#/create', '#create-form');
  await page.fill('#new-email', email);
  await page.fill('#new-password', PASSWORD);
  await page.check('#new-confirm');
  await page.fill('#new-metadata', '{"full_name": "Created In Console"}');
  await page.click('#create');
  await page.waitForSelector('#user-title');
  assert.match(await text('#user-title'), new RegExp(email));
  const [row] = sql(`select email_confirmed_at is not null, raw_user_meta_data ->> 'full_name' from auth.users where email = ${quote(email)}`);
  assert.deepEqual(row, ['t', 'Created In Console']);

  const invitee = `invited-${randomUUID()}@example.com`;
  await go('#/create', '#create-form');
  await page.fill('#new-email', invitee);
  await page.click('#create-invite');
  await page.waitForSelector('#user-title');
  assert.match(await text('#user-title'), new RegExp(invitee));
  assert.equal(scalar(`select invited_at is not null from auth.users where email = ${quote(invitee)}`), 't');
  const id = scalar(`select id from auth.users where email = ${quote(invitee)}`);
  await userPage(id);
  assert.equal(await text('#invite'), 'Resend invite');
  await new Promise((r) => setTimeout(r, 1100)); // GOTRUE_SMTP_MAX_FREQUENCY=1s
  assert.match(await actOn(id, '#invite'), /Invite: done/);
  assert.equal(scalar(`select count(*) from auth.audit_log_entries where payload ->> 'action' = 'user_invited' and payload -> 'traits' ->> 'user_id' = ${quote(id)}`), '2');
});

test('user page: confirm email, send recovery, recovery link, ban and unban', { skip }, async () => {
  const user = await newUser({ user_metadata: { full_name: 'Pat Example' } });
  await userPage(user.id);
  assert.match(await text('#user-title'), /unconfirmed/);

  assert.match(await actOn(user.id, '#confirm-email'), /Confirm email: done/);
  assert.equal(scalar(`select email_confirmed_at is not null from auth.users where id = ${quote(user.id)}`), 't');
  assert.doesNotMatch(await text('#user-title'), /unconfirmed/);

  assert.match(await actOn(user.id, '#send-recovery'), /Send recovery: done/);
  assert.equal(scalar(`select recovery_sent_at is not null from auth.users where id = ${quote(user.id)}`), 't');

  await clearMessage();
  await page.click('#recovery-link');
  await page.waitForSelector('#recovery-link-value');
  assert.match(await page.inputValue('#recovery-link-value'), /\/verify\?token=.+type=recovery/);

  await page.selectOption('#ban-duration', '24h');
  assert.match(await actOn(user.id, '#ban'), /Ban: done/);
  const hours = Number(scalar(`select extract(epoch from banned_until - now()) / 3600 from auth.users where id = ${quote(user.id)}`));
  assert.ok(hours > 23 && hours <= 24, String(hours));
  assert.match(await text('#user-title'), /banned/);

  assert.match(await actOn(user.id, '#unban'), /Unban: done/);
  assert.equal(scalar(`select banned_until is null from auth.users where id = ${quote(user.id)}`), 't');
  assert.doesNotMatch(await text('#user-title'), /banned/);
});

test('user page: identities, sessions with last refresh, sign out everywhere, factor and passkey delete, audit rows', { skip }, async () => {
  const user = await newUser({ email_confirm: true });
  await signIn(user.email, PASSWORD, 'Laptop Browser/1.0');
  await signIn(user.email, PASSWORD, 'Phone App/2.0');
  const factorId = randomUUID();
  sql(`insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
       values (${quote(factorId)}, ${quote(user.id)}, 'my authenticator', 'totp', 'verified', now(), now(), 'JBSWY3DPEHPK3PXP')`);
  const passkeyId = randomUUID();
  sql(`insert into auth.webauthn_credentials (id, user_id, credential_id, public_key, friendly_name)
       values (${quote(passkeyId)}, ${quote(user.id)}, '\\x0102'::bytea || decode(md5(random()::text), 'hex'), '\\x0a0b', 'my yubikey')`);

  await userPage(user.id);
  assert.match(await text('#identities'), /email/);
  const sessions = await text('#sessions');
  assert.match(sessions, /Laptop Browser\/1\.0/);
  assert.match(sessions, /Phone App\/2\.0/);
  assert.equal(await page.locator('#sessions tbody tr').count(), 2);
  assert.match(await text('#factors'), /my authenticator/);
  assert.match(await text('#passkeys'), /my yubikey/);
  assert.match(await text('#audit'), /login/);

  await clearMessage(); // the previous test's outcome line
  await page.screenshot({ path: join(IMAGES, 'console-user.png'), fullPage: true });

  assert.match(await actOn(user.id, '#signout-all'), /Sign out everywhere: done/);
  assert.equal(scalar(`select count(*) from auth.sessions where user_id = ${quote(user.id)}`), '0');
  await page.waitForSelector('#sessions:text("No sessions.")');

  assert.match(await actOn(user.id, '#factors .delete-factor'), /Delete factor: done/);
  assert.equal(scalar(`select count(*) from auth.mfa_factors where id = ${quote(factorId)}`), '0');
  await page.waitForSelector('#factors:text("No factors.")');

  assert.match(await actOn(user.id, '#passkeys .delete-passkey'), /Delete passkey: done/);
  assert.equal(scalar(`select count(*) from auth.webauthn_credentials where id = ${quote(passkeyId)}`), '0');

  await page.waitForSelector('#audit:has-text("factor_deleted")');
  assert.match(await text('#audit'), /logout/);
});

test('user page: soft delete and hard delete ask first, then change the database', { skip }, async () => {
  const soft = await newUser();
  await userPage(soft.id);
  await page.click('#soft-delete');
  await page.waitForSelector('#delete-confirm .confirm');
  assert.equal(scalar(`select deleted_at is null from auth.users where id = ${quote(soft.id)}`), 't'); // nothing yet
  await page.click('#delete-confirm button:text("Cancel")');
  assert.equal(await page.locator('#delete-confirm .confirm').count(), 0);
  await page.click('#soft-delete');
  await clearMessage();
  await page.click('#delete-confirm-yes');
  assert.match(await message(), /Soft delete: done/);
  assert.equal(scalar(`select deleted_at is not null from auth.users where id = ${quote(soft.id)}`), 't');
  await page.waitForSelector('#user-title:has-text("deleted")');

  const hard = await newUser();
  await userPage(hard.id);
  await page.click('#hard-delete');
  await clearMessage();
  await page.click('#delete-confirm-yes');
  assert.match(await message(), /Delete: done/);
  await page.waitForSelector('#users tbody tr');
  assert.equal(scalar(`select count(*) from auth.users where id = ${quote(hard.id)}`), '0');
});

test('audit page: filtered by action and paged', { skip }, async () => {
  await go('#/audit', '#audit-form');
  await page.selectOption('#audit-scope', 'action');
  await page.fill('#audit-text', 'user_invited');
  await page.click('#audit-form button[type=submit]');
  const count = scalar("select count(*) from auth.audit_log_entries where payload ->> 'action' ilike '%user_invited%'");
  await page.waitForSelector(`#audit-count:text-is("${count} entries")`);
  const actions = await page.locator('#audit tbody tr td:nth-child(2)').allInnerTexts();
  assert.equal(actions.length, Number(count));
  assert.ok(actions.every((a) => a === 'user_invited'));
});

test('settings page: effective configuration, no secret', { skip }, async () => {
  await go('#/settings', '#server-settings');
  const settings = await text('#server-settings');
  assert.match(settings, /GOTRUE_JWT_AUD\s+authenticated/);
  assert.match(settings, /GOTRUE_JWT_ADMIN_ROLES\s+service_role,supabase_admin/);
  assert.match(await text('#public-settings'), /external/);
  const body = await page.locator('body').innerText();
  assert.ok(!body.includes(secret), 'the JWT secret is on the page');
  assert.ok(!body.includes(dbUrl), 'the database URL is on the page');
});

test('password sign-in: a user with an admin role gets in, any other user is refused', { skip }, async () => {
  const adminUser = await newUser({ email_confirm: true, role: 'supabase_admin' });
  const plain = await newUser({ email_confirm: true });
  await page.click('#signout');
  await page.waitForSelector('#password-form');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('authserver.console.token')), null);

  await page.fill('#email', plain.email);
  await page.fill('#password', PASSWORD);
  await page.click('#password-form button[type=submit]');
  assert.match(await message(), /not an admin/);

  await clearMessage();
  await page.fill('#email', adminUser.email);
  await page.fill('#password', 'wrong-password');
  await page.click('#password-form button[type=submit]');
  assert.match(await message(), /Wrong email or password/);

  await page.fill('#password', PASSWORD);
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector('#users tbody tr');
});

test('XSS: markup in names, metadata, identity data, user agents and audit rows is shown as text and never runs', { skip }, async () => {
  const tag = `x${randomUUID().slice(0, 7)}`; // never all digits, which the search box would take for a phone
  const payloads = {
    full_name: `<img src=x onerror="window.__pwned='img';alert(1)">${tag}`,
    bio: '<script>window.__pwned="script"</script>',
    website: 'javascript:window.__pwned="href"',
    nested: { html: '<svg onload="window.__pwned=\'svg\'"></svg>', '<b onmouseover=alert(2)>key</b>': '"><iframe src=javascript:alert(3)>' },
  };
  const email = `xss-${tag}@example.com`;
  const res = await fetch(`${server.base}/signup`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD, data: payloads }),
  });
  const signedUp = await res.text();
  assert.equal(res.status, 200, signedUp);
  const { user } = JSON.parse(signedUp);
  await signIn(email, PASSWORD, `<script>window.__pwned="ua"</script><img src=x onerror=alert(4)>`);
  await adminApi('PUT', `/admin/users/${user.id}`, { app_metadata: { note: '<img src=x onerror="window.__pwned=\'app\'">' } });

  await go(`#/users?q=${tag}`);
  await page.waitForSelector('#user-count:text-is("1 user")');
  assert.equal(await page.locator('#users tbody tr td:nth-child(3)').innerText(), payloads.full_name);

  await userPage(user.id);
  assert.match(await text('#user-metadata'), /<script>window.__pwned=\\"script\\"<\/script>/); // as JSON
  assert.match(await text('#app-metadata'), /onerror/);
  assert.match(await text('#identities'), /<svg onload/);
  assert.match(await text('#sessions'), /<script>window.__pwned="ua"<\/script>/);
  await go(`#/audit?scope=user&text=${user.id}`, '#audit');
  await go(`#/user/${user.id}`);
  await page.waitForSelector('#sessions');
  await page.mouse.move(10, 10);
  await page.hover('#user-metadata');
  await new Promise((r) => setTimeout(r, 300)); // let any injected handler fire

  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(dialogs, []);
  assert.equal(await page.locator('main img, main script, main svg, main iframe').count(), 0);
});

test('the console asks nothing of any other origin and breaks no CSP rule', { skip }, async () => {
  const origin = new URL(server.base).origin;
  assert.ok(requests.length > 10, String(requests.length));
  const foreign = requests.filter((u) => new URL(u).origin !== origin);
  assert.deepEqual(foreign, []);
  assert.deepEqual(cspViolations, []);
});
