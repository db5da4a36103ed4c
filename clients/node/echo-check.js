#!/usr/bin/env node
// Echo check with the Node `ws` client.
//
// Usage: node echo-check.js URL [--count N] [--size BYTES] [--timeout MS] [--no-compression]
//                               [--require-compression] [--greeting TEXT] [--header 'Name: value']
//
// Connects (offering permessage-deflate unless --no-compression; --require-compression fails
// when the server declines it), reads the greeting first when
// --greeting says the endpoint sends one, sends N non-ASCII text messages and N binary messages
// of SIZE random bytes, checks every echo is identical and in order, pings and waits for the
// pong, then closes with 1000 and checks the server answered the close handshake with 1000.
// Prints one line per step and a last line PASS or FAIL: reason. Exit 0 = pass, 1 = fail,
// 2 = usage. The whole check is bounded by --timeout. Needs `ws` (npm ci in clients/node).
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const url = argv[0];
if (!url || url.startsWith('--')) {
  console.error('usage: node echo-check.js URL [--count N] [--size BYTES] [--timeout MS] [--no-compression] [--require-compression] [--greeting TEXT] [--header "N: v"]');
  process.exit(2);
}
const count = Number(opt('--count', 5));
const size = Number(opt('--size', 65536));
const timeout = Number(opt('--timeout', 15000));
const greeting = opt('--greeting', null);
const compression = !argv.includes('--no-compression');
const requireCompression = argv.includes('--require-compression');
const headers = {};
argv.forEach((v, i) => {
  if (v !== '--header') return;
  const [name, ...rest] = (argv[i + 1] || '').split(':');
  headers[name.trim()] = rest.join(':').trim();
});

const finish = (ok, message) => {
  console.log(ok ? 'PASS' : `FAIL: ${message}`);
  process.exit(ok ? 0 : 1);
};
const guard = setTimeout(() => finish(false, `no answer within ${timeout} ms`), timeout);

const textMessage = (i) => `hello #${i} héllo wörld ✓ 😀 Привет 日本語 ` + 'x'.repeat(i * 100);

const t0 = Date.now();
const ws = new WebSocket(url, { headers, perMessageDeflate: compression, maxPayload: 256 << 20 });
const inbox = [];
let waiter = null;
let closing = false;
ws.on('message', (data, isBinary) => {
  const message = { data, isBinary };
  if (waiter) {
    const w = waiter;
    waiter = null;
    w(message);
  } else {
    inbox.push(message);
  }
});
const receive = () => new Promise((resolve) => {
  if (inbox.length) resolve(inbox.shift());
  else waiter = resolve;
});
ws.on('error', (e) => finish(false, `error: ${e.message}`));
ws.on('unexpected-response', (_req, res) => finish(false, `HTTP ${res.statusCode} instead of 101`));
ws.on('close', (code, reason) => {
  clearTimeout(guard);
  if (!closing) finish(false, `the server closed first: ${code} ${reason}`);
  else if (code !== 1000) finish(false, `the server answered the close with ${code} ${reason}`);
  else {
    console.log(`closed cleanly: the server answered close ${code}`);
    finish(true);
  }
});

ws.on('open', async () => {
  console.log(`connected ${url} extensions=${JSON.stringify(ws.extensions)} in ${Date.now() - t0} ms`);
  if (requireCompression && !ws.extensions.includes('permessage-deflate')) {
    return finish(false, 'the server did not accept permessage-deflate');
  }
  if (greeting !== null) {
    const m = await receive();
    const text = m.isBinary ? null : m.data.toString('utf8');
    if (text !== greeting) return finish(false, `greeting ${JSON.stringify(text)}, expected ${JSON.stringify(greeting)}`);
    console.log(`greeting ok: ${JSON.stringify(text)}`);
  }
  for (let i = 0; i < count; i++) {
    const text = textMessage(i);
    ws.send(text);
    let m = await receive();
    if (m.isBinary || m.data.toString('utf8') !== text) return finish(false, `text echo #${i} differs`);
    const blob = crypto.randomBytes(size);
    ws.send(blob);
    m = await receive();
    if (!m.isBinary || !Buffer.from(m.data).equals(blob)) return finish(false, `binary echo #${i} differs`);
  }
  console.log(`echoed ${count} text + ${count} binary (${size} B) messages`);
  const sent = Date.now();
  await new Promise((resolve) => {
    ws.once('pong', resolve);
    ws.ping('berth-check');
  });
  console.log(`ping/pong ok in ${Date.now() - sent} ms`);
  closing = true;
  ws.close(1000, 'done');
});
