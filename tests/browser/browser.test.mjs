// The product from a real browser (issue 21): a page on another loopback origin uses the API through CORS, follows
// rooms and chatbot replies with EventSource on stream tickets, sees replies grow as delta events, and resumes by
// itself after its stream is cut. run-tests.sh starts the product and passes its address and keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => process.env[name] ?? assert.fail(`${name} is not set (run tests/browser/run-tests.sh)`);
const API = env('BROWSER_TEST_API');
const PAGE_PORT = Number(env('BROWSER_TEST_PAGE_PORT'));
const KEYS = { client: env('BROWSER_TEST_CLIENT_KEY'), player: env('BROWSER_TEST_PLAYER_KEY'), user: env('BROWSER_TEST_USER_KEY') };
const PAGE_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'page');

let context, page, pageServer, proxy;

/** The test page and its script, from their own loopback origin. */
function servePage() {
  const server = http.createServer((req, res) => {
    const file = path.join(PAGE_DIR, req.url === '/' ? 'index.html' : path.basename(req.url));
    if (!fs.existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': file.endsWith('.js') ? 'text/javascript' : 'text/html' }).end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(PAGE_PORT, '127.0.0.1', () => resolve(server)));
}

/** A TCP proxy in front of the API that can cut every connection and refuse new ones; it notes each request head. */
function cuttingProxy(target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  const heads = [];
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    // Every request head (a kept-alive connection carries several).
    client.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      if (/^(GET|POST|PUT|DELETE|OPTIONS) /.test(text)) heads.push(text.split('\r\n\r\n')[0]);
    });
    client.pipe(upstream).pipe(client);
    const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    heads,
    cut(refuse) { refusing = refuse; for (const s of sockets) s.destroy(); sockets.clear(); },
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }),
  })));
}

async function until(what, check, seconds = 15) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const events = () => page.evaluate(() => window.events);
const id = (prefix) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function post(pathname, key, body) {
  const response = await fetch(API + pathname, { method: 'POST', headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(response.ok, `${pathname}: ${response.status}`);
  return response.json();
}

before(async () => {
  pageServer = await servePage();
  proxy = await cuttingProxy(API);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'browser-tests-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && console.log('page:', m.text()));
  await page.goto(`http://127.0.0.1:${PAGE_PORT}/`);
  await page.waitForFunction(() => window.ready === true);
});

after(async () => {
  await context?.close();
  await proxy?.close();
  pageServer?.close();
});

test('a room page creates a room through CORS, follows it on a ticket and sees the reply grow as deltas before its message', async () => {
  const room = id('page-room');
  await page.evaluate(async ({ api, keys, room }) => {
    window.events = [];
    const { call, follow, roomView } = window.chat;
    await call(api, keys.client, 'PUT', `/api/rooms/${room}`, { agents: [{ agentId: 'a1', name: 'Ada', persona: 'A patient tutor' }] });
    await call(api, keys.client, 'PUT', `/api/rooms/${room}/players/p1`);
    const view = roomView(document.getElementById('chat'));
    window.source = await follow(api, keys.player, `/api/rooms/${room}/events`, (type, data, lastEventId) => { window.record(type, data, lastEventId); view(type, data); });
    await new Promise((resolve, reject) => { window.source.onopen = resolve; window.source.onerror = reject; });
    await call(api, keys.player, 'POST', `/api/rooms/${room}/messages`, { senderId: 'p1', text: 'what is preload?' });
  }, { api: proxy.url, keys: KEYS, room });

  const seen = await until('the agent\'s message', async () => {
    const all = await events();
    return all.some((e) => e.type === 'message' && e.data.senderKind === 'agent') && all;
  });
  const reply = seen.find((e) => e.type === 'message' && e.data.senderKind === 'agent');
  const deltas = seen.filter((e) => e.type === 'delta');
  assert.ok(deltas.length > 1, `${deltas.length} deltas`);
  assert.ok(seen.indexOf(deltas.at(-1)) < seen.indexOf(reply), 'every delta came before the message');
  assert.ok(deltas.every((d) => d.data.agentId === 'a1' && d.data.inReplyTo === reply.data.inReplyTo));
  assert.equal(deltas.map((d) => d.data.text).join(''), reply.data.text);
  // A delta has no id of its own: the EventSource's last id stays that of the last durable event.
  assert.equal(deltas[0].lastEventId, seen[seen.indexOf(deltas[0]) - 1].lastEventId);
  const lines = await page.evaluate(() => [...document.querySelectorAll('#chat p')].map((p) => p.textContent));
  assert.ok(lines.includes(`a1: ${reply.data.text}`), lines.join('\n'));
  // The ticket went into the stream's URL; the key never did.
  const streamHead = proxy.heads.find((h) => h.startsWith(`GET /api/rooms/${room}/events?ticket=`));
  assert.ok(streamHead, 'the EventSource asked with its ticket');
  assert.ok(proxy.heads.every((h) => !h.split('\r\n')[0].includes(KEYS.player) && !h.split('\r\n')[0].includes(KEYS.client)));
});

test('a cut stream is resumed by the EventSource itself with Last-Event-ID on its ticket and no message is missed', async () => {
  const room = id('page-resume');
  await page.evaluate(async ({ api, keys, room }) => {
    window.events = [];
    const { call, follow } = window.chat;
    window.source?.close();
    await call(api, keys.client, 'PUT', `/api/rooms/${room}`, { agents: [{ agentId: 'a1', name: 'Ada', persona: 'A patient tutor' }] });
    await call(api, keys.client, 'PUT', `/api/rooms/${room}/players/p1`);
    window.source = await follow(api, keys.player, `/api/rooms/${room}/events`, window.record);
    await new Promise((resolve, reject) => { window.source.onopen = resolve; window.source.onerror = reject; });
    window.source.onerror = null;
  }, { api: proxy.url, keys: KEYS, room });
  const text = (n) => `message ${n}`;
  await post(`/api/rooms/${room}/messages`, KEYS.player, { senderId: 'p1', text: text(1), agentIds: [] });
  const before = await until('the first message', async () => (await events()).find((e) => e.type === 'message' && e.data.text === text(1)));

  proxy.cut(true);
  for (let n = 2; n <= 4; n++) {
    await post(`/api/rooms/${room}/messages`, KEYS.player, { senderId: 'p1', text: text(n), agentIds: [] });
  }
  const headsBefore = proxy.heads.length;
  proxy.cut(false);

  const seen = await until('every message after the cut', async () => {
    const all = await events();
    return all.filter((e) => e.type === 'message').length >= 4 && all;
  }, 30);
  const messages = seen.filter((e) => e.type === 'message').map((e) => e.data.text);
  assert.deepEqual(messages, [1, 2, 3, 4].map(text), 'each message once, in order');
  const resumed = proxy.heads.slice(headsBefore).find((h) => h.startsWith(`GET /api/rooms/${room}/events?ticket=`));
  assert.ok(resumed, 'the EventSource reconnected on its ticket');
  const lastEventId = resumed.split('\r\n').find((l) => l.toLowerCase().startsWith('last-event-id:'));
  assert.ok(lastEventId, `no Last-Event-ID in\n${resumed}`);
  assert.ok(Number(lastEventId.split(':')[1]) >= Number(before.lastEventId), lastEventId);
});

test('a chatbot page follows its user on a ticket and sees the reply grow as deltas before the reply event', async () => {
  const user = 'u1';
  await page.evaluate(async ({ api, keys, user }) => {
    window.events = [];
    window.source?.close();
    const { call, follow } = window.chat;
    window.source = await follow(api, keys.user, `/api/users/${user}/events`, window.record);
    await new Promise((resolve, reject) => { window.source.onopen = resolve; window.source.onerror = reject; });
    window.sent = await call(api, keys.user, 'POST', `/api/users/${user}/messages?wait=false`, { text: 'what is afterload?' });
  }, { api: proxy.url, keys: KEYS, user });
  const requestId = await page.evaluate(() => window.sent.requestId);

  const seen = await until('the reply', async () => {
    const all = await events();
    return all.some((e) => e.type === 'reply' && e.data.requestId === requestId) && all;
  });
  const reply = seen.find((e) => e.type === 'reply' && e.data.requestId === requestId);
  const deltas = seen.filter((e) => e.type === 'delta' && e.data.requestId === requestId);
  assert.ok(deltas.length > 1, `${deltas.length} deltas`);
  assert.ok(seen.indexOf(deltas.at(-1)) < seen.indexOf(reply), 'every delta came before the reply');
  assert.equal(deltas.map((d) => d.data.text).join(''), reply.data.reply);
});
