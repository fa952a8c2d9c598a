#!/usr/bin/env node
// A Pwned Passwords range API on loopback for tests/e2e/run.sh. No dependencies.
//
//   node tests/e2e/lib/pwned-passwords.mjs PORT
//
// GET /range/{5 hex}  text/plain `SUFFIX:COUNT` lines (CRLF), as api.pwnedpasswords.com answers with
//                     Add-Padding: the suffixes of PWNED below with a count, plus decoys with count 0.
// GET /api/requests   JSON [{path, headers}] of every range request (oldest first), for assertions.
// The server reaches it through GOTRUE_PASSWORD_HIBP_API_URL (ours).
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

// Keep in step with PWNED_PASSWORD in helpers.mjs.
const PWNED = ['pwned-by-e2e-Passw0rd'].map((p) => createHash('sha1').update(p).digest('hex').toUpperCase());
const port = Number(process.argv[2] ?? 0);
const requests = [];

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/api/requests') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(requests));
    }
    const match = /^\/range\/([0-9A-F]{5})$/.exec(url.pathname);
    if (req.method !== 'GET' || !match) {
      res.writeHead(404);
      return res.end();
    }
    requests.push({ path: req.url, headers: req.headers });
    const prefix = match[1];
    const lines = PWNED.filter((h) => h.startsWith(prefix)).map((h) => `${h.slice(5)}:3861493`);
    for (let i = 0; i < 5; i++) lines.push(`${randomBytes(18).toString('hex').toUpperCase().slice(0, 35)}:0`);
    lines.sort();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(lines.join('\r\n'));
  })
  .listen(port, '127.0.0.1');
