#!/usr/bin/python3
"""Soak: hours of mixed load, and proof that nothing grows (`make soak`).

Not part of `make test`. Starts sentinel-logd (--build-dir) on a free
loopback port with a fresh store, retention by count and a small in-memory
cache (so slow subscribers fall back to the store), then runs everything at
once for --minutes (default 30; --hours for longer):

  ingest       HTTP batches of 1-100 events, single-event HTTP requests,
               and /ws/ingest messages, at --rate events/s in all
  subscribers  --subscribers (200) /ws/logs clients with control=1 in a few
               worker processes; each connects with after_id (its last id)
               and the epoch, reads fast or slowly (1 in 5), and drops the
               connection after a random 2-40 s, then resumes. Every stream
               is checked: each event id is the previous one plus one, or a
               "gap" (retention) came first covering exactly the ids between
  queries      GET /api/events with random parameters, GET /api/stats and
               /metrics, a few a second
  exports      sentinel-export of the newest events every 20 s
  retention    --retain-events, a pass every 2 s

Every --sample seconds (5) it records the server's RSS, open descriptors,
CPU time, WAL and store size (samples.csv in --out, default build/soak).
It fails if any subscriber saw a gap or a duplicate, if a check of the
queries or exports failed, or if RSS, descriptors, WAL or store size grow
without bound: the median of the last third of the run may exceed the
median of the middle third by at most 5 % plus a small allowance (4 MiB of
RSS, 16 descriptors, 8 MiB of WAL, 10 % of the store). It writes a summary
(summary.md) and a plot of RSS over time (rss.svg).
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))

import websockets  # noqa: E402

from harness import Server  # noqa: E402

TYPES = ["system", "agent", "monitor", "error", "config", "security"]


def event(rng, tag):
    return {"type": rng.choice(TYPES), "message": f"soak {tag} ñ",
            "data": {"tag": tag, "pad": "x" * rng.randint(0, 400)}}


# ---------------------------------------------------------------- ingest

class Ingest:
    """Producers at a steady total rate; counts what was acknowledged."""

    def __init__(self, srv, rate, stop):
        self.srv, self.rate, self.stop = srv, rate, stop
        self.lock = threading.Lock()
        self.acked = {"http_batch": 0, "http_single": 0, "ws": 0}
        self.errors = []

    def count(self, path, n):
        with self.lock:
            self.acked[path] += n

    def error(self, what):
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(what)

    def http_batches(self):
        rng = random.Random(1)
        cli = self.srv.client()
        share = self.rate * 0.7
        k = 0
        while not self.stop.is_set():
            n = rng.randint(1, 100)
            status, ack = cli.post([event(rng, f"b{k}-{i}") for i in range(n)])
            if status != 200:
                self.error(f"batch: {status} {ack}")
            else:
                self.count("http_batch", n)
            k += 1
            self.stop.wait(n / share)
        cli.close()

    def http_singles(self):
        rng = random.Random(2)
        cli = self.srv.client()
        gap = 1 / (self.rate * 0.1)
        k = 0
        while not self.stop.is_set():
            status, ack = cli.post(event(rng, f"s{k}"))
            if status != 200:
                self.error(f"single: {status} {ack}")
            else:
                self.count("http_single", 1)
            k += 1
            self.stop.wait(gap)
        cli.close()

    def ws_ingest(self):
        async def main():
            rng = random.Random(3)
            share = self.rate * 0.2
            k = 0
            async with websockets.connect(self.srv.ws_url("/ws/ingest"), max_size=None,
                                          ping_interval=None) as ws:
                while not self.stop.is_set():
                    n = rng.randint(1, 20)
                    await ws.send(json.dumps([event(rng, f"w{k}-{i}") for i in range(n)]))
                    answer = json.loads(await ws.recv())
                    if answer.get("accepted") != n:
                        self.error(f"ws ingest: {answer}")
                    else:
                        self.count("ws", n)
                    k += 1
                    await asyncio.sleep(n / share)
        try:
            asyncio.run(main())
        except Exception as e:  # noqa: BLE001 - reported, fails the soak
            self.error(f"ws ingest: {e!r}")


# ---------------------------------------------------------------- subscribers

def subscriber_worker(url, count, seed, duration, queue):
    """A process running count subscribers; reports its counters on queue."""
    stats = {"deliveries": 0, "connections": 0, "gaps": 0, "connected": 0, "errors": []}
    deadline = time.monotonic() + duration

    def problem(what):
        if len(stats["errors"]) < 20:
            stats["errors"].append(what)

    async def one(k):
        rng = random.Random(seed * 1000 + k)
        last, epoch = None, None
        await asyncio.sleep(rng.uniform(0, 5))
        while time.monotonic() < deadline:
            params = {"control": "1"}
            if last is not None:  # resume
                params["after_id"] = str(last)
                params["epoch"] = epoch
            slow = rng.random() < 0.2
            life = time.monotonic() + rng.uniform(2, 40)
            try:
                async with websockets.connect(url + "?" + urllib.parse.urlencode(params),
                                              max_size=None, compression=None,
                                              ping_interval=None, close_timeout=1) as ws:
                    stats["connected"] += 1
                    try:
                        while time.monotonic() < min(life, deadline):
                            try:
                                msg = await asyncio.wait_for(ws.recv(), 1.0)
                            except asyncio.TimeoutError:
                                continue
                            if msg.startswith('{"id":'):
                                event_id = int(msg[6:msg.index(",")])
                                # The first connection starts live: its first
                                # event sets the cursor.
                                if last is not None and event_id != last + 1:
                                    problem(f"sub {seed}.{k}: id {event_id} after {last}")
                                last = event_id
                                stats["deliveries"] += 1
                            else:
                                m = json.loads(msg)
                                c = m.get("control")
                                if c == "hello":
                                    if epoch and m["epoch"] != epoch:
                                        problem(f"sub {seed}.{k}: epoch changed")
                                    epoch = m["epoch"]
                                elif c == "gap":
                                    stats["gaps"] += 1
                                    if (last is None or m["from_id"] != last + 1 or
                                            m["reason"] != "retention"):
                                        problem(f"sub {seed}.{k}: gap {m} after {last}")
                                    last = m["to_id"]
                                elif c != "live":
                                    problem(f"sub {seed}.{k}: {m}")
                            if slow:
                                await asyncio.sleep(0.02)
                    finally:
                        stats["connected"] -= 1
            except (OSError, websockets.exceptions.WebSocketException) as e:
                problem(f"sub {seed}.{k}: {e!r}")
            stats["connections"] += 1
            await asyncio.sleep(rng.uniform(0, 1))

    async def report():
        while time.monotonic() < deadline + 5:
            queue.put((seed, dict(stats, errors=list(stats["errors"]))))
            await asyncio.sleep(2)

    async def main():
        tasks = [asyncio.create_task(one(k)) for k in range(count)]
        reporter = asyncio.create_task(report())
        await asyncio.gather(*tasks)
        reporter.cancel()
        queue.put((seed, dict(stats, errors=list(stats["errors"]), done=True)))

    asyncio.run(main())


# ---------------------------------------------------------------- queries, exports

class Readers:
    def __init__(self, srv, export_bin, stop):
        self.srv, self.export_bin, self.stop = srv, export_bin, stop
        self.queries = self.exports = 0
        self.errors = []

    def error(self, what):
        if len(self.errors) < 20:
            self.errors.append(what)

    def query_loop(self):
        rng = random.Random(4)
        while not self.stop.wait(rng.uniform(0.1, 0.5)):
            status, stats = self.srv.request("GET", "/api/stats")
            if status != 200:
                self.error(f"stats: {status}")
                continue
            last = stats["last_id"]
            q = rng.choice([
                f"after_id={max(0, last - rng.randint(1, 5000))}&limit={rng.randint(1, 1000)}",
                f"order=desc&limit={rng.randint(1, 200)}",
                f"type={rng.choice(TYPES)}&since=10m&limit=100",
                f"before_id={last}&order=desc&limit=50",
            ])
            status, page = self.srv.request("GET", "/api/events?" + q)
            ids = [e["id"] for e in page.get("events", [])] if status == 200 else None
            if status != 200 or ids != sorted(ids, reverse="desc" in q):
                self.error(f"GET /api/events?{q}: {status}")
            status, _ = self.srv.request("GET", "/metrics")
            if status != 200:
                self.error(f"metrics: {status}")
            self.queries += 3

    def export_loop(self):
        while not self.stop.wait(20):
            status, stats = self.srv.request("GET", "/api/stats")
            after = max(0, stats["last_id"] - 20000)
            r = subprocess.run([self.export_bin, "--db", self.srv.db_path, "--after-id",
                                str(after)], capture_output=True, timeout=120)
            lines = r.stdout.count(b"\n")
            if r.returncode != 0 or lines == 0:
                self.error(f"export: exit {r.returncode}, {lines} lines, {r.stderr[-200:]!r}")
            self.exports += 1


# ---------------------------------------------------------------- sampling

def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, fds, cpu


def file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def grows(values, allowance, relative=0.05):
    """Median of the last third above the middle third's by more than allowed."""
    n = len(values)
    mid, last = values[n // 3: 2 * n // 3], values[2 * n // 3:]
    if len(mid) < 2 or len(last) < 2:
        return False, 0, 0
    a, b = statistics.median(mid), statistics.median(last)
    return b > a * (1 + relative) + allowance, a, b


def svg_plot(samples, path, minutes):
    """RSS over time as a small SVG line chart."""
    w, h, left, bottom, top, right = 640, 220, 56, 32, 14, 14
    xs = [s["t"] / 60 for s in samples]
    ys = [s["rss_kib"] / 1024 for s in samples]
    # Four gridlines at a round step: 1, 2 or 5 times a power of ten.
    top_y = max(ys) * 1.1 if ys else 1
    step = next(m * 10 ** e for e in range(-1, 6) for m in (1, 2, 5) if 4 * m * 10 ** e >= top_y)
    ymax = 4 * step
    xmax = max(xs[-1] if xs else 1, 1e-9)

    def px(x):
        return left + (w - left - right) * x / xmax

    def py(y):
        return h - bottom - (h - top - bottom) * y / ymax

    pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    for i in range(5):
        y = ymax * i / 4
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">'
                   f'{y:g}</text>')
    for i in range(6):
        x = xmax * i / 5
        out.append(f'<text x="{px(x):.1f}" y="{h - bottom + 16}" text-anchor="middle">'
                   f'{x:.0f}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 4}" text-anchor="middle">'
               f'minutes</text>')
    out.append(f'<text x="12" y="{(top + h - bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 12 {(top + h - bottom) / 2})">RSS, MiB</text>')
    out.append(f'<polyline fill="none" stroke="#2a6fdb" stroke-width="1.5" points="{pts}"/>')
    out.append(f'<text x="{w - right}" y="{top + 10}" text-anchor="end">sentinel-logd RSS, '
               f'{minutes:g}-minute soak</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--hours", type=float, help="run this many hours instead")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--rate", type=float, default=200.0, help="events/s posted (200)")
    ap.add_argument("--subscribers", type=int, default=200)
    ap.add_argument("--workers", type=int, default=4, help="subscriber processes (4)")
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between samples (5)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "soak"))
    args = ap.parse_args()
    minutes = args.hours * 60 if args.hours else args.minutes
    duration = minutes * 60
    build = os.path.abspath(args.build_dir)
    logd = os.path.join(build, "sentinel-logd")
    export_bin = os.path.join(build, "tools", "sentinel-export", "sentinel-export")
    os.makedirs(args.out, exist_ok=True)
    # Retention keeps about a sixth of what the run ingests (at least 5,000).
    retain = max(5000, int(args.rate * duration / 6))

    srv = Server("--retain-events", str(retain), "--retention-interval", "2s",
                 "--cache-events", "2000", "--max-connections", "2000", binary=logd)
    srv.start()
    pid = srv.proc.pid
    print(f"soak: {minutes:g} minutes, {args.rate:g} events/s, {args.subscribers} subscribers, "
          f"retention {retain} events; server pid {pid} on port {srv.port}; out {args.out}",
          flush=True)
    stop = threading.Event()
    ingest = Ingest(srv, args.rate, stop)
    readers = Readers(srv, export_bin, stop)
    threads = [threading.Thread(target=f, daemon=True) for f in
               (ingest.http_batches, ingest.http_singles, ingest.ws_ingest,
                readers.query_loop, readers.export_loop)]
    for t in threads:
        t.start()
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded process
    queue = ctx.Queue()
    per = [args.subscribers // args.workers + (i < args.subscribers % args.workers)
           for i in range(args.workers)]
    workers = [ctx.Process(target=subscriber_worker,
                                       args=(srv.ws_url("/ws/logs"), n, i, duration, queue),
                                       daemon=True)
               for i, n in enumerate(per)]
    for p in workers:
        p.start()

    subs = {}
    samples = []
    t0 = time.monotonic()
    csv_path = os.path.join(args.out, "samples.csv")
    with open(csv_path, "w") as csv:
        csv.write("t_s,rss_kib,fds,cpu_s,wal_bytes,db_bytes,acked,deliveries,connected\n")
        while True:
            t = time.monotonic() - t0
            while not queue.empty():
                seed, st = queue.get()
                subs[seed] = st
            rss, fds, cpu = proc_sample(pid)
            s = {"t": t, "rss_kib": rss, "fds": fds, "cpu_s": cpu,
                 "wal": file_size(srv.db_path + "-wal"), "db": file_size(srv.db_path),
                 "acked": sum(ingest.acked.values()),
                 "deliveries": sum(v["deliveries"] for v in subs.values()),
                 "connected": sum(v["connected"] for v in subs.values())}
            samples.append(s)
            csv.write(f"{t:.1f},{rss},{fds},{cpu:.2f},{s['wal']},{s['db']},{s['acked']},"
                      f"{s['deliveries']},{s['connected']}\n")
            csv.flush()
            if len(samples) % 12 == 1:
                print(f"soak: {t / 60:5.1f} min  rss {rss / 1024:6.1f} MiB  fds {fds:4d}  "
                      f"wal {s['wal'] / 2**20:5.1f} MiB  store {s['db'] / 2**20:6.1f} MiB  "
                      f"acked {s['acked']}  deliveries {s['deliveries']}  "
                      f"connected {s['connected']}", flush=True)
            if t >= duration:
                break
            time.sleep(min(args.sample, max(0.0, duration - t)))
    stop.set()
    for p in workers:
        p.join(60)
    while not queue.empty():
        seed, st = queue.get()
        subs[seed] = st
    for t in threads:
        t.join(30)
    srv.stop()
    conn = srv.db()
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    stored = conn.execute("SELECT count(*) FROM journal").fetchone()[0]
    conn.close()

    failures = []
    sub_errors = [e for v in subs.values() for e in v["errors"]]
    if sub_errors:
        failures.append(f"subscribers: {sub_errors[:10]}")
    if ingest.errors:
        failures.append(f"ingest: {ingest.errors[:10]}")
    if readers.errors:
        failures.append(f"queries/exports: {readers.errors[:10]}")
    if integrity != "ok":
        failures.append(f"integrity_check: {integrity}")
    verdicts = []
    for key, name, allowance, rel, unit, scale in (
            ("rss_kib", "RSS", 4096, 0.05, "MiB", 1024),
            ("fds", "open descriptors", 16, 0.05, "", 1),
            ("wal", "WAL", 8 << 20, 0.05, "MiB", 2**20),
            ("db", "store file", 0, 0.10, "MiB", 2**20)):
        bad, a, b = grows([s[key] for s in samples], allowance, rel)
        verdicts.append(f"| {name} | {a / scale:.1f} | {b / scale:.1f} | "
                        f"{max(s[key] for s in samples) / scale:.1f} | {unit} | "
                        f"{'grows' if bad else 'flat'} |")
        if bad:
            failures.append(f"{name} grows: median {a / scale:.1f} -> {b / scale:.1f} {unit}")
    acked = sum(ingest.acked.values())
    deliveries = sum(v["deliveries"] for v in subs.values())
    connections = sum(v["connections"] for v in subs.values())
    gaps = sum(v["gaps"] for v in subs.values())
    cpu = samples[-1]["cpu_s"]
    summary = [
        f"Soak of {minutes:g} minutes ({time.strftime('%Y-%m-%d')}): {args.rate:g} events/s "
        f"offered ({acked / duration:.0f} acknowledged a second on average), "
        f"{args.subscribers} subscribers, retention {retain} events.",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| events acknowledged (HTTP batches / single / WebSocket) | {acked:,} "
        f"({ingest.acked['http_batch']:,} / {ingest.acked['http_single']:,} / "
        f"{ingest.acked['ws']:,}) |",
        f"| events delivered to subscribers | {deliveries:,} |",
        f"| subscriber connections (all but the first of each a resume) | {connections:,} |",
        f"| retention gaps reported to subscribers | {gaps:,} |",
        f"| gaps or duplicates in any stream | {len(sub_errors)} |",
        f"| API requests / exports | {readers.queries:,} / {readers.exports} |",
        f"| events in the store at the end (retention bound {retain:,}) | {stored:,} |",
        f"| server CPU time | {cpu:.0f} s ({100 * cpu / duration:.0f} % of one core) |",
        f"| integrity_check at the end | {integrity} |",
        "",
        "| sampled every %gs | median, middle third | median, last third | max | unit | |"
        % args.sample,
        "|---|---:|---:|---:|---|---|",
        *verdicts,
    ]
    text = "\n".join(summary) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    svg_plot(samples, os.path.join(args.out, "rss.svg"), minutes)
    print(text)
    print(f"soak: samples in {csv_path}, plot in {os.path.join(args.out, 'rss.svg')}")
    srv.cleanup()
    if failures:
        print("soak: FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("soak: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
