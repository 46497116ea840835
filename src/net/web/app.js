/*
 * sentinel-logd live dashboard: one WebSocket on /ws/logs, no framework, no
 * build step, nothing fetched but this page's own files and the socket.
 *
 * History and resume. The page always subscribes with control=1 and keeps
 * two things from the stream: the store's epoch (from "hello") and the last
 * event id it has seen. Every (re)connection asks for
 * after_id=<last id>&epoch=<epoch>, so the server replays exactly what the
 * page missed, in order, then goes live; an id at or below the last one
 * seen is ignored, so nothing is ever shown twice. The first connection of
 * a page has no last id yet: it is a short probe with no after_id that only
 * reads "hello" (the store's newest id, L) and is closed at once; the page
 * then connects with after_id=max(0, L - HISTORY). That loads the newest
 * HISTORY events as history with the same code path as a resume, and it is
 * gapless: whatever is committed between the probe and the second
 * connection has an id above L and is replayed too. (since=1h would bound
 * history by time, not by size: a busy store could send millions.)
 * "reset" (the store was re-created, ids start over) clears the page and
 * starts again with a probe; "gap" (retention removed events before the
 * page could read them, or an unclean stop lost events the page may have
 * shown) is shown as a notice in the feed.
 *
 * Memory is bounded everywhere: the feed keeps MAX_ROWS rows, events wait
 * for the next frame in a queue cut to MAX_ROWS, events received while
 * paused are kept up to PAUSE_MAX, and the chart is a fixed ring of
 * per-second counters.
 *
 * Authentication: the token comes from the page's ?token= or from the
 * form the page shows when the server refuses it; it is kept for the tab
 * (sessionStorage) and sent as ?token= on the WebSocket URL, since a
 * browser cannot set headers there. A browser does not tell a page why a
 * WebSocket handshake failed, so when a connection closes before "hello"
 * the page asks GET /api/stats (same token, same role) and shows the form
 * on 401 or 403 instead of retrying.
 *
 * History and SQL. Besides the live view the page has two more, chosen by
 * the tabs (and the URL's #history or #sql): the history view pages back
 * through GET /api/events (order=desc, before_id) within a time range and
 * a type, filters the messages by text as the pages arrive (the server has
 * no text filter, and scanning is bounded per click), and expands rows as
 * the live feed does; the SQL view posts a query to POST /api/sql (the
 * README's audit queries are its examples), shows the result as a table,
 * and checks the hash chain with GET /api/verify. Both send the page's
 * token as a bearer token. The live subscription goes on meanwhile.
 *
 * Event content is only ever put into the page as text (textContent),
 * never as HTML.
 */
'use strict';

const MAX_ROWS = 1000; /* rows kept in the feed; older ones are dropped */
const HISTORY = 500; /* events loaded when the page opens */
const PAUSE_MAX = MAX_ROWS; /* newest events kept while paused */
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const CHART_SECONDS = 300;
const RATE_SECONDS = 10;
const KINDS = ['system', 'agent', 'monitor', 'error', 'config', 'security', 'other'];
const KNOWN = new Set(KINDS.slice(0, -1));

const HISTORY_FETCH = 100; /* events asked for per request */
const HISTORY_SHOW = 100; /* matches shown per click of "Load older" */
const HISTORY_SCAN = 5000; /* events scanned per click at most */
const HISTORY_MAX_ROWS = 5000; /* rows the history list keeps */
const SQL_MAX_ROWS = 2000; /* rows of a result put in the table */
const VIEWS = ['live', 'history', 'sql'];

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat('en-US');
const TOKEN_KEY = 'sentinel-logd.token';

const ui = {
  status: $('status'),
  statusText: $('status-text'),
  retry: $('retry'),
  tokenForm: $('token-form'),
  tokenInput: $('token-input'),
  tokenWhy: $('token-why'),
  chart: $('chart'),
  rate: $('stat-rate'),
  peak: $('stat-peak'),
  total: $('stat-total'),
  last: $('stat-last'),
  typeList: $('type-list'),
  typesEmpty: $('types-empty'),
  typesAll: $('types-all'),
  typesNone: $('types-none'),
  filter: $('text-filter'),
  shown: $('shown'),
  pause: $('pause'),
  pauseLabel: $('pause-label'),
  banner: $('paused-banner'),
  bannerText: $('paused-text'),
  feed: $('feed'),
  feedEmpty: $('feed-empty'),
  historyForm: $('history-form'),
  historyRange: $('history-range'),
  historyFrom: $('history-from'),
  historyTo: $('history-to'),
  historyFromField: $('history-from-field'),
  historyToField: $('history-to-field'),
  historyType: $('history-type'),
  historyText: $('history-text'),
  historyInfo: $('history-info'),
  historyList: $('history-list'),
  historyEmpty: $('history-empty'),
  historyMore: $('history-more'),
  sqlForm: $('sql-form'),
  sqlText: $('sql-text'),
  sqlExamples: $('sql-examples'),
  sqlStatus: $('sql-status'),
  sqlError: $('sql-error'),
  sqlResult: $('sql-result'),
  sqlTable: $('sql-table'),
  sqlRun: $('sql-run'),
  chainCheck: $('chain-check'),
  chainResult: $('chain-result'),
};

const state = {
  /* connection */
  ws: null,
  token: initialToken(),
  epoch: null,
  lastId: null, /* null: nothing asked for yet, the next connection probes */
  probing: false,
  loadingHistory: false, /* a gap before the history window is expected */
  live: false,
  backoff: BACKOFF_MIN_MS,
  retryTimer: 0,
  retryAt: 0,
  countdown: 0,
  /* feed */
  queue: [], /* events and notices waiting for the next frame */
  frame: 0,
  rows: [], /* {id, type, lower, el, notice}, oldest first */
  visible: 0,
  paused: false,
  held: [], /* events received while paused (the newest PAUSE_MAX) */
  heldCount: 0,
  /* filters */
  hiddenTypes: new Set(),
  text: '',
  /* counters */
  total: 0,
  counts: new Map(), /* type -> events received */
  typeItems: new Map(), /* type -> {li, input, count} */
};

/* ------------------------------------------------------------------ socket */

function initialToken() {
  const fromUrl = new URLSearchParams(location.search).get('token');
  if (fromUrl) return fromUrl;
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch (e) {
    return '';
  }
}

function wsUrl(params) {
  const q = new URLSearchParams(params);
  q.set('control', '1');
  if (state.token) q.set('token', state.token);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws/logs?${q}`;
}

/* Open the subscription: a probe first, then always a resume from lastId. */
function connect() {
  clearRetry();
  const params = {};
  state.probing = state.lastId === null;
  if (!state.probing) {
    params.after_id = String(state.lastId);
    if (state.epoch) params.epoch = state.epoch;
  }
  state.live = false;
  const ws = new WebSocket(wsUrl(params));
  state.ws = ws;
  if (ui.status.dataset.state !== 'reconnecting' && ui.status.dataset.state !== 'live') {
    setStatus('connecting', 'Connecting…');
  } else {
    setStatus('reconnecting', 'Reconnecting…');
  }

  ws.onmessage = (m) => {
    if (ws !== state.ws) return;
    let msg;
    try {
      msg = JSON.parse(m.data);
    } catch (e) {
      return; /* not ours to show */
    }
    if (!msg || typeof msg !== 'object') return;
    if (typeof msg.control === 'string') onControl(ws, msg);
    else if (!state.probing) onEvent(msg);
  };
  let greeted = false;
  ws.addEventListener('message', () => {
    greeted = true;
  }, {once: true});
  ws.onclose = () => {
    if (ws !== state.ws) return; /* a socket we closed on purpose */
    state.ws = null;
    state.live = false;
    if (greeted) scheduleReconnect();
    else checkAccess();
  };
}

/* Close the current socket without reconnecting through onclose. */
function dropSocket() {
  const ws = state.ws;
  state.ws = null;
  if (ws) ws.close();
}

function onControl(ws, msg) {
  switch (msg.control) {
    case 'hello':
      state.backoff = BACKOFF_MIN_MS;
      if (typeof msg.epoch === 'string') state.epoch = msg.epoch;
      if (state.probing) {
        const last = Number(msg.last_id) || 0;
        state.lastId = Math.max(0, last - HISTORY);
        state.loadingHistory = true;
        dropSocket();
        connect();
        return;
      }
      setStatus('catching-up', 'Catching up…');
      break;
    case 'reset':
      /* The store was re-created: its ids mean nothing to us any more. */
      clearPage();
      state.epoch = typeof msg.epoch === 'string' ? msg.epoch : null;
      state.lastId = null;
      enqueue({notice: 'The store was re-created: showing its events from the start.'});
      dropSocket();
      connect();
      break;
    case 'gap':
      if (msg.reason === 'lost') {
        /* An unclean stop (a power cut) took these back after they were sent. */
        enqueue({
          notice: `Events #${msg.from_id}–#${msg.to_id} may have been sent before the server ` +
            'stopped uncleanly, and are not stored.',
        });
      } else if (!state.loadingHistory) {
        enqueue({
          notice: `Events #${msg.from_id}–#${msg.to_id} were removed by retention ` +
            'before this page could show them.',
        });
      }
      break;
    case 'live':
      state.live = true;
      state.loadingHistory = false;
      setStatus('live', 'Live');
      break;
    default:
      break;
  }
}

function onEvent(ev) {
  if (!Number.isSafeInteger(ev.id) || typeof ev.type !== 'string') return;
  if (ev.id <= state.lastId) return; /* seen already (resume overlap) */
  state.lastId = ev.id;
  state.total++;
  state.counts.set(ev.type, (state.counts.get(ev.type) || 0) + 1);
  if (state.live) chartAdd(kindOf(ev.type));
  if (state.paused) {
    state.held.push(ev);
    state.heldCount++;
    if (state.held.length > 2 * PAUSE_MAX) state.held.splice(0, state.held.length - PAUSE_MAX);
    scheduleFrame();
  } else {
    enqueue(ev);
  }
}

/* The handshake failed: if the server refuses our token, ask for one. */
async function checkAccess() {
  const headers = state.token ? {Authorization: `Bearer ${state.token}`} : {};
  let status = 0;
  let why = '';
  try {
    const r = await fetch('/api/stats', {headers, cache: 'no-store'});
    status = r.status;
    if (status === 401 || status === 403) why = (await r.json()).error || '';
  } catch (e) {
    status = 0; /* the server is down: retry as usual */
  }
  if (status === 401 || status === 403) askToken(status, why);
  else scheduleReconnect();
}

function askToken(status, why) {
  clearRetry();
  setStatus('auth', 'Token required');
  ui.tokenWhy.textContent = state.token
    ? `The server refused this token: ${why || `HTTP ${status}`}.`
    : 'Enter a token with the subscribe role.';
  ui.tokenForm.hidden = false;
  ui.tokenInput.value = '';
  ui.tokenInput.focus();
}

function onTokenSubmit(e) {
  e.preventDefault();
  state.token = ui.tokenInput.value.trim();
  try {
    sessionStorage.setItem(TOKEN_KEY, state.token);
  } catch (err) {
    /* kept in memory only */
  }
  ui.tokenForm.hidden = true;
  state.backoff = BACKOFF_MIN_MS;
  connect();
}

function scheduleReconnect() {
  const delay = state.backoff;
  state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
  state.retryAt = Date.now() + delay;
  state.retryTimer = setTimeout(connect, delay);
  ui.retry.hidden = false;
  const tick = () => {
    const s = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000));
    setStatus('reconnecting', `Disconnected · reconnecting in ${s} s`);
  };
  tick();
  state.countdown = setInterval(tick, 250);
}

function clearRetry() {
  clearTimeout(state.retryTimer);
  clearInterval(state.countdown);
  state.retryTimer = state.countdown = 0;
  ui.retry.hidden = true;
}

function setStatus(name, text) {
  if (ui.status.dataset.state !== name) ui.status.dataset.state = name;
  if (ui.statusText.textContent !== text) ui.statusText.textContent = text;
}

/* -------------------------------------------------------------------- feed */

function kindOf(type) {
  return KNOWN.has(type) ? type : 'other';
}

function enqueue(item) {
  state.queue.push(item);
  /* Only the newest MAX_ROWS can end up on screen. */
  if (state.queue.length > 2 * MAX_ROWS) state.queue.splice(0, state.queue.length - MAX_ROWS);
  scheduleFrame();
}

function scheduleFrame() {
  if (!state.frame) state.frame = requestAnimationFrame(render);
}

/* Once a frame: insert what arrived, drop what is too old, update counters. */
function render() {
  state.frame = 0;
  const batch = state.queue.length > MAX_ROWS ? state.queue.slice(-MAX_ROWS) : state.queue;
  state.queue = [];
  if (batch.length) {
    const frag = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i--) {
      const rec = batch[i].notice ? makeNotice(batch[i].notice) : makeRow(batch[i]);
      rec.el.hidden = !matches(rec);
      if (!rec.el.hidden) state.visible++;
      frag.append(rec.el);
      batch[i] = rec;
    }
    ui.feed.prepend(frag);
    for (const rec of batch) state.rows.push(rec);
    const excess = state.rows.length - MAX_ROWS;
    if (excess > 0) {
      for (const rec of state.rows.splice(0, excess)) {
        if (!rec.el.hidden) state.visible--;
        rec.el.remove();
      }
    }
  }
  updateTypes();
  updateFeedInfo();
  updateBanner();
  ui.total.textContent = fmt.format(state.total);
  ui.last.textContent = state.lastId ? fmt.format(state.lastId) : '–';
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/* "2026-03-09T14:35:00.123456Z" -> "2026-03-09 14:35:00.123". */
function shortTime(ts) {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,3})?/.exec(ts);
  return m ? `${m[1]} ${m[2]}${m[3] || ''}` : ts;
}

/* What a row expands to: the event's data, plus any extra top-level fields. */
function detailsOf(ev) {
  const extra = {};
  let n = 0;
  for (const k of Object.keys(ev)) {
    if (k === 'id' || k === 'type' || k === 'message' || k === 'timestamp') continue;
    extra[k] = ev[k];
    n++;
  }
  if (n === 0) return undefined;
  if (n === 1 && 'data' in extra) return extra.data;
  return extra;
}

function makeRow(ev) {
  const message = typeof ev.message === 'string' ? ev.message : JSON.stringify(ev.message);
  const timestamp = typeof ev.timestamp === 'string' ? ev.timestamp : '';
  const details = detailsOf(ev);

  const li = el('li', 'event');
  li.dataset.kind = kindOf(ev.type);
  li.dataset.type = ev.type;
  li.dataset.id = String(ev.id);
  if (details !== undefined) li.classList.add('has-data');

  const d = el('details');
  const s = el('summary');
  const ts = el('span', 'ts', shortTime(timestamp));
  ts.title = timestamp;
  s.append(el('span', 'chev'), ts, el('span', 'badge', ev.type), el('span', 'id', `#${ev.id}`),
    el('span', 'msg', message));
  d.append(s);
  /* The detail is built on first open only. */
  d.addEventListener('toggle', () => {
    if (!d.open || d.childElementCount > 1) return;
    const box = el('div', 'detail');
    const meta = el('p', 'meta');
    meta.append('id ', el('span', '', String(ev.id)), ' · timestamp ', el('span', '', timestamp));
    box.append(meta);
    box.append(el('pre', 'json', details === undefined ? 'No data.' : JSON.stringify(details, null, 2)));
    d.append(box);
  });
  li.append(d);
  return {id: ev.id, type: ev.type, lower: message.toLowerCase(), el: li, notice: false};
}

function makeNotice(text) {
  return {id: 0, type: '', lower: '', el: el('li', 'notice', text), notice: true};
}

function matches(rec) {
  if (rec.notice) return true;
  return !state.hiddenTypes.has(rec.type) && (!state.text || rec.lower.includes(state.text));
}

function applyFilters() {
  let visible = 0;
  for (const rec of state.rows) {
    const show = matches(rec);
    if (rec.el.hidden === show) rec.el.hidden = !show;
    if (show) visible++;
  }
  state.visible = visible;
  updateFeedInfo();
}

function updateFeedInfo() {
  const total = state.rows.length;
  const filtered = state.hiddenTypes.size > 0 || state.text !== '';
  ui.shown.textContent = total === 0 ? ''
    : filtered ? `${fmt.format(state.visible)} of ${fmt.format(total)} rows`
      : `${fmt.format(total)} rows`;
  ui.feedEmpty.hidden = state.visible > 0;
  ui.feedEmpty.textContent = total === 0 ? 'Waiting for events…' : 'No events match the filters.';
}

function clearPage() {
  for (const rec of state.rows) rec.el.remove();
  state.rows = [];
  state.queue = [];
  state.held = [];
  state.heldCount = 0;
  state.visible = 0;
  state.total = 0;
  state.counts.clear();
  for (const item of state.typeItems.values()) item.li.remove();
  state.typeItems.clear();
  chartClear();
  scheduleFrame();
}

/* ------------------------------------------------------------------- types */

function typeOrder(a, b) {
  const ia = KINDS.indexOf(a);
  const ib = KINDS.indexOf(b);
  const ka = ia < 0 || a === 'other' ? KINDS.length : ia;
  const kb = ib < 0 || b === 'other' ? KINDS.length : ib;
  return ka - kb || (a < b ? -1 : a > b ? 1 : 0);
}

function addType(type) {
  const li = el('li');
  li.dataset.kind = kindOf(type);
  const label = el('label');
  const input = el('input');
  input.type = 'checkbox';
  input.name = 'type';
  input.value = type;
  input.checked = !state.hiddenTypes.has(type);
  input.addEventListener('change', () => {
    if (input.checked) state.hiddenTypes.delete(type);
    else state.hiddenTypes.add(type);
    li.classList.toggle('off', !input.checked);
    applyFilters();
  });
  const count = el('span', 'type-count', '0');
  label.append(input, el('span', 'swatch'), el('span', 'type-name', type), count);
  li.append(label);
  const item = {li, input, count};
  state.typeItems.set(type, item);

  const names = [...state.typeItems.keys()].sort(typeOrder);
  const next = names[names.indexOf(type) + 1];
  ui.typeList.insertBefore(li, next ? state.typeItems.get(next).li : null);
  return item;
}

function updateTypes() {
  for (const [type, n] of state.counts) {
    const item = state.typeItems.get(type) || addType(type);
    const text = fmt.format(n);
    if (item.count.textContent !== text) item.count.textContent = text;
  }
  ui.typesEmpty.hidden = state.typeItems.size > 0;
}

function setAllTypes(show) {
  for (const [type, item] of state.typeItems) {
    item.input.checked = show;
    item.li.classList.toggle('off', !show);
    if (show) state.hiddenTypes.delete(type);
    else state.hiddenTypes.add(type);
  }
  applyFilters();
}

/* ------------------------------------------------------------------- pause */

function togglePause() {
  state.paused = !state.paused;
  ui.pause.setAttribute('aria-pressed', String(state.paused));
  ui.pauseLabel.textContent = state.paused ? 'Resume' : 'Pause';
  if (!state.paused) {
    for (const ev of state.held.slice(-PAUSE_MAX)) enqueue(ev);
    state.held = [];
    state.heldCount = 0;
  }
  scheduleFrame();
}

function updateBanner() {
  ui.banner.hidden = !state.paused;
  if (!state.paused) return;
  const n = state.heldCount;
  let text = n === 0 ? 'Paused: new events are held until you resume.'
    : `Paused: ${fmt.format(n)} new event${n === 1 ? '' : 's'} held until you resume.`;
  if (n > PAUSE_MAX) text += ` The newest ${fmt.format(PAUSE_MAX)} will be shown.`;
  ui.bannerText.textContent = text;
}

/* ------------------------------------------------------------------- chart */

/* Events received live, per second and per kind, in a ring of CHART_SECONDS
 * slots. Replayed events (history, catch-up) are not counted: they were not
 * received at the rate they were produced. */
const ring = {
  sec: new Float64Array(CHART_SECONDS).fill(-1),
  counts: Array.from({length: CHART_SECONDS}, () => new Uint32Array(KINDS.length)),
};

function slot(sec) {
  const i = sec % CHART_SECONDS;
  if (ring.sec[i] !== sec) {
    ring.sec[i] = sec;
    ring.counts[i].fill(0);
  }
  return ring.counts[i];
}

function chartAdd(kind) {
  slot(Math.floor(Date.now() / 1000))[KINDS.indexOf(kind)]++;
}

function chartClear() {
  ring.sec.fill(-1);
}

function secondTotal(sec) {
  const i = sec % CHART_SECONDS;
  if (ring.sec[i] !== sec) return 0;
  let n = 0;
  for (const c of ring.counts[i]) n += c;
  return n;
}

/* A scale for the y axis: 4 steps of 1, 2 or 5 times a power of ten. */
function niceScale(peak) {
  const raw = Math.max(peak, 4) / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  return {step, max: 4 * step};
}

function drawChart() {
  const canvas = ui.chart;
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (!w || !h) return;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);

  const now = Math.floor(Date.now() / 1000);
  let peak = 0;
  let recent = 0;
  let windowTotal = 0;
  for (let s = now - CHART_SECONDS + 1; s <= now; s++) {
    const n = secondTotal(s);
    peak = Math.max(peak, n);
    windowTotal += n;
  }
  for (let s = now - RATE_SECONDS; s < now; s++) recent += secondTotal(s);
  const rate = recent / RATE_SECONDS;

  const left = 44;
  const right = 12;
  const top = 10;
  const bottom = 22;
  const pw = w - left - right;
  const ph = h - top - bottom;
  const {step, max} = niceScale(peak);

  ctx.font = `11px ${color('--mono')}`;
  ctx.textBaseline = 'middle';
  ctx.lineWidth = 1;
  /* Horizontal grid with the scale. */
  ctx.fillStyle = color('--muted');
  ctx.strokeStyle = color('--grid');
  ctx.textAlign = 'right';
  for (let i = 0; i <= 4; i++) {
    const y = Math.round(top + ph - (ph * i) / 4) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + pw, y);
    ctx.stroke();
    const v = step * i;
    ctx.fillText(v >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toFixed(1)}`, left - 8, y);
  }
  /* Minute marks. */
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let m = 0; m <= CHART_SECONDS / 60; m++) {
    const x = Math.round(left + pw - (pw * m * 60) / CHART_SECONDS) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, top + ph);
    ctx.lineTo(x, top + ph + 4);
    ctx.stroke();
    ctx.fillText(m === 0 ? 'now' : `−${m}m`, Math.min(x, left + pw - 10), top + ph + 7);
  }
  /* Bars stacked by kind, one per second. */
  const bw = pw / CHART_SECONDS;
  const fills = KINDS.map((k) => color(`--c-${k}`));
  for (let s = now - CHART_SECONDS + 1; s <= now; s++) {
    const i = s % CHART_SECONDS;
    if (ring.sec[i] !== s) continue;
    const x = left + pw - (now - s + 1) * bw;
    let y = top + ph;
    ring.counts[i].forEach((n, k) => {
      if (!n) return;
      const bh = (ph * n) / max;
      ctx.fillStyle = fills[k];
      ctx.fillRect(x + 0.15 * bw, y - bh, Math.max(0.7 * bw, 1), bh);
      y -= bh;
    });
  }

  ui.rate.textContent = rate >= 100 ? fmt.format(Math.round(rate)) : rate.toFixed(1);
  ui.peak.textContent = fmt.format(peak);
  canvas.setAttribute('aria-label',
    `Events per second over the last 5 minutes: ${ui.rate.textContent} a second now ` +
    `(average of the last ${RATE_SECONDS} s), peak ${peak}, ` +
    `${windowTotal} events in the last 5 minutes.`);
}

/* ------------------------------------------------------------------- views */

let view = 'live';

function viewFromHash() {
  const name = location.hash.slice(1);
  return VIEWS.includes(name) ? name : 'live';
}

function showView(name, focus) {
  view = name;
  for (const v of VIEWS) {
    const tab = $(`tab-${v}`);
    const on = v === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`view-${v}`).hidden = !on;
  }
  if (focus) $(`tab-${name}`).focus();
  const hash = name === 'live' ? '' : `#${name}`;
  if (location.hash !== hash) {
    history.replaceState(null, '', `${location.pathname}${location.search}${hash}`);
  }
  if (name === 'history') historyOpened();
  if (name === 'sql' && !sqlRan) runSql();
  if (name === 'live') drawChart();
}

function onTabKey(e) {
  const i = VIEWS.indexOf(view);
  if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
    e.preventDefault();
    const next = (i + (e.key === 'ArrowRight' ? 1 : VIEWS.length - 1)) % VIEWS.length;
    showView(VIEWS[next], true);
  }
}

/* fetch() with the page's token as a bearer token. */
function apiFetch(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  return fetch(path, Object.assign({}, options, {headers, cache: 'no-store'}));
}

/* The message of an error answer ({"error": ...}), or its status. */
async function errorOf(r, role) {
  let why = `HTTP ${r.status}`;
  try {
    why = (await r.json()).error || why;
  } catch (e) {
    /* not JSON */
  }
  if (r.status === 401 || r.status === 403) {
    return `${why}. This needs a token with the ${role} role: open the page with ?token=…`;
  }
  return why;
}

/* ----------------------------------------------------------------- history */

const hist = {
  params: null, /* the search in force: {since, until, type, text} */
  beforeId: 0, /* where the next page ends (0: at the newest) */
  done: false,
  loading: false,
  shown: 0,
  scannedTo: 0, /* the oldest id looked at */
  typesLoaded: false,
  searched: false,
};

/* A datetime-local value ("2026-03-09T14:00" or with seconds) as UTC ISO. */
function localToIso(value) {
  if (!value) return '';
  return value.length === 16 ? `${value}:00` : value;
}

function historyParams() {
  const range = ui.historyRange.value;
  const p = {since: '', until: '', type: ui.historyType.value,
    text: ui.historyText.value.trim().toLowerCase()};
  if (range === 'custom') {
    p.since = localToIso(ui.historyFrom.value);
    p.until = localToIso(ui.historyTo.value);
  } else if (range !== 'all') {
    p.since = range;
  }
  return p;
}

function onRangeChange() {
  const custom = ui.historyRange.value === 'custom';
  ui.historyFromField.hidden = !custom;
  ui.historyToField.hidden = !custom;
  if (custom && !ui.historyFrom.value) {
    const now = new Date();
    const from = new Date(now.getTime() - 3600 * 1000);
    ui.historyTo.value = now.toISOString().slice(0, 19);
    ui.historyFrom.value = from.toISOString().slice(0, 19);
  }
}

/* The types for the type filter: the store's (GET /api/stats), and the live ones. */
async function loadTypes() {
  const names = new Set(state.counts.keys());
  try {
    const r = await apiFetch('/api/stats');
    if (r.ok) {
      for (const t of Object.keys((await r.json()).types || {})) names.add(t);
      hist.typesLoaded = true;
    }
  } catch (e) {
    /* the live types will do */
  }
  const current = ui.historyType.value;
  for (const option of [...ui.historyType.options].slice(1)) option.remove();
  for (const t of [...names].sort(typeOrder)) {
    const o = el('option', '', t);
    o.value = t;
    ui.historyType.append(o);
  }
  ui.historyType.value = names.has(current) ? current : '';
}

function historyOpened() {
  if (!hist.typesLoaded) loadTypes();
  if (!hist.searched) historySearch();
}

function historyClear() {
  ui.historyList.replaceChildren();
  hist.beforeId = 0;
  hist.done = false;
  hist.shown = 0;
  hist.scannedTo = 0;
}

function historySearch(e) {
  if (e) e.preventDefault();
  hist.searched = true;
  hist.params = historyParams();
  hist.loading = false; /* a search in flight sees it was replaced, and stops */
  historyClear();
  historyLoad();
}

/* Fetch pages, newest first, until HISTORY_SHOW more rows match or
 * HISTORY_SCAN events were looked at or nothing older is left. */
async function historyLoad() {
  if (hist.loading || hist.done) return;
  hist.loading = true;
  const p = hist.params;
  const gen = p;
  let shown = 0;
  let scanned = 0;
  let problem = '';
  ui.historyMore.disabled = true;
  ui.historyInfo.textContent = 'Loading…';
  try {
    while (!hist.done && shown < HISTORY_SHOW && scanned < HISTORY_SCAN &&
           hist.shown < HISTORY_MAX_ROWS) {
      const q = new URLSearchParams({order: 'desc', limit: String(HISTORY_FETCH)});
      if (hist.beforeId) q.set('before_id', String(hist.beforeId));
      if (p.since) q.set('since', p.since);
      if (p.until) q.set('until', p.until);
      if (p.type) q.set('type', p.type);
      const r = await apiFetch(`/api/events?${q}`);
      if (gen !== hist.params) return; /* a new search started meanwhile */
      if (!r.ok) {
        problem = await errorOf(r, 'subscribe');
        break;
      }
      const page = await r.json();
      const events = Array.isArray(page.events) ? page.events : [];
      scanned += events.length;
      const frag = document.createDocumentFragment();
      for (const ev of events) {
        if (!Number.isSafeInteger(ev.id) || typeof ev.type !== 'string') continue;
        hist.scannedTo = ev.id;
        const message = typeof ev.message === 'string' ? ev.message : JSON.stringify(ev.message);
        if (p.text && !message.toLowerCase().includes(p.text)) continue;
        if (hist.shown >= HISTORY_MAX_ROWS) break;
        frag.append(makeRow(ev).el);
        hist.shown++;
        shown++;
      }
      ui.historyList.append(frag);
      if (events.length < HISTORY_FETCH || !page.next_before_id) hist.done = true;
      else hist.beforeId = page.next_before_id;
    }
  } catch (err) {
    problem = 'The server cannot be reached.';
  } finally {
    if (gen === hist.params) {
      hist.loading = false;
      historyInfo(problem);
    }
  }
}

function historyInfo(problem) {
  const n = hist.shown;
  let text = n === 0 ? '' : `${fmt.format(n)} event${n === 1 ? '' : 's'}, newest first`;
  if (!hist.done && hist.scannedTo) text += ` · looked back to #${fmt.format(hist.scannedTo)}`;
  if (hist.done && n) text += ' · nothing older matches';
  if (hist.shown >= HISTORY_MAX_ROWS) {
    text += ` · the list keeps ${fmt.format(HISTORY_MAX_ROWS)} rows: narrow the range to go further`;
  }
  ui.historyInfo.textContent = problem || text;
  ui.historyInfo.classList.toggle('problem', !!problem);
  ui.historyEmpty.hidden = !!problem || n > 0 || !hist.done;
  ui.historyMore.hidden = !!problem || hist.done || hist.shown >= HISTORY_MAX_ROWS;
  ui.historyMore.disabled = false;
}

/* --------------------------------------------------------------------- sql */

/* The README's audit questions (tests/blackbox/audit_queries.sql). */
const EXAMPLES = [
  {
    question: 'Which errors did postgresql report on 2026-03-09 between 14:00 and 17:00 UTC?',
    sql: [
      "SELECT id, timestamp, json_extract(data, '$.error_type') AS error_type, message",
      "FROM events",
      "WHERE type = 'error'",
      "  AND json_extract(data, '$.service') = 'postgresql'",
      "  AND ts_us >= unixepoch('2026-03-09T14:00:00') * 1000000",
      "  AND ts_us <  unixepoch('2026-03-09T17:00:00') * 1000000",
      "ORDER BY ts_us, id;",
    ].join('\n'),
  },
  {
    question: 'Which services were added to or removed from monitoring, and when?',
    sql: [
      "SELECT id, timestamp,",
      "       json_extract(data, '$.service_name') AS service,",
      "       json_extract(data, '$.action') AS action",
      "FROM events",
      "WHERE type = 'config'",
      "ORDER BY ts_us, id;",
    ].join('\n'),
  },
  {
    question: 'How many events of each type were logged in each hour (UTC)?',
    sql: [
      "SELECT strftime('%Y-%m-%dT%H:00Z', ts_us / 1000000, 'unixepoch') AS hour,",
      "       type,",
      "       count(*) AS events",
      "FROM events",
      "GROUP BY hour, type",
      "ORDER BY hour, type;",
    ].join('\n'),
  },
  {
    question: 'Which security events were logged, with who or what was involved?',
    sql: [
      "SELECT id, timestamp, message,",
      "       json_extract(data, '$.action') AS action,",
      "       coalesce(json_extract(data, '$.source_ip'), json_extract(data, '$.user'),",
      "                json_extract(data, '$.actor')) AS subject",
      "FROM events",
      "WHERE type = 'security'",
      "ORDER BY ts_us, id;",
    ].join('\n'),
  },
  {
    question: 'What did the agent do about postgresql, from diagnosis to remediation, in time order?',
    sql: [
      "SELECT id, timestamp,",
      "       json_extract(data, '$.step') AS step,",
      "       json_extract(data, '$.action') AS action,",
      "       message",
      "FROM events",
      "WHERE type = 'agent' AND json_extract(data, '$.service') = 'postgresql'",
      "ORDER BY ts_us, id;",
    ].join('\n'),
  },
  {
    question: 'Which services are down, going by the latest monitor status of each service?',
    sql: [
      "WITH latest AS (",
      "    SELECT json_extract(data, '$.service') AS service,",
      "           json_extract(data, '$.status') AS status,",
      "           timestamp,",
      "           row_number() OVER (PARTITION BY json_extract(data, '$.service')",
      "                              ORDER BY ts_us DESC, id DESC) AS n",
      "    FROM events",
      "    WHERE type = 'monitor'",
      ")",
      "SELECT service, timestamp AS stopped_at",
      "FROM latest",
      "WHERE n = 1 AND status = 'stopped'",
      "ORDER BY service;",
    ].join('\n'),
  },
  {
    question: 'What are the last 5 events the store received?',
    sql: [
      "SELECT id, type, timestamp, message",
      "FROM events",
      "ORDER BY id DESC",
      "LIMIT 5;",
    ].join('\n'),
  },
  {
    question: 'How many events concern each service (data.service or data.service_name)?',
    sql: [
      "SELECT coalesce(json_extract(data, '$.service'),",
      "                json_extract(data, '$.service_name')) AS service,",
      "       count(*) AS events",
      "FROM events",
      "WHERE service IS NOT NULL",
      "GROUP BY service",
      "ORDER BY events DESC, service;",
    ].join('\n'),
  },
  {
    question: 'What happened between 17:00 and 18:00 UTC, whatever offset each producer wrote?',
    sql: [
      "SELECT id, type, timestamp, message",
      "FROM events",
      "WHERE ts_us >= unixepoch('2026-03-09T17:00:00') * 1000000",
      "  AND ts_us <  unixepoch('2026-03-09T18:00:00') * 1000000",
      "ORDER BY ts_us, id;",
    ].join('\n'),
  },
  {
    question: 'Which errors were logged from 15:30 UTC on?',
    sql: [
      "SELECT id, timestamp, message",
      "FROM events",
      "WHERE type = 'error'",
      "  AND ts_us >= unixepoch('2026-03-09T15:30:00') * 1000000",
      "ORDER BY ts_us, id;",
    ].join('\n'),
  },
  {
    question: 'Which events involve the address 203.0.113.45?',
    sql: [
      "SELECT id, type, timestamp, message",
      "FROM events",
      "WHERE json_extract(data, '$.source_ip') = '203.0.113.45'",
      "ORDER BY ts_us, id;",
    ].join('\n'),
  },
  {
    question: 'Which events carry top-level fields other than type, message, timestamp and data?',
    sql: [
      "SELECT e.id, f.key AS field, f.value",
      "FROM events AS e, json_each(e.body) AS f",
      "WHERE f.key NOT IN ('type', 'message', 'timestamp', 'data')",
      "ORDER BY e.id, f.key;",
    ].join('\n'),
  },
];

function fillExamples() {
  EXAMPLES.forEach((ex, i) => {
    const o = el('option', '', ex.question);
    o.value = String(i);
    ui.sqlExamples.append(o);
  });
}

function onExample() {
  const ex = EXAMPLES[Number(ui.sqlExamples.value)];
  if (!ex) return;
  ui.sqlText.value = ex.sql;
  ui.sqlExamples.value = '';
  runSql();
}

function sqlCell(value) {
  const td = el('td');
  if (value === null) {
    td.className = 'null';
    td.textContent = 'NULL';
  } else if (typeof value === 'number') {
    td.className = 'num';
    td.textContent = String(value);
  } else {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    td.textContent = text;
    if (text.length > 80) td.title = text;
  }
  return td;
}

function showResult(result) {
  const head = el('tr');
  for (const c of result.columns) head.append(el('th', '', c));
  const rows = result.rows.slice(0, SQL_MAX_ROWS);
  const frag = document.createDocumentFragment();
  for (const row of rows) {
    const tr = el('tr');
    for (const v of row) tr.append(sqlCell(v));
    frag.append(tr);
  }
  ui.sqlTable.tHead.replaceChildren(head);
  ui.sqlTable.tBodies[0].replaceChildren(frag);
  ui.sqlResult.hidden = false;
}

let sqlRan = false; /* the first visit runs the query in the box */

async function runSql(e) {
  if (e) e.preventDefault();
  sqlRan = true;
  const sql = ui.sqlText.value;
  if (!sql.trim()) return;
  ui.sqlRun.disabled = true;
  ui.sqlStatus.textContent = 'Running…';
  ui.sqlError.hidden = true;
  const t0 = performance.now();
  try {
    const r = await apiFetch('/api/sql', {
      method: 'POST',
      headers: {'Content-Type': 'application/sql', Accept: 'application/json'},
      body: sql,
    });
    if (!r.ok) {
      ui.sqlError.textContent = await errorOf(r, 'audit');
      ui.sqlError.hidden = false;
      ui.sqlStatus.textContent = '';
      return;
    }
    const result = await r.json();
    const ms = Math.round(performance.now() - t0);
    showResult(result);
    const n = result.row_count;
    let text = `${fmt.format(n)} row${n === 1 ? '' : 's'} · ${fmt.format(ms)} ms`;
    if (n > SQL_MAX_ROWS) text += ` · the table shows the first ${fmt.format(SQL_MAX_ROWS)}`;
    ui.sqlStatus.textContent = text;
    if (!result.complete) {
      ui.sqlError.textContent = `The result was cut short: ${result.error}`;
      ui.sqlError.hidden = false;
    }
  } catch (err) {
    ui.sqlError.textContent = 'The answer could not be read (the server went away, or cut it short).';
    ui.sqlError.hidden = false;
    ui.sqlStatus.textContent = '';
  } finally {
    ui.sqlRun.disabled = false;
  }
}

function onSqlKey(e) {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    runSql();
  }
}

async function checkChain() {
  ui.chainCheck.disabled = true;
  ui.chainResult.classList.remove('problem', 'intact');
  ui.chainResult.textContent = 'Checking every link…';
  try {
    const r = await apiFetch('/api/verify');
    if (!r.ok) {
      ui.chainResult.textContent = await errorOf(r, 'audit');
      ui.chainResult.classList.add('problem');
      return;
    }
    const v = await r.json();
    if (v.intact) {
      ui.chainResult.textContent =
        `Intact: ${fmt.format(v.events)} events checked` +
        (v.deleted ? ` (and ${fmt.format(v.deleted)} links of deleted events)` : '') +
        `. Head: #${v.head_id} ${v.head_hash}` +
        (v.anchor_id ? ` · anchor #${v.anchor_id}` : '');
      ui.chainResult.classList.add('intact');
    } else {
      ui.chainResult.textContent = `Broken at #${v.bad_id}: ${v.reason}`;
      ui.chainResult.classList.add('problem');
    }
  } catch (err) {
    ui.chainResult.textContent = 'The server cannot be reached.';
    ui.chainResult.classList.add('problem');
  } finally {
    ui.chainCheck.disabled = false;
  }
}

/* -------------------------------------------------------------- keyboard */

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  const t = e.target;
  const typing = t instanceof HTMLElement &&
    (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' ||
     (t.tagName === 'INPUT' && t.type !== 'checkbox' && t.type !== 'button'));
  if (typing) {
    if (e.key === 'Escape' && t === ui.filter) {
      if (ui.filter.value) {
        ui.filter.value = '';
        onFilterInput();
      } else {
        ui.filter.blur();
      }
      e.preventDefault();
    }
    return;
  }
  if (e.key === '/' && view !== 'sql') {
    e.preventDefault();
    const box = view === 'history' ? ui.historyText : ui.filter;
    box.focus();
    box.select();
  } else if ((e.key === 'p' || e.key === 'P') && view === 'live') {
    e.preventDefault();
    togglePause();
  }
}

function onFilterInput() {
  state.text = ui.filter.value.trim().toLowerCase();
  applyFilters();
}

/* -------------------------------------------------------------------- init */

ui.filter.addEventListener('input', onFilterInput);
ui.pause.addEventListener('click', togglePause);
ui.retry.addEventListener('click', connect);
ui.tokenForm.addEventListener('submit', onTokenSubmit);
ui.typesAll.addEventListener('click', () => setAllTypes(true));
ui.typesNone.addEventListener('click', () => setAllTypes(false));
document.addEventListener('keydown', onKey);
for (const v of VIEWS) {
  $(`tab-${v}`).addEventListener('click', () => showView(v));
  $(`tab-${v}`).addEventListener('keydown', onTabKey);
}
window.addEventListener('hashchange', () => showView(viewFromHash()));
ui.historyForm.addEventListener('submit', historySearch);
ui.historyRange.addEventListener('change', onRangeChange);
ui.historyMore.addEventListener('click', historyLoad);
ui.sqlForm.addEventListener('submit', runSql);
ui.sqlText.addEventListener('keydown', onSqlKey);
ui.sqlExamples.addEventListener('change', onExample);
ui.chainCheck.addEventListener('click', checkChain);
fillExamples();
new ResizeObserver(drawChart).observe(ui.chart);
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', drawChart);
setInterval(drawChart, 1000);
updateFeedInfo();
updateTypes();
showView(viewFromHash());
connect();
