// Churn: subscribers that drop their connection at random moments (also in
// the middle of a replay) and reconnect with after_id, while producers post.
// Each subscriber's concatenated stream must equal the store's id sequence.
// Usage: node churn.js PORT SUBSCRIBERS EVENTS PRODUCERS
'use strict';
const http = require('http');
const WebSocket = require('ws');

const [port, nsubs, total, nprod] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: nprod });
let acked = 0;
const ackedIds = [];

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

async function producer(p, count) {
  let sent = 0;
  while (sent < count) {
    const n = Math.min(count - sent, 1 + Math.floor(Math.random() * 200));
    const events = [];
    for (let i = 0; i < n; i++) events.push({ type: i % 3 ? 'agent' : 'monitor', message: `p${p} e${sent + i}`, data: { p, i: sent + i } });
    const a = await post(events);
    for (let id = a.first_id; id <= a.last_id; id++) ackedIds.push(id);
    acked += n; sent += n;
  }
}

function subscriber(s) {
  return new Promise(resolve => {
    const got = [];
    let last = 0, reconnects = 0;
    const connect = () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/logs?after_id=${last}`);
      // Drop after a random number of messages (some very early: mid-replay).
      let budget = Math.floor(Math.random() * 6000) + 1;
      ws.on('message', data => {
        const ev = JSON.parse(data);
        got.push(ev.id);
        last = ev.id;
        if (last >= total) { ws.close(); return resolve({ got, reconnects }); }
        if (--budget === 0) ws.terminate();
      });
      ws.on('close', () => {
        if (last >= total) return;
        reconnects++;
        setTimeout(connect, Math.floor(Math.random() * 50));
      });
      ws.on('error', () => {});
    };
    connect();
  });
}

(async () => {
  const subs = [];
  for (let s = 0; s < nsubs; s++) subs.push(subscriber(s));
  const per = Math.ceil(total / nprod);
  const prods = [];
  for (let p = 0; p < nprod; p++) prods.push(producer(p, Math.min(per, total - p * per)));
  await Promise.all(prods);
  const timer = setTimeout(() => { console.log('FAIL: subscribers did not finish in time'); process.exit(1); }, 120000);
  const results = await Promise.all(subs);
  clearTimeout(timer);
  ackedIds.sort((a, b) => a - b);
  let failed = 0, reconnects = 0;
  if (ackedIds.length !== total || ackedIds[0] !== 1 || ackedIds[total - 1] !== total) {
    console.log(`FAIL: acked ids are not 1..${total} (${ackedIds.length} acked)`); failed++;
  }
  results.forEach((r, s) => {
    reconnects += r.reconnects;
    const bad = r.got.length !== total || r.got.some((id, i) => id !== i + 1);
    if (bad) {
      const i = r.got.findIndex((id, k) => id !== k + 1);
      console.log(`FAIL: subscriber ${s}: ${r.got.length} messages, first wrong at ${i}: ${r.got.slice(Math.max(0, i - 2), i + 3)}`);
      failed++;
    }
  });
  console.log(`${nsubs} subscribers, ${reconnects} reconnects, ${total} events each`);
  console.log(`${nsubs + 1 - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch(e => { console.log('FAIL:', e); process.exit(1); });
