#!/usr/bin/env node
// A local mail catcher with a web inbox, for scripts/start.sh and tests/e2e/run.sh. No dependencies.
//
//   node scripts/lib/mailcatcher.mjs --smtp-port 54325 --http-port 54324 [--host 127.0.0.1]
//
// SMTP: accepts every message (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no auth, no TLS).
// HTTP: GET /            the inbox (HTML, newest first)
//       GET /messages/N  one message (its HTML body)
//       GET /api/messages[?to=address]   JSON [{id, from, to, subject, html, date}]
//       DELETE /api/messages              empties the inbox
// Messages live in memory only.
import net from 'node:net';
import http from 'node:http';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, value, i, all) => (i % 2 === 0 ? [...pairs, [value.replace(/^--/, ''), all[i + 1]]] : pairs), []),
);
const host = args.host ?? '127.0.0.1';
const smtpPort = Number(args['smtp-port'] ?? 1025);
const httpPort = Number(args['http-port'] ?? 1080);
const messages = [];
let nextId = 1;

function decodeQuotedPrintable(text) {
  const bytes = [];
  const soft = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i], 'latin1'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset, enc, text) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : decodeQuotedPrintable(text.replace(/_/g, ' ')));
}

function parseHeaders(block) {
  const headers = {};
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function decodePart(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = parseHeaders(split < 0 ? raw : raw.slice(0, split));
  let body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.startsWith('multipart/') && boundary) {
    const parts = body.split('--' + boundary).slice(1, -1).map((p) => decodePart(p.replace(/^\r?\n/, '')));
    return { headers, html: parts.find((p) => p.html)?.html ?? '', text: parts.find((p) => p.text)?.text ?? '' };
  }
  const encoding = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (encoding === 'quoted-printable') body = decodeQuotedPrintable(body);
  else if (encoding === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return type.startsWith('text/html') ? { headers, html: body, text: '' } : { headers, html: '', text: body };
}

net.createServer((socket) => {
  socket.setEncoding('latin1');
  let buffer = '';
  let inData = false;
  let data = [];
  let envelope = { from: '', to: [] };
  const reply = (line) => socket.write(line + '\r\n');
  reply('220 mailcatcher ESMTP');
  socket.on('data', (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 2);
      if (inData) {
        if (line === '.') {
          inData = false;
          const raw = Buffer.from(data.join('\r\n'), 'latin1').toString('latin1');
          const part = decodePart(raw);
          for (const to of envelope.to) {
            messages.push({
              id: nextId++, from: envelope.from, to, subject: decodeWords(part.headers.subject ?? ''),
              html: part.html || part.text, date: new Date().toISOString(),
            });
          }
          data = [];
          reply('250 OK queued');
        } else {
          data.push(line.startsWith('..') ? line.slice(1) : line);
        }
        continue;
      }
      const verb = line.split(' ')[0].toUpperCase();
      const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
      if (verb === 'EHLO') socket.write('250-mailcatcher\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n');
      else if (verb === 'HELO' || verb === 'NOOP') reply('250 OK');
      else if (verb === 'RSET') { envelope = { from: '', to: [] }; reply('250 OK'); }
      else if (verb === 'MAIL') { envelope = { from: address, to: [] }; reply('250 OK'); }
      else if (verb === 'RCPT') { envelope.to.push(address.toLowerCase()); reply('250 OK'); }
      else if (verb === 'DATA') { inData = true; reply('354 End data with <CR><LF>.<CR><LF>'); }
      else if (verb === 'QUIT') { reply('221 Bye'); socket.end(); }
      else reply('502 Command not implemented');
    }
  });
  socket.on('error', () => {});
}).listen(smtpPort, host);

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

http.createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host ?? 'localhost'}`);
  if (url.pathname === '/api/messages' && req.method === 'DELETE') {
    messages.length = 0;
    res.writeHead(204).end();
  } else if (url.pathname === '/api/messages') {
    const to = url.searchParams.get('to')?.toLowerCase();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(messages.filter((m) => !to || m.to === to)));
  } else if (url.pathname.startsWith('/messages/')) {
    const message = messages.find((m) => m.id === Number(url.pathname.split('/')[2]));
    if (!message) { res.writeHead(404).end('not found'); return; }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<p><a href="/">&larr; inbox</a></p><p><b>${escape(message.subject)}</b><br>to ${escape(message.to)}, ${escape(message.date)}</p><hr>${message.html}`);
  } else if (url.pathname === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    const rows = messages.slice().reverse().map((m) =>
      `<tr><td>${escape(m.date)}</td><td>${escape(m.to)}</td><td><a href="/messages/${m.id}">${escape(m.subject)}</a></td></tr>`).join('');
    res.end(`<!doctype html><meta http-equiv="refresh" content="5"><title>AuthServer inbox</title>
<h1>AuthServer inbox</h1><p>${messages.length} message(s); refreshes every 5 s.</p>
<table border="1" cellpadding="4"><tr><th>Date</th><th>To</th><th>Subject</th></tr>${rows}</table>`);
  } else {
    res.writeHead(404).end('not found');
  }
}).listen(httpPort, host, () => console.log(`mailcatcher: SMTP ${host}:${smtpPort}, inbox http://${host}:${httpPort}`));
