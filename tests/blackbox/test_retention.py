"""Retention and compaction keep the store bounded: by size under sustained
ingest, by age (also per type), by count; ids continue after everything was
deleted; a subscriber that falls behind retention is told of the gap."""

import asyncio
import json
import os
import sqlite3
import subprocess
import threading
import time

import websockets

from harness import Server, Subscriber, TestFailure, expect, expect_eq, run

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")
MIB = 1024 * 1024
# 2,000,000 events; a fraction of that under the sanitizers (CMakeLists.txt).
SCALE = float(os.environ.get("SENTINEL_TEST_SCALE", "1"))
SUSTAINED = int(2_000_000 * SCALE)


def file_sizes(srv):
    """(store file, WAL) sizes in bytes."""
    sizes = []
    for suffix in ("", "-wal"):
        try:
            sizes.append(os.path.getsize(srv.db_path + suffix))
        except FileNotFoundError:
            sizes.append(0)
    return tuple(sizes)


def store_bytes(srv):
    return sum(file_sizes(srv))


def ingest(srv, events, batch=1000, conns=4):
    env = dict(os.environ, NODE_PATH=os.path.join(JS, "node_modules"))
    proc = subprocess.run(["node", os.path.join(JS, "ingest.js"), str(srv.port), str(events),
                           str(batch), str(conns)], env=env, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise TestFailure(f"ingest.js failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def wait_until(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise TestFailure(f"timed out waiting for {what}")


def count_and_ids(srv):
    conn = srv.db()
    try:
        return conn.execute("SELECT count(*), min(id), max(id) FROM journal").fetchone()
    finally:
        conn.close()


def test_size_bound_holds_under_sustained_ingest():
    # The bound scales with the load, so that it is crossed many times.
    mib = 64 if SCALE >= 1 else 32
    limit = mib * MIB
    srv = Server("--retain-bytes", f"{mib}MiB").start()
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(file_sizes(srv))
            stop.wait(0.25)
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = ingest(srv, SUSTAINED)
    finally:
        time.sleep(1.5)  # a last pass and checkpoint
        stop.set()
        sampler.join()
    final = store_bytes(srv)
    peak = max(samples, key=sum)
    print(f"ingested {result['acked']} events in {result['seconds']:.1f}s; store+WAL peak "
          f"{sum(peak) / MIB:.1f} MiB (file {peak[0] / MIB:.1f}, WAL {peak[1] / MIB:.1f}) over "
          f"{len(samples)} samples, final {final / MIB:.1f} MiB")
    samples = [sum(s) for s in samples]
    expect_eq(result["acked"], SUSTAINED, "every event acknowledged")
    expect(max(samples) <= limit * 1.10, f"peak {max(samples)} bytes over {mib} MiB + 10 %")
    expect(final <= limit, f"final size {final} bytes over {mib} MiB")
    count, first, last = count_and_ids(srv)
    expect_eq(last, SUSTAINED, "the newest events are kept")
    expect(0 < count < SUSTAINED, f"older events were removed ({count} kept)")
    expect_eq(last - first + 1, count, "what is kept is the newest, contiguous")
    status, metrics = srv.request("GET", "/metrics")
    expect(f"sentinel_retention_deleted_total {SUSTAINED - count}" in metrics,
           "/metrics counts what retention removed")
    expect("retention:" in srv.stderr_text(), "passes are logged")


def test_age_and_per_type_age():
    srv = Server("--retain-age", "1d", "--retain", "security=365d", "--retain", "monitor=1h",
                 "--retention-interval", "1s").start()
    now = time.time()

    def iso(seconds_ago):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - seconds_ago)) + ".000000Z"
    events = [
        {"type": "agent", "message": "2 days old", "timestamp": iso(2 * 86400)},  # 1 deleted
        {"type": "agent", "message": "1 hour old", "timestamp": iso(3600)},       # 2 kept
        {"type": "security", "message": "30 days old", "timestamp": iso(30 * 86400)},  # 3 kept
        {"type": "security", "message": "400 days old", "timestamp": iso(400 * 86400)},  # 4 deleted
        {"type": "monitor", "message": "2 hours old", "timestamp": iso(7200)},    # 5 deleted
        {"type": "monitor", "message": "10 minutes old", "timestamp": iso(600)},  # 6 kept
        {"type": "agent", "message": "now"},                                      # 7 kept
    ]
    status, ack = srv.post(events)
    expect_eq(status, 200, "post")
    wait_until(lambda: count_and_ids(srv)[0] == 4, "age retention")
    conn = srv.db()
    kept = [r[0] for r in conn.execute("SELECT id FROM journal ORDER BY id")]
    conn.close()
    expect_eq(kept, [2, 3, 6, 7], "kept ids")


def test_event_count_bound_is_exact_and_ids_continue():
    srv = Server("--retain-events", "100", "--retention-interval", "1s").start()
    client = srv.client()
    for i in range(10):
        status, ack = client.post([{"type": "agent", "message": f"{i}.{j}"} for j in range(50)])
        expect_eq(status, 200, "post")
    client.close()
    wait_until(lambda: count_and_ids(srv)[0] == 100, "count retention")
    expect_eq(count_and_ids(srv), (100, 401, 500), "the newest 100 are kept")
    srv.stop()

    srv2 = Server("--retain-age", "1s", "--retention-interval", "1s", db=srv.db_path).start()
    status, ack = srv2.post([{"type": "agent", "message": "old",
                              "timestamp": "2020-01-01T00:00:00Z"}])
    expect_eq(ack["first_id"], 501, "ids continue")
    wait_until(lambda: count_and_ids(srv2)[0] == 0, "everything deleted")
    srv2.stop()
    srv2.start()
    status, ack = srv2.post([{"type": "agent", "message": "after everything was deleted"}])
    expect_eq(ack["first_id"], 502, "ids are never reused, even after every row was deleted")


def test_lagging_subscriber_gets_gap_then_every_later_event():
    srv = Server("--retain-events", "2000", "--retention-interval", "1s",
                 "--cache-events", "256").start()
    ids, opened, go, done = [], threading.Event(), threading.Event(), threading.Event()
    controls = []

    async def lagging():
        async with websockets.connect(srv.ws_url() + "?control=1", max_queue=2,
                                      read_limit=2 ** 14, ping_interval=None) as ws:
            opened.set()
            while not go.is_set():
                await asyncio.sleep(0.05)
            while not ids or ids[-1] < 60_000:
                m = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if "control" in m:
                    controls.append(m)
                else:
                    ids.append(m["id"])
        done.set()
    t = threading.Thread(target=lambda: asyncio.run(lagging()), daemon=True)
    t.start()
    expect(opened.wait(30), "connected")
    ingest(srv, 60_000, batch=500, conns=2)
    wait_until(lambda: count_and_ids(srv)[0] == 2000, "retention caught up")
    go.set()
    expect(done.wait(120), "the lagging subscriber read to the end")
    gaps = [c for c in controls if c["control"] == "gap"]
    expect(gaps, f"a gap was reported: {controls}")
    # Everything it got is in order with no duplicate, and every hole in
    # the ids it received is covered by a gap message.
    expect(all(a < b for a, b in zip(ids, ids[1:])), "ids strictly increase")
    covered = set()
    for g in gaps:
        expect_eq(g["reason"], "retention", "gap reason")
        covered.update(range(g["from_id"], g["to_id"] + 1))
    missing = set(range(ids[0], 60_001)) - set(ids)
    expect(missing <= covered, f"{len(missing - covered)} ids missing without a gap message")
    expect_eq(ids[-2000:], list(range(58_001, 60_001)), "every event still kept, in order")


if __name__ == "__main__":
    run(test_size_bound_holds_under_sustained_ingest, test_age_and_per_type_age,
        test_event_count_bound_is_exact_and_ids_continue,
        test_lagging_subscriber_gets_gap_then_every_later_event)
