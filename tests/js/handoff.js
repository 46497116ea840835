// Handoff: many connects with after_id or since while events are posted at
// full rate. With control=1 each connection sees hello, the replay, live,
// then live events: the ids it receives must be consecutive from its start
// (no gap, no duplicate at the switch from replay to live).
// Usage: node handoff.js PORT CONNECTS
'use strict';
const http = require('http');
const WebSocket = require('ws');

const [port, connects] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let stop = false, lastAcked = 0;

function post(events) {
  const body = JSON.stringify(events);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/events', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      res => { let d = ''; res.on('data', c => d += c); res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`POST ${res.statusCode} ${d}`));
        resolve(JSON.parse(d)); }); });
    req.on('error', reject);
    req.end(body);
  });
}

async function producer() {
  while (!stop) {
    const events = [];
    for (let i = 0; i < 20; i++) events.push({ type: 'agent', message: `m${i}` });
    const a = await post(events);
    lastAcked = Math.max(lastAcked, a.last_id);
  }
}

// One connection: read until 30 live events have arrived after 'live'.
function check(k) {
  return new Promise((resolve) => {
    const useSince = k % 2 === 1;
    const start = Math.max(0, lastAcked - Math.floor(Math.random() * 3000));
    // since: a moment up to 2 s back; ingest times only grow with ids, so
    // the replay is consecutive from the first event at or after it.
    const since = new Date(Date.now() - Math.floor(Math.random() * 2000)).toISOString();
    const url = useSince
      ? `ws://127.0.0.1:${port}/ws/logs?control=1&since=${since}`
      : `ws://127.0.0.1:${port}/ws/logs?control=1&after_id=${start}`;
    const ws = new WebSocket(url);
    let expected = useSince ? null : start + 1, live = false, afterLive = 0, error = null, sawHello = false;
    ws.on('message', data => {
      const m = JSON.parse(data);
      if (m.control === 'hello') { sawHello = true; return; }
      if (m.control === 'live') {
        if (expected !== null && m.last_id !== expected - 1) error = `live says last_id ${m.last_id}, last received ${expected - 1}`;
        live = true; return;
      }
      if (m.control) { error = `unexpected control ${data}`; return; }
      if (expected === null) expected = m.id;
      if (m.id !== expected) error = error || `expected id ${expected}, got ${m.id} (live=${live})`;
      expected = m.id + 1;
      if (live && ++afterLive >= 30) ws.close();
    });
    ws.on('close', () => resolve({ error: error || (!sawHello ? 'no hello' : (!live ? 'never live' : null)) }));
    ws.on('error', e => { error = String(e); });
  });
}

(async () => {
  const producers = [producer(), producer()];
  await new Promise(r => setTimeout(r, 300));
  let failed = 0;
  const batch = 50;
  for (let k = 0; k < connects; k += batch) {
    const rs = await Promise.all(Array.from({ length: Math.min(batch, connects - k) }, (_, j) => check(k + j)));
    rs.forEach((r, j) => { if (r.error) { failed++; if (failed < 10) console.log(`FAIL connect ${k + j}: ${r.error}`); } });
  }
  stop = true;
  await Promise.all(producers);
  console.log(`${connects - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch(e => { console.log('FAIL:', e); process.exit(1); });
