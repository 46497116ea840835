#!/usr/bin/python3
"""A store of 200,000 events: no request costs the live feed more than a small one.

The store is made directly in SQLite at schema version 1, as an older
server left it (migrations/0001_journal.sql), so that the server's start
also upgrades it: the counters are computed once, then kept. On it:

- a subscriber receives a steady stream of events with a low latency while
  other clients ask, back to back, for /api/stats and for filtered pages of
  /api/events (a type that is not there, a time window with a type), which
  used to count or scan the journal on the event loop; the p99 bound is
  100 ms, or on a machine busy enough to slow the feed with nobody reading,
  twice that quiet latency and 20 ms more, and the producer keeps its pace;
- each form of /api/events answers exactly what plain SQL over the file
  answers, and paging a time window visits each of its events once;
- `sentinel-logd compact` says how far it is and stops safely on SIGTERM,
  leaving the store whole with its counters right.

Latency bounds are generous (a shared machine); under the sanitizers
(SENTINEL_TEST_SCALE below 1) the server's own work is slower and the bound
grows with it. SQLite is not instrumented, so a count or a scan of the
journal costs the same there.
"""

import asyncio
import datetime
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time

import websockets

from harness import (BINARY, HOST, Server, TestFailure, expect, expect_eq, expect_in, run,
                     scratch_dir)

SCALE = float(os.environ.get("SENTINEL_TEST_SCALE", "1"))
SOURCE = os.environ.get("SENTINEL_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
EVENTS = 200_000
# The store's events are 10 ms apart and end an hour ago.
STEP_US = 10_000
TYPES = ["agent", "monitor", "system", "agent", "monitor", "agent", "security"]


def iso(ts_us):
    t = datetime.datetime.fromtimestamp(ts_us / 1e6, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_store(path, n):
    """n events in a store at schema version 1; returns the first ts_us."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t0 = (int(time.time()) - 3600) * 1_000_000 - n * STEP_US
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("PRAGMA journal_mode = WAL")
    with open(os.path.join(SOURCE, "migrations", "0001_journal.sql"), encoding="utf-8") as f:
        conn.executescript(f.read())
    conn.execute("PRAGMA user_version = 1")
    conn.execute("BEGIN")
    rows = []
    for i in range(n):
        ts = t0 + i * STEP_US
        kind = TYPES[i % len(TYPES)]
        body = {"type": kind, "message": f"Servicio {i % 97} revisado 🚀", "timestamp": iso(ts),
                "data": {"service": f"svc{i % 13}", "seq": i}}
        rows.append((ts, kind, json.dumps(body, ensure_ascii=False, separators=(",", ":"))))
        if len(rows) == 10000:
            conn.executemany("INSERT INTO journal (ts_us, type, body) VALUES (?, ?, ?)", rows)
            rows = []
    conn.executemany("INSERT INTO journal (ts_us, type, body) VALUES (?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return t0


class Store:
    """One store for the whole file, built once."""
    path = None
    t0 = None

    @classmethod
    def get(cls):
        if cls.path is None:
            cls.path = os.path.join(scratch_dir("sentinel-large-"), "store", "sentinel.db")
            t = time.monotonic()
            cls.t0 = build_store(cls.path, EVENTS)
            print(f"  built a store of {EVENTS} events in {time.monotonic() - t:.1f} s")
        return cls.path, cls.t0


class TimedSubscriber:
    """A /ws/logs client that notes when each event arrived (time.monotonic)."""

    def __init__(self, url):
        self.url = url
        self.arrivals = []  # (monotonic time, event)
        self.opened = threading.Event()
        self.error = None
        self._stop = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self.opened.wait(30) or self.error:
            raise TestFailure(f"cannot connect to {url}: {self.error!r}")

    async def _main(self):
        try:
            async with websockets.connect(self.url, max_size=None, compression=None,
                                          ping_interval=None) as ws:
                self._stop = asyncio.get_running_loop().create_future()
                self.opened.set()
                while not self._stop.done():
                    recv = asyncio.ensure_future(ws.recv())
                    done, _ = await asyncio.wait({recv, self._stop},
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if recv not in done:
                        recv.cancel()
                        break
                    self.arrivals.append((time.monotonic(), json.loads(recv.result())))
        except Exception as e:  # noqa: BLE001 - reported by the constructor
            self.error = e
            self.opened.set()

    def close(self):
        if self._stop is not None:
            self._stop.get_loop().call_soon_threadsafe(
                lambda: self._stop.done() or self._stop.set_result(None))
        self._thread.join(10)


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def get_json(port, path, timeout=60):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def probe_feed(srv, seconds, tag):
    """Post an event every 10 ms for seconds, each with the time it was sent;
    return how many were posted and each one's latency to a subscriber (ms)."""
    sub = TimedSubscriber(srv.ws_url())
    sent = {}
    producer = http.client.HTTPConnection(HOST, srv.port, timeout=60)
    deadline = time.monotonic() + seconds
    n = 0
    next_at = time.monotonic()
    try:
        while time.monotonic() < deadline:
            next_at += 0.010
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[n] = time.monotonic()
            producer.request("POST", "/api/events",
                             body=json.dumps({"type": tag, "message": str(n)}).encode(),
                             headers={"Content-Type": "application/json"})
            resp = producer.getresponse()
            resp.read()
            expect_eq(resp.status, 200, "a probe is accepted")
            n += 1
    finally:
        producer.close()
        time.sleep(0.5)
        sub.close()
    probes = [(at, e) for at, e in sub.arrivals if e.get("type") == tag]
    expect_eq(len(probes), n, f"the subscriber received every {tag}")
    return n, [(at - sent[int(e["message"])]) * 1000 for at, e in probes]


def test_live_feed_is_steady_during_heavy_reads():
    path, t0 = Store.get()
    srv = Server(db=path).start()
    status, stats = get_json(srv.port, "/api/stats")
    expect_eq((status, stats["count"]), (200, EVENTS), "every event is counted")

    # The feed's latency on this machine as it is now, nobody reading.
    _, quiet = probe_feed(srv, 3.0, "quiet")

    mid = t0 + EVENTS // 2 * STEP_US
    readers = [
        "/api/stats",
        "/api/events?type=error&limit=10",
        f"/api/events?since={iso(mid)}&until={iso(mid + 2_000_000)}&type=security&limit=100",
        "/api/events?type=error,config&order=desc&limit=10",
        f"/api/events?until={iso(t0 + 1_000_000)}&type=audit&limit=10",
    ]
    stop = threading.Event()
    answered = [0]
    failures = []

    def read_loop(offset):
        conn = http.client.HTTPConnection(HOST, srv.port, timeout=60)
        i = offset
        while not stop.is_set():
            try:
                conn.request("GET", readers[i % len(readers)])
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    failures.append(resp.status)
                answered[0] += 1
            except OSError as e:
                failures.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection(HOST, srv.port, timeout=60)
            i += 1
        conn.close()

    threads = [threading.Thread(target=read_loop, args=(k,), daemon=True) for k in range(2)]
    for t in threads:
        t.start()
    try:
        n, latency = probe_feed(srv, 6.0, "probe")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    srv.stop()

    expect_eq(failures, [], "every read answered 200")
    quiet_p99 = percentile(quiet, 0.99)
    p99, worst = percentile(latency, 0.99), max(latency)
    print(f"  quiet: p99 {quiet_p99:.1f} ms; {n} probes, {answered[0]} reads: latency p50 "
          f"{percentile(latency, 0.5):.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    expect(answered[0] >= 50, f"the readers kept the server busy ({answered[0]} reads)")
    # A read that counts or scans the store holds the loop for tens of
    # milliseconds at this size, and the readers ask back to back: the
    # producer's answers wait as long, and the feed's latency too.
    expect(n >= 400, f"the producer kept its pace of 100 events a second ({n} in 6 s)")
    # Before the counters and indexes, p99 was 268 ms here and the producer
    # managed 41 events in 6 s. 100 ms leaves room for a shared machine
    # (the readers keep the loop busy, and the scheduler may hold it); on
    # one so busy that the feed is slow with nobody reading, twice that
    # quiet p99 and 20 ms more.
    bound = max(100.0 / SCALE ** 0.5, 2 * quiet_p99 + 20)
    expect(p99 <= bound, f"p99 latency of the live feed {p99:.1f} ms (at most {bound:.0f} ms; "
           f"{quiet_p99:.1f} ms with nobody reading)")
    expect_in("applying migration 0005_counters.sql", srv.stderr_text(),
              "the start upgraded the store")


def test_pages_agree_with_sql():
    path, t0 = Store.get()
    srv = Server(db=path).start()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    mid = t0 + EVENTS // 3 * STEP_US
    window = (mid, mid + 3_000_000)  # 300 events

    def sql_ids(where, order="ASC", limit=100):
        q = f"SELECT id FROM journal WHERE {where} ORDER BY id {order} LIMIT {limit}"
        return [r[0] for r in db.execute(q)]

    forms = [
        ("type=security&limit=50", "type = 'security'", "ASC", 50),
        ("type=security&order=desc&limit=50", "type = 'security'", "DESC", 50),
        ("type=error&limit=10", "type = 'error'", "ASC", 10),
        ("type=system,security&after_id=1000&limit=30",
         "type IN ('system','security') AND id > 1000", "ASC", 30),
        (f"since={iso(mid)}&limit=40", f"ts_us >= {mid}", "ASC", 40),
        (f"since={iso(mid)}&order=desc&limit=40", f"ts_us >= {mid}", "DESC", 40),
        (f"until={iso(mid)}&order=desc&limit=40", f"ts_us < {mid}", "DESC", 40),
        (f"since={iso(window[0])}&until={iso(window[1])}&type=monitor&limit=1000",
         f"ts_us >= {window[0]} AND ts_us < {window[1]} AND type = 'monitor'", "ASC", 1000),
    ]
    for query, where, order, limit in forms:
        status, body = get_json(srv.port, "/api/events?" + query)
        expect_eq(status, 200, query)
        expect_eq([e["id"] for e in body["events"]], sql_ids(where, order, limit), query)

    # Paging a time window visits each of its events once.
    seen, after = [], 0
    while True:
        status, body = get_json(srv.port, f"/api/events?since={iso(window[0])}"
                                f"&until={iso(window[1])}&after_id={after}&limit=70")
        if not body["events"]:
            break
        seen += [e["id"] for e in body["events"]]
        after = body["next_after_id"]
    expect_eq(seen, sql_ids(f"ts_us >= {window[0]} AND ts_us < {window[1]}", limit=10**6),
              "pages of a time window")
    db.close()
    srv.stop()


def test_compact_reports_progress_and_stops_safely():
    path, _ = Store.get()
    # A copy: compaction deletes events.
    copy = os.path.join(scratch_dir("sentinel-compact-"), "sentinel.db")
    src = sqlite3.connect(path)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    # Retention removes every event, a step of 2,000 at a time: stop it midway.
    proc = subprocess.Popen([BINARY, "compact", "--db", copy, "--retain-age", "1s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = ""
    while "applying the retention policies" not in err:
        line = proc.stderr.readline()
        if not line:
            break
        err += line
    expect_in("applying the retention policies", err, "what it is doing")
    proc.send_signal(signal.SIGTERM)
    out, rest = proc.communicate(timeout=120)
    err += rest
    expect_eq(proc.returncode, 130, f"exit status when stopped: {err}")
    expect_in("compact interrupted; the store is whole", err, "what it says when stopped")
    db = sqlite3.connect(copy)
    expect_eq(db.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity")
    left = db.execute("SELECT count(*) FROM journal").fetchone()[0]
    expect(left > 0, f"stopped before the end ({left} of {EVENTS} left)")
    counted = db.execute("SELECT sum(events) FROM type_counts").fetchone()[0]
    expect_eq(counted, left, "the counters agree with the rows left")
    db.close()

    # Run to the end: it rebuilds the file and says so.
    done = subprocess.run([BINARY, "compact", "--db", copy, "--retain-events", "1000"],
                          capture_output=True, text=True, timeout=300)
    expect_eq(done.returncode, 0, f"compact: {done.stderr}")
    expect_in("compact: rebuilding the file (VACUUM)", done.stderr, "the rebuild is announced")
    expect_in("1000 events kept", done.stdout, "the summary")
    db = sqlite3.connect(copy)
    expect_eq(db.execute("SELECT count(*), (SELECT sum(events) FROM type_counts) FROM journal")
              .fetchone(), (1000, 1000), "rows and counters after compaction")
    db.close()


if __name__ == "__main__":
    run(test_live_feed_is_steady_during_heavy_reads,
        test_pages_agree_with_sql,
        test_compact_reports_progress_and_stops_safely)
