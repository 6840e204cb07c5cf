// Deltas at scale: W SSE watchers of one room with A agents; M player messages, each answered by every agent. Reports
// the server's CPU per reply (utime + stime of --pid from /proc, over the posting phase) and checks that every watcher
// got every reply's deltas, in order, joining to the stored message (exit 1 otherwise). Used by tests/bench-deltas.sh.
import http from 'node:http';
import fs from 'node:fs';

const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const api = new URL(arg('api'));
const pid = Number(arg('pid'));
const watchers = Number(arg('watchers', '500'));
const messages = Number(arg('messages', '10'));
const agents = Number(arg('agents', '4'));
const expectDeltas = arg('streaming', 'true') === 'true';
const room = `bench-${Math.random().toString(36).slice(2, 10)}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const ticks = Number(process.env.CLK_TCK ?? 100);

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ host: api.hostname, port: api.port, path, method, agent,
      headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = ''; res.on('data', (c) => { text += c; }); res.on('end', () => resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject); req.end(data);
  });
}

const cpu = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / ticks; };

function watch() {
  const state = { deltas: new Map(), messages: new Map(), late: 0, deltaEvents: 0 };
  return new Promise((resolve, reject) => {
    const req = http.get({ host: api.hostname, port: api.port, path: `/api/rooms/${room}/events`, agent: new http.Agent({ keepAlive: false }) }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(frame)?.[1]; const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (!type || !data) continue;
          const d = JSON.parse(data);
          if (type === 'delta') {
            const key = `${d.agentId}/${d.inReplyTo}`;
            state.deltaEvents++;
            if (state.messages.has(key)) state.late++;
            state.deltas.set(key, (state.deltas.get(key) ?? '') + d.text);
          } else if (type === 'message' && d.senderKind === 'agent') {
            state.messages.set(`${d.senderId}/${d.inReplyTo}`, d.text);
          }
        }
      });
      state.close = () => req.destroy();
      resolve(state);
    });
    req.on('error', (e) => (state.close ? null : reject(e)));
  });
}

const agentList = Array.from({ length: agents }, (_, n) => ({ agentId: `a${n}`, name: `Agent ${n}`, persona: `Persona number ${n}` }));
await request('PUT', `/api/rooms/${room}`, { agents: agentList });
await request('PUT', `/api/rooms/${room}/players/p1`);
const clients = [];
for (let i = 0; i < watchers; i += 50) clients.push(...await Promise.all(Array.from({ length: Math.min(50, watchers - i) }, watch)));
await new Promise((r) => setTimeout(r, 1000));

async function ask(m) {
  const { json } = await request('POST', `/api/rooms/${room}/messages`, { senderId: 'p1', text: `question ${m} about preload and afterload` });
  for (;;) {
    const page = (await request('GET', `/api/rooms/${room}/messages?after=${json.seq}&limit=1000`)).json;
    if (page.messages.filter((x) => x.inReplyTo === json.seq).length === agents) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Warm-up (JIT, first activations), not measured; then the watchers forget it.
await ask('warm-up');
await new Promise((r) => setTimeout(r, 1000));
for (const c of clients) { c.deltas.clear(); c.messages.clear(); c.late = 0; c.deltaEvents = 0; }

const started = cpu(); const t0 = Date.now();
for (let m = 0; m < messages; m++) await ask(m);
// Every watcher's last events arrive shortly after the store: wait until each has every message and every delta (or
// 10 s), within the measured phase, so late deltas are counted as late, not as lost.
const replies = messages * agents;
const complete = (c) => c.messages.size === replies && (!expectDeltas || [...c.messages].every(([key, text]) => c.deltas.get(key) === text));
const deadline = Date.now() + 10_000;
while (Date.now() < deadline && !clients.every(complete)) await new Promise((r) => setTimeout(r, 50));
const cpuSeconds = cpu() - started; const wall = (Date.now() - t0) / 1000;

let completeWatchers = 0, missingMessages = 0, mismatched = 0, late = 0, deltaCount = 0;
for (const c of clients) {
  late += c.late;
  let ok = c.messages.size === replies;
  deltaCount += c.deltaEvents;
  missingMessages += replies - c.messages.size;
  for (const [key, text] of c.messages) {
    if ((c.deltas.get(key) ?? '') !== text) { ok = false; mismatched++; }
  }
  if (ok) completeWatchers++;
  c.close();
}
console.log(JSON.stringify({ watchers, agents, messages, replies, cpuSeconds: +cpuSeconds.toFixed(2), cpuMsPerReply: +(1000 * cpuSeconds / replies).toFixed(1),
  wallSeconds: wall, watchersWithEveryDeltaAndMessage: completeWatchers, missingMessages, repliesWithDeltasNotEqualToMessage: mismatched, deltasPerReply: +(deltaCount / replies / watchers).toFixed(1), deltasAfterTheirMessage: late }));
process.exit(0);
