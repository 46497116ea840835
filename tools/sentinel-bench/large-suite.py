#!/usr/bin/python3
"""Figures by store size (`make bench-large`): what requests, a live
subscriber, ingest, retention, start-up and export cost on stores of 1M,
10M and 50M events. Not part of the tests: it takes a while and needs disk.

The stores are built once and kept under build/large/ (store-1M/, ...):
events from large-events.py, stamped over 30 days for 50M (the same pace
for every size) and ending when the store is built, stored through
sentinel-import --db, in parts whose rates show the direct ingest as the
store grows. Each run leaves every store at its size: it ingests INGEST
events through the server (timed), then one retention pass deletes the
INGEST oldest (timed). The built events thus go, oldest first: after as
many runs as a store holds INGEST-fold, delete its folder to build it anew.

Per size, on a server started on the store:
- start-up: from exec to /healthz answering 200 (median of three starts)
- GET /api/stats and each form of GET /api/events: median and slowest of 20
- a live subscriber's latency (sentinel-bench fanout, 1 subscriber,
  1,000 events/s), alone, then while an auditor runs the README's heaviest
  queries through POST /api/sql (the server's reader pool), one after the
  other, and two clients ask for /api/stats and filtered pages back to back
- ingest: sentinel-bench ingest-http, batches of 1,000, 2 producers (and,
  once, into an empty store for comparison)
- one retention pass (--retain-age) deleting the INGEST oldest events
- sentinel-export of the whole store, and bytes per event (the file, and
  its pages in use)

Prints the machine and a Markdown table, one column per size; progress goes
to stderr.

Usage: large-suite.py [--build-dir DIR] [--dir DIR] [--sizes 1M,10M,50M]
                      [--ingest N]
"""

import argparse
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
# The pace of every store: 50M events over 30 days.
STEP_US = 30 * 86400 * 1_000_000 // 50_000_000
# Events per part of a build (the rate of each part is reported).
PART = 5_000_000
# Bytes a stored event takes, with its indexes, for the disk check.
BYTES_PER_EVENT = 300

AUDIT_QUERIES = ("events_per_type_per_hour", "events_per_service", "fields_beyond_the_usual")


def say(*args):
    print("large-suite:", *args, file=sys.stderr, flush=True)


def size_of(text):
    units = {"k": 1000, "M": 1_000_000, "G": 1_000_000_000}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def iso(us):
    t = datetime.fromtimestamp(us // 1_000_000, timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{us % 1_000_000:06d}Z"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """sentinel-logd on a store, its stderr in a file beside the store."""

    def __init__(self, logd, db, *args):
        self.port = free_port()
        self.log = open(os.path.join(os.path.dirname(db), "server.log"), "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([logd, "--listen", f"{HOST}:{self.port}", "--db", db,
                                      "--config", "", *args],
                                     stdout=self.log, stderr=self.log)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start (see {self.log.name})")
            try:
                if self.get("/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.002)
        self.startup = time.monotonic() - t0

    def get(self, path, timeout=120):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def metric(self, name):
        for line in self.get("/metrics")[1].decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)
        self.log.close()


class Bench:
    def __init__(self, build_dir):
        self.logd = os.path.join(build_dir, "sentinel-logd")
        self.bench = os.path.join(build_dir, "tools", "sentinel-bench", "sentinel-bench")
        self.export = os.path.join(build_dir, "tools", "sentinel-export", "sentinel-export")
        self.importer = os.path.join(build_dir, "tools", "sentinel-import", "sentinel-import")
        for b in (self.logd, self.bench, self.export, self.importer):
            if not os.access(b, os.X_OK):
                raise SystemExit(f"large-suite: {b} is missing: build first (make build)")

    def run(self, scenario, *args):
        out = subprocess.run([self.bench, scenario, "--json", *args], capture_output=True,
                             text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError(f"sentinel-bench {scenario}: {out.stderr.strip()}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def build_store(b, path, n):
    """Build a store of n events; returns its timeline and the parts' rates."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    end = int(time.time()) * 1_000_000
    timeline = {"events": n, "origin_us": end - n * STEP_US, "step_us": STEP_US, "parts": []}
    for first in range(0, n, PART):
        count = min(PART, n - first)
        t0 = time.monotonic()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        gen = subprocess.Popen([sys.executable, os.path.join(HERE, "large-events.py"),
                                "--first", str(first), "--count", str(count),
                                "--origin-us", str(timeline["origin_us"]),
                                "--step-us", str(STEP_US)], stdout=subprocess.PIPE)
        imp = subprocess.run([b.importer, "--db", path, "--batch", "5000", "-"],
                             stdin=gen.stdout, capture_output=True, text=True)
        gen.stdout.close()
        if gen.wait() != 0 or imp.returncode != 0:
            raise RuntimeError(f"building {path}: {imp.stderr.strip()}")
        rate = count / (time.monotonic() - t0)
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The generator's share is in there too: the same for every part.
        cpu = (cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime) / count * 1e6
        timeline["parts"].append({"from": first, "to": first + count, "rate": rate,
                                  "cpu_us": cpu})
        say(f"  {path}: {first + count:,} events ({rate:,.0f} events/s, "
            f"{cpu:.1f} µs of CPU per event for this part)")
    with open(os.path.join(os.path.dirname(path), "timeline.json"), "w") as f:
        json.dump(timeline, f)
    return timeline


def timed(server, path, n=20):
    """Median and slowest of n GETs of path, in ms (after two to warm up)."""
    times = []
    for i in range(n + 2):
        t0 = time.perf_counter()
        status, _ = server.get(path)
        dt = (time.perf_counter() - t0) * 1000
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        if i >= 2:
            times.append(dt)
    return statistics.median(times), max(times)


def forms(timeline, first):
    """The GET /api/events forms timed, by name. Each run's retention pass
    deletes the oldest events, so "the middle" is that of the built events
    still stored: first is (the oldest ts_us, the lowest id) now stored."""
    end = timeline["origin_us"] + timeline["events"] * timeline["step_us"]
    mid = (max(first[0], timeline["origin_us"]) + end) // 2
    mid_id = (first[1] + timeline["events"]) // 2
    hour = 3600 * 1_000_000
    return [
        ("newest 100 (the dashboard's first read)", "order=desc&limit=100"),
        ("100 after an id in the middle", f"after_id={mid_id}&limit=100"),
        ("one type (30 %), 100", "type=monitor&limit=100"),
        ("a rare type (0.1 %), 100", "type=error&limit=100"),
        ("a type with no event, 10", "type=debug&limit=10"),
        ("two types, newest 100", "type=security,config&order=desc&limit=100"),
        ("since a time an hour before the end, 100", f"since={iso(end - hour)}&limit=100"),
        ("an hour in the middle, 1,000", f"since={iso(mid)}&until={iso(mid + hour)}&limit=1000"),
        ("an hour in the middle, one type, 1,000",
         f"since={iso(mid)}&until={iso(mid + hour)}&type=security&limit=1000"),
        ("until the middle, newest 100", f"until={iso(mid)}&order=desc&limit=100"),
        ("since the middle, a rare type, 100", f"since={iso(mid)}&type=error&limit=100"),
    ]


def audit_queries():
    """The README's heaviest audit queries, from tests/blackbox/audit_queries.sql."""
    with open(os.path.join(ROOT, "tests", "blackbox", "audit_queries.sql"), encoding="utf-8") as f:
        text = f.read()
    out = []
    for block in text.split("-- name: ")[1:]:
        name, _, body = block.partition("\n")
        if name.strip() in AUDIT_QUERIES:
            out.append("\n".join(l for l in body.splitlines() if not l.startswith("--")))
    return out


AUDITOR = """
import http.client, sys
host, port, queries = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
while True:
    for q in queries:
        conn = http.client.HTTPConnection(host, port, timeout=900)
        conn.request("POST", "/api/sql", body=q.encode(),
                     headers={"Accept": "application/x-ndjson"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        print("done", resp.status, flush=True)
"""


def subscriber_p99(b, server, seconds):
    r = b.run("fanout", "--post-url", f"http://{HOST}:{server.port}/api/events",
              "--ws-url", f"ws://{HOST}:{server.port}/ws/logs", "--subscribers", "1",
              "--rate", "1000", "--seconds", str(seconds), "--warmup", "1", "--drain", "5")
    return r["latency_p50_us"] / 1000, r["latency_p99_us"] / 1000, r["latency_max_us"] / 1000


def under_audit(b, server, path, timeline, first, seconds):
    """The subscriber's latency while an auditor and readers load the store."""
    auditor = subprocess.Popen([sys.executable, "-c", AUDITOR, HOST, str(server.port),
                                *audit_queries()],
                               stdout=subprocess.PIPE, text=True)
    stop = threading.Event()
    reads = [0]
    paths = ["/api/stats"] + ["/api/events?" + q for _, q in forms(timeline, first)]

    def reader(k):
        while not stop.is_set():
            server.get(paths[k % len(paths)])
            reads[0] += 1
            k += 1

    threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in (0, 5)]
    for t in threads:
        t.start()
    time.sleep(1)
    try:
        result = subscriber_p99(b, server, seconds)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
        auditor.send_signal(signal.SIGKILL)
        done = auditor.communicate()[0].count("done 200")
    return result, reads[0], done


def retention_pass(b, path, ingest):
    """Events deleted and seconds for one pass deleting the ingest oldest events (by age)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cutoff = db.execute("SELECT ts_us FROM journal ORDER BY ts_us LIMIT 1 OFFSET ?",
                        (ingest,)).fetchone()[0]
    expected = db.execute("SELECT count(*) FROM journal WHERE ts_us < ?", (cutoff,)).fetchone()[0]
    db.close()
    age = int((time.time() * 1_000_000 - cutoff) // 1_000_000)
    t0 = time.monotonic()
    server = Server(b.logd, path, "--retain-age", f"{age}s", "--retention-interval", "1h")
    # The counter moves when a pass ends: wait until it holds all of them.
    deleted, done_at = 0.0, None
    while time.monotonic() - t0 < 900:
        deleted = server.metric("sentinel_retention_deleted_total")
        if deleted >= expected:
            done_at = time.monotonic()
            break
        time.sleep(0.05)
    server.stop()
    if done_at is None:
        raise RuntimeError(f"retention deleted {deleted:,.0f} of {expected:,} events in 900 s")
    return deleted, done_at - t0


def http_ingest(b, server, ingest):
    """Events/s and the server's CPU µs per event of ingest over HTTP."""
    r = b.run("ingest-http", "--post-url", f"http://{HOST}:{server.port}/api/events",
              "--events", str(ingest), "--batch", "1000", "--producers", "2")
    cpu = r.get("server_cpu_pct", 0) / 100 * r["seconds"] / r["accepted"] * 1e6
    return f"{r['value']:,.0f} ({cpu:.2f})"


def empty_ingest(b, folder, ingest):
    """The same ingest into an empty store, for comparison."""
    path = os.path.join(folder, "store-empty", "sentinel.db")
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    os.makedirs(os.path.dirname(path))
    server = Server(b.logd, path)
    try:
        return http_ingest(b, server, ingest)
    finally:
        server.stop()
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def measure(b, label, path, timeline, ingest, seconds):
    rows = {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    count, body = db.execute("SELECT count(*), avg(length(body)) FROM journal").fetchone()
    first = (db.execute("SELECT min(ts_us) FROM journal").fetchone()[0],
             db.execute("SELECT min(id) FROM journal").fetchone()[0])
    db.close()
    say(f"{label}: {count:,} events")

    starts = []
    for _ in range(3):
        s = Server(b.logd, path)
        starts.append(s.startup * 1000)
        s.stop()
    rows["start-up (exec to /healthz 200), ms"] = f"{statistics.median(starts):.0f}"

    server = Server(b.logd, path)
    p50, worst = timed(server, "/api/stats")
    rows["GET /api/stats, ms (median / slowest of 20)"] = f"{p50:.2f} / {worst:.1f}"
    p50, worst = timed(server, "/metrics")
    rows["GET /metrics, ms"] = f"{p50:.2f} / {worst:.1f}"
    for name, query in forms(timeline, first):
        p50, worst = timed(server, "/api/events?" + query)
        rows[f"GET /api/events: {name}, ms"] = f"{p50:.2f} / {worst:.1f}"

    say(f"{label}: a live subscriber, alone, then under an auditor")
    p50, p99, worst = subscriber_p99(b, server, seconds)
    rows["live subscriber, 1,000 events/s: latency p50 / p99 / max, ms"] = \
        f"{p50:.2f} / {p99:.2f} / {worst:.1f}"
    (p50, p99, worst), reads, done = under_audit(b, server, path, timeline, first, seconds)
    rows["the same while an auditor runs the heaviest queries and 2 clients read, ms"] = \
        f"{p50:.2f} / {p99:.2f} / {worst:.1f}"
    rows["  (reads answered meanwhile / audit queries finished)"] = f"{reads:,} / {done}"

    say(f"{label}: ingest of {ingest:,} events")
    rows["ingest over HTTP, batches of 1,000: events/s (server CPU per event, µs)"] = \
        http_ingest(b, server, ingest)
    server.stop()

    say(f"{label}: one retention pass")
    deleted, secs = retention_pass(b, path, ingest)
    rows["one retention pass by age: events deleted in s"] = f"{deleted:,.0f} in {secs:.1f}"

    say(f"{label}: export")
    t0 = time.monotonic()
    with open(os.devnull, "wb") as null:
        subprocess.run([b.export, "--db", path], stdout=null, check=True)
    rows["sentinel-export of the whole store, events/s"] = \
        f"{count / (time.monotonic() - t0):,.0f}"

    size = os.path.getsize(path)
    wal = path + "-wal"
    size += os.path.getsize(wal) if os.path.exists(wal) else 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    pages, free, page = (db.execute(f"PRAGMA {p}").fetchone()[0]
                         for p in ("page_count", "freelist_count", "page_size"))
    db.close()
    # Retention leaves free pages that later events reuse: the file and what it holds.
    rows["store bytes per event: the file / its pages in use"] = \
        f"{size / count:.0f} / {(pages - free) * page / count:.0f}"
    rows["  (the events' own JSON, bytes per event)"] = f"{body:.0f}"
    parts = timeline.get("parts", [])
    if parts:
        rows["building (sentinel-import --db, parts of 5M): events/s, first / last part"] = \
            f"{parts[0]['rate']:,.0f} / {parts[-1]['rate']:,.0f}"
        if "cpu_us" in parts[0]:
            rows["  (CPU per event, importer and generator, µs: first / last part)"] = \
                f"{parts[0]['cpu_us']:.1f} / {parts[-1]['cpu_us']:.1f}"
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--dir", default=os.path.join(ROOT, "build", "large"))
    p.add_argument("--sizes", default="1M,10M,50M")
    p.add_argument("--ingest", type=int, default=500_000)
    p.add_argument("--seconds", type=float, default=10)
    opt = p.parse_args()
    b = Bench(opt.build_dir)
    labels = opt.sizes.split(",")

    stores = {}
    for label in labels:
        path = os.path.join(opt.dir, f"store-{label}", "sentinel.db")
        meta = os.path.join(os.path.dirname(path), "timeline.json")
        if os.path.exists(meta):
            with open(meta) as f:
                stores[label] = (path, json.load(f))
            continue
        n = size_of(label)
        os.makedirs(opt.dir, exist_ok=True)
        free = shutil.disk_usage(opt.dir).free
        if free < n * BYTES_PER_EVENT * 1.2:
            raise SystemExit(f"large-suite: {n:,} events need about "
                             f"{n * BYTES_PER_EVENT / 1e9:.1f} GB; {free / 1e9:.1f} GB are free")
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        say(f"building {path} ({n:,} events, once)")
        stores[label] = (path, build_store(b, path, n))

    say("an empty store: ingest")
    empty = empty_ingest(b, opt.dir, opt.ingest)
    results = {label: measure(b, label, path, tl, opt.ingest, opt.seconds)
               for label, (path, tl) in stores.items()}

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"Machine: {platform.node()}, {os.cpu_count()} cores, {cpu}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}; ingest and retention of {opt.ingest:,} events")
    print(f"Ingest over HTTP into an empty store, batches of 1,000: {empty} events/s "
          "(server CPU per event, µs)")
    print()
    print("| figure | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for key in results[labels[0]]:
        print(f"| {key} | " + " | ".join(results[l].get(key, "") for l in labels) + " |")


if __name__ == "__main__":
    main()
