#!/usr/bin/env node
// A Twilio-shaped SMS provider on loopback for tests/e2e/run.sh. No dependencies.
//
//   node tests/e2e/lib/sms-provider.mjs PORT
//
// POST /2010-04-01/Accounts/{sid}/Messages.json   form To, From, Body, Channel → 201 Twilio message JSON
// GET  /api/messages[?to=+15551234567]             JSON [{sid, to, from, body, channel, date}] (oldest first)
// The server reaches it through GOTRUE_SMS_PROVIDER_API_URL (ours). Messages live in memory only.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2] ?? 0);
const messages = [];

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/api/messages') {
      const to = url.searchParams.get('to');
      return send(res, 200, to ? messages.filter((m) => m.to === to || m.to.endsWith(`:${to}`)) : messages);
    }
    if (req.method === 'POST' && /^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/.test(url.pathname)) {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        const form = new URLSearchParams(text);
        if (!req.headers.authorization?.startsWith('Basic ')) {
          return send(res, 401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
        }
        const message = {
          sid: `SM${randomUUID().replaceAll('-', '')}`,
          to: form.get('To') ?? '',
          from: form.get('From') ?? '',
          body: form.get('Body') ?? '',
          channel: form.get('Channel') ?? '',
          date: new Date().toISOString(),
        };
        messages.push(message);
        send(res, 201, { sid: message.sid, to: message.to, from: message.from, body: message.body, status: 'queued' });
      });
      return undefined;
    }
    return send(res, 404, { code: 20404, message: 'The requested resource was not found', status: 404 });
  })
  .listen(port, '127.0.0.1', () => console.log(`sms provider on http://127.0.0.1:${port}`));
