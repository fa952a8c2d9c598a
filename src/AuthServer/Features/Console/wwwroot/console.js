// AuthServer admin console (docs/console.md). Plain DOM, no framework, no build step. Everything a user can
// influence (emails, metadata, identity data, user agents, audit payloads) is hostile input: it only ever
// reaches the page as text nodes or form values, never as markup, so it cannot run (and the CSP forbids
// inline script anyway).
'use strict';
(() => {
  const script = document.currentScript;
  // The API lives where the console does, minus /admin/console (so both / and /auth/v1 work).
  const API = new URL(script.src).pathname.replace(/\/admin\/console\/console\.js$/, '');
  const TOKEN_KEY = 'authserver.console.token';
  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  const message = document.getElementById('message');

  // ---- DOM helpers: text only ----

  /** h('td', {class: 'mono'}, 'text', node…): strings become text nodes; attributes via setAttribute. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs ?? {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
      else if (name === 'value') el.value = value;
      else if (name === 'checked') el.checked = !!value;
      else el.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const json = (value) => h('pre', { class: 'mono' }, JSON.stringify(value ?? null, null, 2));
  const when = (t) => (t ? new Date(t).toLocaleString() : '—');
  const link = (hash, text) => h('a', { href: hash }, text);

  function render(...nodes) {
    main.replaceChildren(...nodes);
  }

  // Pages load before they draw: a page whose answer arrives after the operator has moved on must not draw
  // over the newer one. Each route() gets a number; a page draws through view(), which only the latest may use.
  let routeSeq = 0;
  const viewFor = (mine) => (...nodes) => { if (mine === routeSeq) render(...nodes); };

  function say(text, isError = false) {
    message.textContent = text;
    message.className = isError ? 'error' : '';
    message.hidden = !text;
  }

  // ---- API ----

  class ApiError extends Error {
    constructor(status, code, text) { super(text); this.status = status; this.code = code; }
  }

  async function api(method, path, body, { token = sessionStorage.getItem(TOKEN_KEY), raw = false } = {}) {
    const headers = { 'X-Supabase-Api-Version': '2024-01-01' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const code = data?.code ?? data?.error_code ?? res.headers.get('x-sb-error-code') ?? String(res.status);
      const msg = data?.message ?? data?.msg ?? data?.error_description ?? `HTTP ${res.status}`;
      if (!raw && [401, 403].includes(res.status) && ['bad_jwt', 'no_authorization', 'session_not_found'].includes(code)) {
        signOut(`Your sign-in is no longer valid (${msg}). Sign in again.`);
      }
      throw new ApiError(res.status, code, msg);
    }
    return raw ? { data, res } : data;
  }

  /** Runs an action, re-renders the current page and shows the outcome. */
  async function act(label, fn) {
    try {
      await fn();
      await route();
      say(`${label}: done`); // after the page shows the new state
    } catch (e) {
      say(`${label} failed: ${e.message}`, true);
    }
  }

  // ---- sign-in ----

  function explain(e) {
    if (e.code === 'bad_jwt') return 'That key is not valid for this server: its signature does not verify with this server\'s JWT secret (or it is not a JWT at all).';
    if (e.code === 'not_admin') return 'That key or user is valid but not an admin: its role is not in GOTRUE_JWT_ADMIN_ROLES.';
    if (e.code === 'invalid_credentials') return 'Wrong email or password.';
    return e.message;
  }

  async function signIn(token) {
    await api('GET', '/admin/users?per_page=1', undefined, { token, raw: true });
    sessionStorage.setItem(TOKEN_KEY, token);
    say('');
    location.hash = '#/users';
    await route();
  }

  function signOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    location.hash = '#/login';
    say(reason ?? '', !!reason);
  }

  function loginPage() {
    nav.hidden = true;
    const key = h('textarea', { id: 'key', placeholder: 'eyJhbGciOi…', autocomplete: 'off', spellcheck: 'false' });
    const email = h('input', { type: 'email', id: 'email', autocomplete: 'username' });
    const password = h('input', { type: 'password', id: 'password', autocomplete: 'current-password' });
    const keyForm = h('form', {
      id: 'key-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try { await signIn(key.value.trim()); } catch (e) { say(explain(e), true); }
      },
    }, h('label', { for: 'key' }, 'service_role key'), key,
    h('p', { class: 'muted' }, 'Kept in this tab\'s sessionStorage only: never in a URL or a cookie.'),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in with key'));
    const passwordForm = h('form', {
      id: 'password-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const session = await api('POST', '/token?grant_type=password', { email: email.value, password: password.value },
            { token: null, raw: true });
          await signIn(session.data.access_token);
        } catch (e) { say(explain(e), true); }
      },
    }, h('label', { for: 'email' }, 'Email of an admin user'), email, h('label', { for: 'password' }, 'Password'), password,
    h('p'), h('button', { type: 'submit' }, 'Sign in with password'));
    render(h('h1', {}, 'Sign in'), h('div', { class: 'grid2' }, h('div', { class: 'card' }, keyForm), h('div', { class: 'card' }, passwordForm)));
  }

  // ---- users ----

  const FILTERS = ['unconfirmed', 'anonymous', 'banned', 'sso'];

  function badges(u) {
    const list = [];
    if (u.deleted_at) list.push(['deleted', 'bad']);
    if (u.banned_until && new Date(u.banned_until) > new Date()) list.push(['banned', 'bad']);
    if (u.is_anonymous) list.push(['anonymous', 'warn']);
    else if (!u.email_confirmed_at && !u.phone_confirmed_at) list.push(['unconfirmed', 'warn']);
    // GoTrue's user JSON has no is_sso_user; an SSO user's provider is `sso:<provider id>`.
    if (u.is_sso_user || String(u.app_metadata?.provider ?? '').startsWith('sso:')) list.push(['sso', '']);
    return list.map(([text, kind]) => h('span', { class: `badge ${kind}` }, text));
  }

  async function usersPage(params, view = viewFor(routeSeq)) {
    const page = Number(params.get('page') ?? '1') || 1;
    const q = params.get('q') ?? '';
    const query = new URLSearchParams({ page: String(page), per_page: '50' });
    if (q) {
      if (/^\+?[\d\s-]+$/.test(q)) query.set('phone', q.replace(/[\s-]/g, ''));
      else query.set('filter', q);
    }
    for (const f of FILTERS) if (params.get(f) === 'true') query.set(f, 'true');
    const { data, res } = await api('GET', `/admin/users?${query}`, undefined, { raw: true });
    const total = Number(res.headers.get('x-total-count') ?? data.users.length);
    const last = Math.max(1, Math.ceil(total / 50));
    const hasNext = /rel="next"/.test(res.headers.get('link') ?? '');

    const search = h('input', { type: 'search', id: 'search', placeholder: 'email, name or phone', value: q });
    const boxes = FILTERS.map((f) => h('input', { type: 'checkbox', id: `f-${f}`, checked: params.get(f) === 'true' }));
    const go = (p) => {
      const next = new URLSearchParams();
      if (search.value) next.set('q', search.value);
      FILTERS.forEach((f, i) => { if (boxes[i].checked) next.set(f, 'true'); });
      if (p > 1) next.set('page', String(p));
      location.hash = `#/users?${next}`;
    };
    const rows = data.users.map((u) => h('tr', { 'data-id': u.id },
      h('td', {}, link(`#/user/${u.id}`, u.email || u.phone || u.id)),
      h('td', {}, u.phone ?? ''),
      h('td', {}, u.user_metadata?.full_name ?? ''),
      h('td', {}, when(u.created_at)),
      h('td', {}, when(u.last_sign_in_at)),
      h('td', {}, badges(u))));
    view(
      h('h1', {}, 'Users'),
      h('form', { class: 'toolbar', id: 'user-search', onsubmit: (ev) => { ev.preventDefault(); go(1); } },
        search, ...FILTERS.map((f, i) => h('label', {}, boxes[i], f)), h('button', { type: 'submit', class: 'primary' }, 'Search')),
      h('p', { class: 'muted', id: 'user-count' }, `${total} user${total === 1 ? '' : 's'}`),
      h('table', { id: 'users' },
        h('thead', {}, h('tr', {}, ['Email / phone', 'Phone', 'Name', 'Created', 'Last sign-in', 'Status'].map((t) => h('th', {}, t)))),
        h('tbody', {}, rows)),
      h('div', { class: 'pager' },
        h('button', { type: 'button', id: 'prev', disabled: page <= 1, onclick: () => go(page - 1) }, '← Previous'),
        h('span', { id: 'page-info' }, `Page ${page} of ${last}`),
        h('button', { type: 'button', id: 'next', disabled: !hasNext, onclick: () => go(page + 1) }, 'Next →')));
    performance.mark('console-users-rendered');
  }

  // ---- one user ----

  function table(id, headings, rows, empty) {
    if (rows.length === 0) return h('p', { class: 'muted', id }, empty);
    return h('table', { id }, h('thead', {}, h('tr', {}, headings.map((t) => h('th', {}, t)))), h('tbody', {}, rows));
  }

  async function userPage(id, view = viewFor(routeSeq)) {
    const path = `/admin/users/${encodeURIComponent(id)}`;
    const [user, factors, passkeys, sessions, audit] = await Promise.all([
      api('GET', path),
      api('GET', `${path}/factors`),
      api('GET', `${path}/passkeys`),
      api('GET', `${path}/sessions`),
      api('GET', `/admin/audit?per_page=50&query=${encodeURIComponent(`user:${id}`)}`),
    ]);
    const put = (body) => api('PUT', path, body);
    const confirmBox = h('div', { id: 'delete-confirm' });
    const askDelete = (soft) => confirmBox.replaceChildren(h('div', { class: 'confirm' },
      h('p', {}, `${soft ? 'Soft-delete' : 'Permanently delete'} `, h('strong', {}, user.email || user.phone || user.id), '?',
        soft ? ' Their email, phone and identities are scrambled; the row stays.' : ' This cannot be undone.'),
      h('div', { class: 'actions' },
        h('button', {
          type: 'button', class: 'danger', id: 'delete-confirm-yes',
          onclick: () => act(soft ? 'Soft delete' : 'Delete', async () => {
            await api('DELETE', path, { should_soft_delete: soft });
            if (!soft) location.hash = '#/users';
          }),
        }, soft ? 'Yes, soft-delete' : 'Yes, delete permanently'),
        h('button', { type: 'button', onclick: () => confirmBox.replaceChildren() }, 'Cancel'))));
    const duration = h('select', { id: 'ban-duration' },
      [['1h', '1 hour'], ['24h', '1 day'], ['168h', '1 week'], ['720h', '30 days'], ['876000h', '100 years']]
        .map(([v, t]) => h('option', { value: v }, t)));
    const banned = user.banned_until && new Date(user.banned_until) > new Date();
    const linkOut = h('div', { id: 'link-out' });

    const fields = [
      ['id', user.id], ['email', user.email], ['phone', user.phone], ['role', user.role], ['aud', user.aud],
      ['created_at', when(user.created_at)], ['last_sign_in_at', when(user.last_sign_in_at)],
      ['email_confirmed_at', when(user.email_confirmed_at)], ['phone_confirmed_at', when(user.phone_confirmed_at)],
      ['invited_at', when(user.invited_at)], ['recovery_sent_at', when(user.recovery_sent_at)],
      ['banned_until', when(user.banned_until)], ['deleted_at', when(user.deleted_at)],
      ['is_anonymous', String(!!user.is_anonymous)], ['provider', user.app_metadata?.provider ?? ''],
    ];
    view(
      h('p', {}, link('#/users', '← Users')),
      h('h1', { id: 'user-title' }, user.email || user.phone || user.id, ' ', badges(user)),
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'confirm-email', disabled: !user.email || !!user.email_confirmed_at, onclick: () => act('Confirm email', () => put({ email_confirm: true })) }, 'Confirm email'),
        h('button', { type: 'button', id: 'send-recovery', disabled: !user.email, onclick: () => act('Send recovery', () => api('POST', '/recover', { email: user.email })) }, 'Send recovery email'),
        h('button', {
          type: 'button', id: 'recovery-link', disabled: !user.email,
          onclick: async () => {
            try {
              const r = await api('POST', '/admin/generate_link', { type: 'recovery', email: user.email });
              linkOut.replaceChildren(h('p', {}, 'Recovery link (hand it to the user yourself):'),
                h('input', { type: 'text', readonly: true, id: 'recovery-link-value', value: r.action_link, size: 80 }));
              say('Recovery link: done');
            } catch (e) { say(`Recovery link failed: ${e.message}`, true); }
          },
        }, 'Recovery link'),
        h('button', { type: 'button', id: 'invite', disabled: !user.email || !!user.email_confirmed_at, onclick: () => act('Invite', () => api('POST', '/invite', { email: user.email })) }, user.invited_at ? 'Resend invite' : 'Invite'),
        h('button', { type: 'button', id: 'signout-all', onclick: () => act('Sign out everywhere', () => api('POST', `${path}/logout`)) }, 'Sign out everywhere')),
      h('div', { class: 'actions' },
        duration,
        h('button', { type: 'button', id: 'ban', onclick: () => act('Ban', () => put({ ban_duration: duration.value })) }, 'Ban'),
        h('button', { type: 'button', id: 'unban', disabled: !banned, onclick: () => act('Unban', () => put({ ban_duration: 'none' })) }, 'Unban'),
        h('button', { type: 'button', id: 'soft-delete', disabled: !!user.deleted_at, onclick: () => askDelete(true) }, 'Soft delete'),
        h('button', { type: 'button', id: 'hard-delete', class: 'danger', onclick: () => askDelete(false) }, 'Delete')),
      confirmBox, linkOut,
      h('h2', {}, 'Details'),
      h('table', { class: 'kv', id: 'details' }, h('tbody', {}, fields.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', { class: 'mono' }, v ?? '—'))))),
      h('div', { class: 'grid2' },
        h('div', {}, h('h2', {}, 'user_metadata'), h('div', { id: 'user-metadata' }, json(user.user_metadata))),
        h('div', {}, h('h2', {}, 'app_metadata'), h('div', { id: 'app-metadata' }, json(user.app_metadata)))),
      h('h2', {}, 'Identities'),
      table('identities', ['Provider', 'Identity data', 'Created', 'Last sign-in'], (user.identities ?? []).map((i) => h('tr', {},
        h('td', {}, i.provider), h('td', {}, json(i.identity_data)), h('td', {}, when(i.created_at)), h('td', {}, when(i.last_sign_in_at)))), 'No identities.'),
      h('h2', {}, 'MFA factors'),
      table('factors', ['Type', 'Name', 'Status', 'Created', ''], factors.map((f) => h('tr', { 'data-id': f.id },
        h('td', {}, f.factor_type), h('td', {}, f.friendly_name ?? ''), h('td', {}, f.status), h('td', {}, when(f.created_at)),
        h('td', {}, h('button', { type: 'button', class: 'delete-factor', onclick: () => act('Delete factor', () => api('DELETE', `${path}/factors/${f.id}`)) }, 'Delete')))), 'No factors.'),
      h('h2', {}, 'Passkeys'),
      table('passkeys', ['Name', 'Created', 'Last used', ''], passkeys.map((p) => h('tr', { 'data-id': p.id },
        h('td', {}, p.friendly_name ?? ''), h('td', {}, when(p.created_at)), h('td', {}, when(p.last_used_at)),
        h('td', {}, h('button', { type: 'button', class: 'delete-passkey', onclick: () => act('Delete passkey', () => api('DELETE', `${path}/passkeys/${p.id}`)) }, 'Delete')))), 'No passkeys.'),
      h('h2', {}, 'Sessions'),
      table('sessions', ['Created', 'Last refresh', 'User agent', 'IP', 'AAL'], sessions.map((s) => h('tr', { 'data-id': s.id },
        h('td', {}, when(s.created_at)), h('td', {}, when(s.refreshed_at ?? s.updated_at)), h('td', { class: 'mono' }, s.user_agent ?? ''),
        h('td', { class: 'mono' }, s.ip ?? ''), h('td', {}, s.aal ?? ''))), 'No sessions.'),
      h('h2', {}, 'Audit log'),
      auditTable(audit));
  }

  function auditTable(rows) {
    return table('audit', ['Time', 'Action', 'Actor', 'Type', 'IP', 'Traits'], rows.map((r) => h('tr', {},
      h('td', {}, when(r.created_at)), h('td', {}, r.payload?.action ?? ''), h('td', {}, r.payload?.actor_username ?? ''),
      h('td', {}, r.payload?.log_type ?? ''), h('td', { class: 'mono' }, r.ip_address ?? ''),
      h('td', {}, r.payload?.traits ? json(r.payload.traits) : ''))), 'No audit rows.');
  }

  // ---- create ----

  function createPage() {
    const email = h('input', { type: 'email', id: 'new-email' });
    const phone = h('input', { type: 'text', id: 'new-phone' });
    const password = h('input', { type: 'password', id: 'new-password', autocomplete: 'new-password' });
    const confirmed = h('input', { type: 'checkbox', id: 'new-confirm' });
    const meta = h('textarea', { id: 'new-metadata', placeholder: '{"full_name": "…"}' });
    const body = () => {
      const b = {};
      if (email.value) b.email = email.value;
      if (phone.value) b.phone = phone.value;
      if (password.value) b.password = password.value;
      if (confirmed.checked) { b.email_confirm = !!email.value; b.phone_confirm = !!phone.value; }
      if (meta.value.trim()) b.user_metadata = JSON.parse(meta.value);
      return b;
    };
    render(h('h1', {}, 'Create user'), h('form', {
      class: 'card', id: 'create-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const user = await api('POST', '/admin/users', body());
          say(`Created ${user.email || user.phone}`);
          location.hash = `#/user/${user.id}`;
        } catch (e) { say(`Create failed: ${e.message}`, true); }
      },
    }, h('label', { for: 'new-email' }, 'Email'), email, h('label', { for: 'new-phone' }, 'Phone'), phone,
    h('label', { for: 'new-password' }, 'Password (empty: none usable)'), password,
    h('label', {}, confirmed, ' Mark email / phone as confirmed'),
    h('label', { for: 'new-metadata' }, 'user_metadata (JSON)'), meta,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', id: 'create' }, 'Create user'),
      h('button', {
        type: 'button', id: 'create-invite',
        onclick: async () => {
          try {
            const user = await api('POST', '/invite', { email: email.value, data: meta.value.trim() ? JSON.parse(meta.value) : undefined });
            say(`Invited ${user.email}`);
            location.hash = `#/user/${user.id}`;
          } catch (e) { say(`Invite failed: ${e.message}`, true); }
        },
      }, 'Invite by email instead'))));
  }

  // ---- audit ----

  async function auditPage(params, view = viewFor(routeSeq)) {
    const page = Number(params.get('page') ?? '1') || 1;
    const scope = params.get('scope') ?? 'action';
    const text = params.get('text') ?? '';
    const query = new URLSearchParams({ page: String(page), per_page: '50' });
    if (text) query.set('query', `${scope}:${text}`);
    const { data, res } = await api('GET', `/admin/audit?${query}`, undefined, { raw: true });
    const total = Number(res.headers.get('x-total-count') ?? data.length);
    const hasNext = /rel="next"/.test(res.headers.get('link') ?? '');
    const select = h('select', { id: 'audit-scope' }, ['action', 'author', 'type', 'user'].map((s) => h('option', { value: s, selected: s === scope }, s)));
    const input = h('input', { type: 'search', id: 'audit-text', value: text, placeholder: 'user_signedup, someone@…, account, <user id>' });
    const go = (p) => {
      const next = new URLSearchParams();
      if (input.value) { next.set('scope', select.value); next.set('text', input.value); }
      if (p > 1) next.set('page', String(p));
      location.hash = `#/audit?${next}`;
    };
    view(h('h1', {}, 'Audit log'),
      h('form', { class: 'toolbar', id: 'audit-form', onsubmit: (ev) => { ev.preventDefault(); go(1); } }, select, input, h('button', { type: 'submit', class: 'primary' }, 'Filter')),
      h('p', { class: 'muted', id: 'audit-count' }, `${total} entries`),
      auditTable(data),
      h('div', { class: 'pager' },
        h('button', { type: 'button', id: 'audit-prev', disabled: page <= 1, onclick: () => go(page - 1) }, '← Previous'),
        h('span', {}, `Page ${page}`),
        h('button', { type: 'button', id: 'audit-next', disabled: !hasNext, onclick: () => go(page + 1) }, 'Next →')));
  }

  // ---- settings ----

  async function settingsPage(view = viewFor(routeSeq)) {
    const [pub, server] = await Promise.all([api('GET', '/settings', undefined, { token: null }), api('GET', '/admin/console/api/settings')]);
    const kv = (id, obj) => h('table', { class: 'kv', id }, h('tbody', {}, Object.entries(obj).map(([k, v]) =>
      h('tr', {}, h('th', {}, k), h('td', { class: 'mono' }, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))))));
    view(h('h1', {}, 'Settings'),
      h('p', { class: 'muted' }, 'The effective configuration, without secrets. Change it through the environment and restart.'),
      h('h2', {}, 'Server'), kv('server-settings', server),
      h('h2', {}, 'GET /settings (public)'), kv('public-settings', pub));
  }

  // ---- router ----

  async function route() {
    const mine = ++routeSeq;
    const view = viewFor(mine);
    const [path, qs] = location.hash.replace(/^#/, '').split('?');
    const params = new URLSearchParams(qs ?? '');
    if (!sessionStorage.getItem(TOKEN_KEY)) return loginPage();
    nav.hidden = false;
    try {
      if (path.startsWith('/user/')) return await userPage(decodeURIComponent(path.slice('/user/'.length)), view);
      if (path === '/create') return createPage();
      if (path === '/audit') return await auditPage(params, view);
      if (path === '/settings') return await settingsPage(view);
      return await usersPage(params, view);
    } catch (e) {
      if (mine !== routeSeq) return; // the operator has moved on
      if (!sessionStorage.getItem(TOKEN_KEY)) return loginPage();
      say(e.message, true);
      view(h('p', { class: 'muted' }, 'Could not load this page.'));
    }
  }

  document.getElementById('signout').addEventListener('click', () => signOut());
  // Following a link leaves the last action's outcome behind.
  document.addEventListener('click', (ev) => { if (ev.target.closest?.('a[href^="#"]')) say(''); });
  window.addEventListener('hashchange', () => { route(); });
  route();
})();
