// Fan-out: many subscribers on /ws/logs, many producers posting at once.
//
//   node fanout.js HTTP_URL WS_URL [SUBSCRIBERS EVENTS PRODUCERS MAX_BATCH SEED]
//
// Opens every subscriber first and waits until all are open; then the
// producers post EVENTS events in batches of 1..MAX_BATCH over keep-alive
// connections, concurrently. Checks that every subscriber receives every
// event exactly once in the same order, ids strictly increasing by 1, that
// the ids are exactly the union of the acknowledged first_id..last_id
// ranges, and that each event's content is what was posted. Prints what
// failed and exits 1; prints a JSON summary as its last line.
'use strict';

const http = require('http');
const WebSocket = require('ws');

const [httpUrl, wsUrl, ...rest] = process.argv.slice(2);
if (!httpUrl || !wsUrl) {
  console.error('usage: node fanout.js HTTP_URL WS_URL [SUBSCRIBERS EVENTS PRODUCERS MAX_BATCH SEED]');
  process.exit(2);
}
const [SUBS, EVENTS, PRODUCERS, MAX_BATCH, SEED] = [200, 20000, 20, 50, Date.now() % 1000000]
  .map((dflt, i) => (rest[i] !== undefined ? Number(rest[i]) : dflt));
const TYPES = ['system', 'agent', 'monitor', 'error', 'config', 'security'];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const DELIVERY_TIMEOUT_MS = 180000;
const STALL_TIMEOUT_MS = 20000;

const failures = [];
function fail(msg) {
  if (failures.length < 50) console.log('FAIL ' + msg);
  failures.push(msg);
}

// A small seeded PRNG (mulberry32), so that a failing run can be replayed.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
}

// ---- subscribers

// The message text of each id, as the first subscriber to get it saw it.
const canonical = new Map();

function subscribe(n) {
  return new Promise((resolve, reject) => {
    const sub = { n, count: 0, first: null, last: null, orderErrors: 0, closed: false };
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    sub.ws = ws;
    ws.on('open', () => resolve(sub));
    ws.on('error', (err) => reject(new Error(`subscriber ${n}: ${err.message}`)));
    ws.on('close', (code) => {
      sub.closed = true;
      sub.closeCode = code;
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        fail(`subscriber ${n}: a binary message`);
        return;
      }
      const text = data.toString();
      // The id, cheaply when it comes first; any layout is accepted.
      let id;
      if (text.startsWith('{"id":')) id = parseInt(text.slice(6), 10);
      else id = JSON.parse(text).id;
      const seen = canonical.get(id);
      if (seen === undefined) canonical.set(id, text);
      else if (seen !== text) fail(`subscriber ${n}: id ${id} differs: ${text} vs ${seen}`);
      if (sub.last === null) sub.first = id;
      else if (id !== sub.last + 1) {
        if (sub.orderErrors++ < 3) fail(`subscriber ${n}: id ${id} after ${sub.last}`);
      }
      sub.last = id;
      sub.count++;
    });
  });
}

// ---- producers

function post(agent, body) {
  const url = new URL('/api/events', httpUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        body: Buffer.concat(chunks).toString(),
        reused: req.reusedSocket,
      }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function produce(p, quota, random, acks, stats) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let k = 0;
  while (k < quota) {
    const size = Math.min(quota - k, 1 + Math.floor(random() * MAX_BATCH));
    const batch = [];
    for (let i = 0; i < size; i++, k++) {
      batch.push({
        type: TYPES[(p + k) % TYPES.length],
        message: `productor ${p} evento ${k} ñ 🚀`,
        data: { p, k, size },
      });
    }
    const res = await post(agent, JSON.stringify(batch));
    stats.requests++;
    if (res.reused) stats.reused++;
    if (res.status !== 200) {
      fail(`producer ${p}: status ${res.status}: ${res.body}`);
      break;
    }
    const ack = JSON.parse(res.body);
    if (ack.accepted !== size || ack.last_id - ack.first_id + 1 !== size) {
      fail(`producer ${p}: answer ${res.body} for a batch of ${size}`);
    }
    acks.push({ ack, batch });
  }
  agent.destroy();
}

// ---- the run

async function main() {
  console.log(`fanout: ${SUBS} subscribers, ${EVENTS} events, ${PRODUCERS} producers, ` +
              `batches of 1..${MAX_BATCH}, seed ${SEED}`);
  const t0 = Date.now();
  const subs = await Promise.all(Array.from({ length: SUBS }, (_, n) => subscribe(n)));
  const tOpen = Date.now();

  const random = prng(SEED);
  const acks = [];
  const stats = { requests: 0, reused: 0 };
  const quota = Math.floor(EVENTS / PRODUCERS);
  await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => produce(
    p, p === PRODUCERS - 1 ? EVENTS - quota * (PRODUCERS - 1) : quota,
    prng(Math.floor(random() * 4294967296)), acks, stats)));
  const tPosted = Date.now();

  // Wait for every subscriber to have every event.
  // Give up early when nothing has arrived for a while.
  const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
  let delivered = -1;
  let progressAt = Date.now();
  while (subs.some((s) => s.count < EVENTS && !s.closed) && Date.now() < deadline &&
         Date.now() - progressAt < STALL_TIMEOUT_MS) {
    await new Promise((r) => setTimeout(r, 20));
    const now = subs.reduce((n, s) => n + s.count, 0);
    if (now !== delivered) {
      delivered = now;
      progressAt = Date.now();
    }
  }
  const tDelivered = Date.now();
  await new Promise((r) => setTimeout(r, 300)); // anything extra would show now

  // The acknowledged ranges: disjoint, contiguous, EVENTS ids in all.
  acks.sort((a, b) => a.ack.first_id - b.ack.first_id);
  const accepted = acks.reduce((n, a) => n + a.ack.accepted, 0);
  if (accepted !== EVENTS) fail(`acknowledged ${accepted} events, posted ${EVENTS}`);
  const firstId = acks.length ? acks[0].ack.first_id : null;
  let expectNext = firstId;
  for (const { ack } of acks) {
    if (ack.first_id !== expectNext) {
      fail(`acknowledged ranges: ${ack.first_id}..${ack.last_id} where ${expectNext} was next`);
    }
    expectNext = ack.last_id + 1;
  }
  const lastId = firstId + EVENTS - 1;

  // Every subscriber: all ids firstId..lastId, in order, nothing else.
  for (const s of subs) {
    if (s.count !== EVENTS || s.first !== firstId || s.last !== lastId || s.orderErrors) {
      fail(`subscriber ${s.n}: ${s.count} events, ids ${s.first}..${s.last}, ` +
           `${s.orderErrors} order errors; expected ${EVENTS} events, ids ${firstId}..${lastId}`);
    }
    if (s.closed) fail(`subscriber ${s.n}: closed by the server (code ${s.closeCode})`);
  }

  // The content of every id is what its producer posted.
  let contentErrors = 0;
  for (const { ack, batch } of acks) {
    batch.forEach((event, i) => {
      const id = ack.first_id + i;
      const text = canonical.get(id);
      if (text === undefined) return; // reported above
      const got = JSON.parse(text);
      const want = { id, ...event, timestamp: got.timestamp };
      if (!TIMESTAMP.test(got.timestamp) || !deepEqual(got, want)) {
        if (contentErrors++ < 3) fail(`id ${id}: got ${text}, posted ${JSON.stringify(event)}`);
      }
    });
  }
  if (contentErrors > 3) fail(`${contentErrors} events in all differ from what was posted`);

  if (stats.reused < stats.requests - PRODUCERS) {
    fail(`keep-alive: only ${stats.reused} of ${stats.requests} requests reused a connection`);
  }

  for (const s of subs) s.ws.terminate();
  const summary = {
    subscribers: SUBS, events: EVENTS, producers: PRODUCERS, requests: stats.requests,
    deliveries: subs.reduce((n, s) => n + s.count, 0), first_id: firstId, last_id: lastId,
    open_ms: tOpen - t0, post_ms: tPosted - tOpen, deliver_ms: tDelivered - tOpen,
    failures: failures.length, seed: SEED,
  };
  console.log(JSON.stringify(summary));
  process.exit(failures.length ? 1 : 0);
}

main().catch((err) => {
  console.log('FAIL ' + (err.stack || err));
  process.exit(1);
});
