// Post N events in batches over HTTP keep-alive as fast as the server takes
// them; print one JSON line {"acked":N,"first_id":A,"last_id":B,"seconds":S}.
// Usage: node ingest.js PORT EVENTS BATCH CONNECTIONS [PAD_BYTES]
'use strict';
const http = require('http');

const [port, total, batch, conns, pad = 200] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
const filler = 'x'.repeat(pad);
let sent = 0, acked = 0, first = Infinity, last = 0;
const t0 = process.hrtime.bigint();

function body(n, base) {
  const events = [];
  for (let i = 0; i < n; i++)
    events.push({ type: 'monitor', message: `check ${base + i}`, data: { service: 'nginx', status: 'running', pad: filler } });
  return JSON.stringify(events);
}

function next(resolve, reject) {
  if (sent >= total) return resolve();
  const n = Math.min(batch, total - sent);
  const b = body(n, sent);
  sent += n;
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/events', agent,
    headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) } }, res => {
    let d = '';
    res.on('data', c => d += c);
    res.on('end', () => {
      if (res.statusCode !== 200) return reject(new Error(`POST ${res.statusCode}: ${d}`));
      const a = JSON.parse(d);
      acked += a.accepted; first = Math.min(first, a.first_id); last = Math.max(last, a.last_id);
      next(resolve, reject);
    });
  });
  req.on('error', reject);
  req.end(b);
}

Promise.all(Array.from({ length: conns }, () => new Promise(next))).then(() => {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ acked, first_id: first, last_id: last, seconds }));
  process.exit(0);
}).catch(e => { console.error(String(e)); process.exit(1); });
