#!/usr/bin/env node
// Real-browser checks: headless Debian Chromium driven by playwright-core. Every WebSocket is
// opened by page JavaScript (`new WebSocket(...)`) in a page served from a local HTTP server on
// http://127.0.0.1:<--page-port>/, so the handshake, framing and closing are Chromium's own.
// Chromium sends that page's origin: Berth accepts it only if the context lists it in
// <allowed-origins> (or `*`), as it is not Berth's own origin.
//
// Usage: node browser-check.js SCENARIO WS_URL [options]
//   echo WS_URL [--greeting TEXT] [--count N]
//       one page: reads the greeting (if given), echoes N non-ASCII texts and a binary
//       message, then ws.close(1000) from the page: passes on a clean close with code 1000.
//   chat ROOM_URL                      e.g. ws://127.0.0.1:PORT/chat/rooms/lobby
//       two pages A and B join the room (?name=A, ?name=B); B's message reaches A as `B: text`
//       and A's reaches B as `A: text`; B closes and A is told `left:B`.
//   presence WS_URL --user NAME --end tab|all-kill [--within MS]
//       a watcher (the Node ws client, ?user=watcher-PID) connects first; a page connects with
//       ?user=NAME (the watcher must get `joined:NAME`), then the page goes away:
//         tab       page.close(): Chromium closes the socket itself (Berth should see 1001)
//         all-kill  SIGSTOP, then SIGKILL of every process of this browser instance: the kernel
//                   closes the socket, no close frame (Berth should see 1006)
//       passes when the watcher gets `left:NAME` within --within ms (default 20000).
//       The close code Berth reported is in Berth's log; scripts/clients.sh checks it.
// Options for all: --timeout MS (whole run, default 60000); --page-port PORT (the port the
// page is served on, so that its origin http://127.0.0.1:PORT can be listed in the contexts'
// <allowed-origins>; default 0, any free port). Env CHROMIUM overrides
// /usr/bin/chromium. Prints one line per step and a last line PASS or FAIL: reason; exit 0 =
// pass, 1 = fail, 2 = usage. The browser is always torn down (killed on failure or timeout).
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const WebSocket = require('ws');
const { chromium } = require('playwright-core');

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const [scenario, wsUrl] = argv;
const SCENARIOS = ['echo', 'chat', 'presence'];
if (!SCENARIOS.includes(scenario) || !wsUrl || wsUrl.startsWith('--')) {
  console.error('usage: node browser-check.js echo|chat|presence WS_URL [options] (see the header)');
  process.exit(2);
}
const timeout = Number(opt('--timeout', 60000));
const pagePort = Number(opt('--page-port', 0));
if (!Number.isInteger(pagePort) || pagePort < 0 || pagePort > 65535) {
  console.error(`--page-port must be a port number, not ${opt('--page-port')}`);
  process.exit(2);
}
const STEP = 10000; // the longest wait for any single expected event
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// The page: a small helper that opens sockets and queues what arrives, driven from Node.
const PAGE = `<!doctype html><meta charset="utf-8"><title>berth client check</title><script>
window.berth = {
  sockets: [],
  open(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      const entry = { ws, inbox: [], waiters: [], closed: null };
      const deliver = (item) => { const w = entry.waiters.shift(); if (w) w(item); else entry.inbox.push(item); };
      ws.onopen = () => { berth.sockets.push(entry); resolve({ id: berth.sockets.length - 1, extensions: ws.extensions }); };
      ws.onmessage = (e) => deliver(typeof e.data === 'string' ? { text: e.data } : { binary: Array.from(new Uint8Array(e.data)) });
      ws.onclose = (e) => { entry.closed = { code: e.code, reason: e.reason, clean: e.wasClean };
        if (ws.readyState === WebSocket.CLOSED && !berth.sockets.includes(entry)) reject(new Error('closed before open: ' + e.code));
        deliver({ closed: entry.closed }); };
    });
  },
  next(id, ms) {
    const entry = berth.sockets[id];
    if (entry.inbox.length) return Promise.resolve(entry.inbox.shift());
    if (entry.closed) return Promise.resolve({ closed: entry.closed });
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ timeout: ms }), ms);
      entry.waiters.push((item) => { clearTimeout(timer); resolve(item); });
    });
  },
  send(id, text) { berth.sockets[id].ws.send(text); },
  sendBinary(id, bytes) { berth.sockets[id].ws.send(new Uint8Array(bytes).buffer); },
  close(id, code, reason, ms) {
    const entry = berth.sockets[id];
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ timeout: ms }), ms);
      entry.ws.addEventListener('close', (e) => { clearTimeout(timer); resolve({ code: e.code, clean: e.wasClean }); });
      entry.ws.close(code, reason);
    });
  },
};
</script><body>berth client check</body>`;

class Failure extends Error {}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const show = (x) => JSON.stringify(x).slice(0, 200);

// ---- processes of this browser instance (from /proc, no external tools) ----
const procInfo = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return { pid, state: rest[0], ppid: Number(rest[1]), cmd };
  } catch {
    return null;
  }
};
const allProcs = () => fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).map(procInfo).filter(Boolean);
// Chromium started by playwright is our child; everything it started descends from it. Processes
// naming our profile directory are included too, in case one was re-parented.
const browserProcs = (profileDir) => {
  const procs = allProcs();
  const mine = new Set(procs.filter((p) => p.ppid === process.pid && /chrom/i.test(p.cmd)).map((p) => p.pid));
  procs.filter((p) => p.cmd.includes(profileDir)).forEach((p) => mine.add(p.pid));
  for (let grown = true; grown;) {
    grown = false;
    for (const p of procs) if (mine.has(p.ppid) && !mine.has(p.pid)) { mine.add(p.pid); grown = true; }
  }
  return [...mine].filter((pid) => { const p = procInfo(pid); return p && p.state !== 'Z'; });
};
const killAll = (pids, signal) => pids.forEach((pid) => { try { process.kill(pid, signal); } catch { /* gone */ } });

// ---- the browser ----
let browser = null; // { ctx, server, profileDir }
const launch = async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Failure(`page server on port ${pagePort}: ${e.message}`)));
    server.listen(pagePort, '127.0.0.1', resolve);
  });
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-chromium-'));
  browser = { ctx: null, server, profileDir, pageUrl: `http://127.0.0.1:${server.address().port}/` };
  browser.ctx = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    timeout: STEP * 3,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
  console.log(`chromium ${browser.ctx.browser()?.version() ?? ''} started (${browserProcs(profileDir).length} processes), page ${browser.pageUrl}`);
  return browser;
};
const newPage = async () => {
  const existing = browser.ctx.pages().find((p) => p.url() === 'about:blank');
  const page = existing || await browser.ctx.newPage();
  page.setDefaultTimeout(STEP);
  await page.goto(browser.pageUrl);
  return page;
};
const teardown = async (graceful) => {
  if (!browser) return;
  const { ctx, server, profileDir } = browser;
  browser = null;
  if (graceful) {
    try { await Promise.race([ctx.close(), sleep(STEP)]); } catch { /* already gone */ }
  }
  killAll(browserProcs(profileDir), 'SIGKILL');
  server.close();
  fs.rmSync(profileDir, { recursive: true, force: true });
};

// ---- page-side socket helpers ----
const open = async (page, url) => {
  const r = await page.evaluate((u) => berth.open(u), url);
  console.log(`page opened ${url} extensions=${JSON.stringify(r.extensions)}`);
  return r.id;
};
const next = (page, id) => page.evaluate(([i, ms]) => berth.next(i, ms), [id, STEP]);
const expectText = async (page, id, want, who) => {
  const got = await next(page, id);
  if (got.text !== want) throw new Failure(`${who} expected ${show(want)}, got ${show(got)}`);
};
const closeClean = async (page, id, who) => {
  const r = await page.evaluate(([i, ms]) => berth.close(i, 1000, 'bye', ms), [id, STEP]);
  if (r.code !== 1000 || !r.clean) throw new Failure(`${who}: close ended with ${show(r)}, expected a clean 1000`);
  console.log(`${who}: closed cleanly with ${r.code}`);
};

// ---- scenarios ----
async function echo() {
  const page = await newPage();
  const id = await open(page, wsUrl);
  const greeting = opt('--greeting', null);
  if (greeting !== null) {
    await expectText(page, id, greeting, 'greeting');
    console.log(`greeting ok: ${show(greeting)}`);
  }
  const count = Number(opt('--count', 5));
  for (let i = 0; i < count; i++) {
    const text = `browser #${i} héllo wörld ✓ 😀 Привет 日本語 ` + 'y'.repeat(i * 300);
    await page.evaluate(([s, t]) => berth.send(s, t), [id, text]);
    await expectText(page, id, text, `text echo #${i}`);
  }
  const bytes = Array.from({ length: 4096 }, (_, i) => (i * 7) & 255);
  await page.evaluate(([s, b]) => berth.sendBinary(s, b), [id, bytes]);
  const got = await next(page, id);
  if (!got.binary || got.binary.length !== bytes.length || got.binary.some((b, i) => b !== bytes[i])) {
    throw new Failure(`binary echo differs: ${show(got)}`);
  }
  console.log(`echoed ${count} texts + 1 binary (${bytes.length} B)`);
  await closeClean(page, id, 'page');
}

async function chat() {
  const sep = wsUrl.includes('?') ? '&' : '?';
  const a = await newPage();
  const b = await newPage();
  const ia = await open(a, `${wsUrl}${sep}name=A`);
  await expectText(a, ia, 'joined:A', 'A');
  const ib = await open(b, `${wsUrl}${sep}name=B`);
  await expectText(b, ib, 'joined:B', 'B');
  await expectText(a, ia, 'joined:B', 'A');
  const fromB = 'hi from B ✓ 😀 Привет';
  await b.evaluate(([s, t]) => berth.send(s, t), [ib, fromB]);
  await expectText(a, ia, `B: ${fromB}`, 'A');
  await expectText(b, ib, `B: ${fromB}`, 'B (its own message)');
  console.log(`A got "B: ${fromB}"`);
  const fromA = 'and hi from A';
  await a.evaluate(([s, t]) => berth.send(s, t), [ia, fromA]);
  await expectText(b, ib, `A: ${fromA}`, 'B');
  await expectText(a, ia, `A: ${fromA}`, 'A (its own message)');
  console.log(`B got "A: ${fromA}"`);
  await closeClean(b, ib, 'B');
  await expectText(a, ia, 'left:B', 'A');
  console.log('A got "left:B"');
  await closeClean(a, ia, 'A');
}

// A watcher with the Node ws client, waiting for given texts.
const watcher = (url) => new Promise((resolve, reject) => {
  const ws = new WebSocket(url);
  const seen = [];
  let want = null;
  const check = () => {
    if (!want) return;
    const i = seen.indexOf(want.text);
    if (i >= 0) { seen.splice(0, i + 1); const w = want; want = null; clearTimeout(w.timer); w.resolve(); }
  };
  ws.on('message', (data) => { seen.push(data.toString('utf8')); check(); });
  ws.on('error', (e) => reject(new Failure(`watcher: ${e.message}`)));
  ws.on('unexpected-response', (_q, res) => reject(new Failure(`watcher: HTTP ${res.statusCode}`)));
  ws.on('open', () => resolve({
    ws,
    waitFor: (text, ms) => new Promise((res, rej) => {
      const timer = setTimeout(() => { want = null; rej(new Failure(`watcher got no ${show(text)} within ${ms} ms (saw ${show(seen)})`)); }, ms);
      want = { text, resolve: res, timer };
      check();
    }),
  }));
});

async function presence() {
  const user = opt('--user', `tab-${process.pid}`);
  const end = opt('--end', 'tab');
  const within = Number(opt('--within', 20000));
  if (!['tab', 'all-kill'].includes(end)) throw new Failure(`unknown --end ${end}`);
  const sep = wsUrl.includes('?') ? '&' : '?';
  const watch = await watcher(`${wsUrl}${sep}user=watcher-${process.pid}`);
  console.log(`watcher connected as watcher-${process.pid}`);
  const page = await newPage();
  const id = await open(page, `${wsUrl}${sep}user=${encodeURIComponent(user)}`);
  await page.evaluate(([s]) => berth.send(s, 'who'), [id]);
  await expectText(page, id, `you:${user}`, 'page');
  await watch.waitFor(`joined:${user}`, STEP);
  console.log(`watcher got "joined:${user}"`);
  const t0 = Date.now();
  if (end === 'tab') {
    await page.close();
    console.log('tab closed with page.close()');
  } else {
    const pids = browserProcs(browser.profileDir);
    killAll(pids, 'SIGSTOP'); // frozen first, so no process can send a close frame meanwhile
    killAll(pids, 'SIGKILL');
    console.log(`killed -9 all ${pids.length} browser processes: ${pids.join(',')}`);
    const left = () => pids.filter((pid) => { const p = procInfo(pid); return p && p.state !== 'Z'; });
    for (let i = 0; i < 50 && left().length; i++) await sleep(100);
    if (left().length) throw new Failure(`browser processes still alive: ${left().join(',')}`);
  }
  await watch.waitFor(`left:${user}`, within);
  console.log(`watcher got "left:${user}" ${Date.now() - t0} ms after the ${end === 'tab' ? 'tab closed' : 'kill'}`);
  await new Promise((resolve) => { watch.ws.once('close', resolve); watch.ws.close(1000, 'done'); setTimeout(resolve, STEP); });
  return end === 'tab';
}

(async () => {
  const guard = setTimeout(async () => {
    console.log(`FAIL: ${scenario} did not finish within ${timeout} ms`);
    await teardown(false);
    process.exit(1);
  }, timeout);
  let code = 0;
  try {
    await launch();
    const graceful = await { echo, chat, presence }[scenario]();
    await teardown(graceful !== false);
    console.log('PASS');
  } catch (e) {
    console.log(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`.split('\n')[0]);
    await teardown(false);
    code = 1;
  }
  clearTimeout(guard);
  process.exit(code);
})();
