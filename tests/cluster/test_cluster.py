#!/usr/bin/python3
"""Several nodes on one replicated NATS JetStream stream (--jetstream).

Every test starts a NATS cluster of three nats-server processes and two or
three sentinel-logd nodes on loopback, and checks what the README promises:

- the same ids and bodies on every node, and /ws/logs of one node resumes
  with another node's after_id and epoch;
- a client of node A fails over to node B and gets everything exactly once;
- kill -9 of a node under load loses no acknowledged event, and every node
  converges on the stream;
- kill -9 of the stream's leader under load loses no acknowledged event,
  and every replica and every node converge;
- a node that was down catches up, and a subscriber ahead of it waits for it;
- a node down longer than the stream keeps events tells its clients `gap`;
- a re-created stream makes running nodes stop (exit 75) and, restarted,
  rebuild; a client with the old epoch gets `reset`;
- with NATS down, ingest gets 503 within the acknowledgement timeout while
  reads go on, and /healthz says why.
"""

import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))

from harness import (Server, Subscriber, TestFailure, expect, expect_eq,  # noqa: E402
                     expect_in, run)
from natscluster import NatsCluster  # noqa: E402

SCALE = float(os.environ.get("SENTINEL_TEST_SCALE", "1"))
STREAM = "SENTINEL"
clusters = []


def nats(size=3):
    c = NatsCluster(size).start()
    clusters.append(c)
    return c


def node(c, *args, create=False, **kw):
    flags = ["--jetstream", c.urls, "--jetstream-ack-timeout", "10s", *args]
    if create:
        flags.append("--jetstream-create")
    return Server(*flags, **kw).start()


def event(tag, i):
    return {"type": "agent", "message": f"{tag} {i}", "data": {"tag": tag, "i": i}}


def post_ok(srv, events):
    status, body = srv.post(events)
    expect_eq(status, 200, f"POST to {srv.port}: {body}")
    return body


def wait_until(what, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise TestFailure(f"timed out waiting for {what}")


def metric(srv, name):
    status, text = srv.request("GET", "/metrics")
    expect_eq(status, 200, "GET /metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise TestFailure(f"no {name} in /metrics")


def wait_applied(nodes, seq, timeout=30.0):
    wait_until(f"every node to apply up to {seq}",
               lambda: all(metric(n, "sentinel_jetstream_applied_seq") >= seq for n in nodes),
               timeout)


def same_rows(nodes):
    """Every node's journal, which must be identical; returns it."""
    first = nodes[0].rows()
    for n in nodes[1:]:
        expect_eq(n.rows(), first, f"the journal of node {n.port} against node {nodes[0].port}")
    return first


def integrity(srv):
    conn = srv.db()
    try:
        expect_eq(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
    finally:
        conn.close()


def epoch_of(srv):
    status, stats = srv.request("GET", "/api/stats")
    expect_eq(status, 200, "GET /api/stats")
    return stats["epoch"]


class Producers:
    """Threads that post batches to the nodes in turn, retrying elsewhere.

    Each batch carries a unique tag and the same tag as its
    Idempotency-Key on every retry; every acknowledged answer is kept with
    its ids, so that the test can check each acknowledged event afterwards.
    """

    def __init__(self, nodes, threads=3, batch=20, pause=0.0):
        self.nodes, self.batch, self.pause = nodes, batch, pause
        self.acked = []  # (ids, events)
        self.failed = 0
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True)
                        for t in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, t):
        rng = random.Random(t)
        n = 0
        while not self.stop_flag.is_set():
            events = [event(f"p{t}-{n}", i) for i in range(self.batch)]
            n += 1
            for attempt in range(20):
                srv = self.nodes[(n + attempt + t) % len(self.nodes)]
                try:
                    status, body = srv.request("POST", "/api/events",
                                               body=json.dumps(events).encode(),
                                               headers={"Content-Type": "application/json",
                                                        "Idempotency-Key": f"p{t}-{n}"},
                                               timeout=15)
                except OSError:
                    status, body = None, None
                if status == 200:
                    ids = body.get("ids") or list(range(body["first_id"], body["last_id"] + 1))
                    with self.lock:
                        self.acked.append((ids, events))
                    break
                with self.lock:
                    self.failed += 1
                time.sleep(0.1 + rng.random() * 0.2)
            if self.pause:
                time.sleep(self.pause)

    def count(self):
        with self.lock:
            return sum(len(ids) for ids, _ in self.acked)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)


def check_acked(nodes, producers):
    """Every acknowledged event is at its id, with its body, on every node,
    and no event is stored twice (retries carry their Idempotency-Key)."""
    rows = same_rows(nodes)
    by_id = {r[0]: json.loads(r[2]) for r in rows}
    seen = {}
    for id_, ev in by_id.items():
        key = ev["message"]
        expect(key not in seen, f"{key} stored twice, as {seen.get(key)} and {id_}")
        seen[key] = id_
    for ids, events in producers.acked:
        expect_eq(len(ids), len(events), "an answer's ids")
        for id_, ev in zip(ids, events):
            expect(id_ in by_id, f"acknowledged event {id_} ({ev['message']}) is missing")
            got = by_id[id_]
            expect_eq((got["type"], got["message"], got["data"]), (ev["type"], ev["message"],
                                                                  ev["data"]),
                      f"event {id_}")
    return rows


def test_same_events_on_every_node():
    c = nats()
    a = node(c, create=True)
    b = node(c)
    first = post_ok(a, [event("a", i) for i in range(5)])
    expect_eq((first["first_id"], first["last_id"]), (1, 5), "ids of the first batch")
    second = post_ok(b, event("b", 0))
    expect_eq(second["first_id"], 6, "a batch on the other node continues the ids")
    wait_applied([a, b], 6)
    rows = same_rows([a, b])
    expect_eq([r[0] for r in rows], list(range(1, 7)), "ids on every node")
    expect_eq(epoch_of(a), epoch_of(b), "the epoch is the stream's, the same on every node")

    # Read-your-writes: a node answers only once it applied the events.
    for srv in (a, b):
        body = post_ok(srv, event("ryw", srv.port))
        status, page = srv.request("GET", f"/api/events?after_id={body['first_id'] - 1}")
        expect_eq(page["events"][0]["id"], body["first_id"], "read after write on that node")

    # /ws/logs of B resumes with A's after_id and epoch.
    sub = Subscriber(b.ws_url(f"/ws/logs?control=1&after_id=3&epoch={epoch_of(a)}"))
    got = sub.wait_for(1 + 5 + 1)  # hello, ids 4..8, live
    expect_eq(got[0]["control"], "hello", "hello")
    expect_eq([m["id"] for m in got[1:6]], [4, 5, 6, 7, 8], "resumed on the other node")
    expect_eq(got[6]["control"], "live", "live")
    sub.close()
    for n in (a, b):
        integrity(n)


def test_client_fails_over():
    c = nats()
    a = node(c, create=True)
    b = node(c)
    sub = Subscriber(a.ws_url("/ws/logs?control=1"))
    post_ok(a, [event("before", i) for i in range(10)])
    got = sub.wait_for(1 + 1 + 10)
    epoch = got[0]["epoch"]
    last = max(m["id"] for m in got if "id" in m)
    a.kill9()
    sub.wait_closed()
    post_ok(b, [event("after", i) for i in range(7)])
    sub2 = Subscriber(b.ws_url(f"/ws/logs?control=1&after_id={last}&epoch={epoch}"))
    got2 = sub2.wait_for(1 + 7 + 1)
    ids = [m["id"] for m in got2 if "id" in m]
    expect_eq(ids, list(range(last + 1, last + 8)), "the events after the failover, once each")
    expect("reset" not in [m.get("control") for m in got2], "no reset on failover")
    sub2.close()


def test_retry_with_key_on_another_node():
    c = nats()
    a = node(c, create=True)
    b = node(c)
    events = [event("keyed", i) for i in range(4)]
    headers = {"Content-Type": "application/json", "Idempotency-Key": "batch-42"}
    status, first = a.request("POST", "/api/events", body=json.dumps(events).encode(),
                              headers=headers)
    expect_eq(status, 200, f"first attempt: {first}")
    status, again = b.request("POST", "/api/events", body=json.dumps(events).encode(),
                              headers=headers)
    expect_eq(status, 200, f"the retry on another node: {again}")
    expect_eq((again["first_id"], again["last_id"]), (first["first_id"], first["last_id"]),
              "the retry gets the first attempt's ids")
    post_ok(a, event("other", 0))
    wait_applied([a, b], 5)
    expect_eq([r[0] for r in same_rows([a, b])], [1, 2, 3, 4, 5], "stored once")
    status, body = a.request("POST", "/api/events", body=json.dumps(events).encode(),
                             headers={"Content-Type": "application/json",
                                      "Idempotency-Key": "x" * 129})
    expect_eq(status, 400, f"a key over 128 characters: {body}")


def test_kill9_node_under_load():
    c = nats()
    a = node(c, create=True)
    b = node(c)
    d = node(c)
    nodes = [a, b, d]
    prod = Producers(nodes, threads=3, batch=20)
    wait_until("some ingest", lambda: prod.count() >= 200 * SCALE)
    a.kill9()
    time.sleep(0.5)
    a.restart()
    wait_until("more ingest", lambda: prod.count() >= 1000 * SCALE, timeout=60)
    prod.stop()
    last = max(max(ids) for ids, _ in prod.acked)
    wait_applied(nodes, last)
    rows = check_acked(nodes, prod)
    seqs = c.last_seqs(STREAM)
    expect_eq(rows[-1][0], seqs[0], "the journals end where the stream ends")
    expect_eq([r[0] for r in rows], list(range(1, len(rows) + 1)),
              "each journal holds exactly the stream's sequences")
    for n in nodes:
        integrity(n)
        expect_eq(metric(n, "sentinel_jetstream_applied_seq"), seqs[0], "applied = last seq")
    print(f"kill -9 of a node: {prod.count()} acknowledged, {prod.failed} retried requests")


def test_kill9_stream_leader_under_load():
    c = nats()
    a = node(c, create=True)
    b = node(c)
    nodes = [a, b]
    prod = Producers(nodes, threads=3, batch=20)
    wait_until("some ingest", lambda: prod.count() >= 300 * SCALE)
    leader = c.stream_leader(STREAM)
    t0 = time.monotonic()
    before = prod.count()
    c.kill9(leader)
    wait_until("ingest to resume after the leader died",
               lambda: prod.count() >= before + 200, timeout=60)
    failover = time.monotonic() - t0
    time.sleep(1)
    c.start(leader)
    wait_until("more ingest", lambda: prod.count() >= before + 600 * SCALE, timeout=60)
    prod.stop()
    last = max(max(ids) for ids, _ in prod.acked)
    wait_applied(nodes, last)
    check_acked(nodes, prod)
    wait_until("every replica to reach the same last sequence",
               lambda: len(set(c.last_seqs(STREAM))) == 1, timeout=60)
    seqs = c.last_seqs(STREAM)
    wait_applied(nodes, seqs[0])
    rows = same_rows(nodes)
    expect_eq(rows[-1][0], seqs[0], "every node holds the stream up to its end")
    print(f"stream leader kill -9: ingest resumed after {failover:.1f} s; "
          f"{prod.count()} acknowledged, {prod.failed} retried requests")


def test_lagging_node_catches_up():
    c = nats()
    a = node(c, create=True)
    b = node(c)
    post_ok(a, [event("start", i) for i in range(10)])
    wait_applied([b], 10)
    b.stop()
    total = int(20000 * SCALE)
    for k in range(0, total, 500):
        post_ok(a, [event("while-b-down", i) for i in range(k, min(k + 500, total))])
    last = 10 + total
    t0 = time.monotonic()
    b.restart()
    # A subscriber ahead of the node waits for it, then gets exactly those.
    sub = Subscriber(b.ws_url(f"/ws/logs?after_id={last - 5}"))
    post_ok(a, [event("after", i) for i in range(3)])
    got = sub.wait_for(8)
    expect_eq([m["id"] for m in got], list(range(last - 4, last + 4)),
              "a subscriber ahead of a lagging node")
    wait_applied([b], last + 3)
    rate = total / (time.monotonic() - t0)
    same_rows([a, b])
    sub.close()
    print(f"catch-up of {total} events: {rate:,.0f} events/s")


def test_retention_gap():
    c = nats()
    a = node(c, "--jetstream-max-msgs", "1000", create=True)
    b = node(c)
    post_ok(a, [event("kept", i) for i in range(10)])
    wait_applied([b], 10)
    epoch = epoch_of(b)
    b.stop()
    for k in range(5):
        post_ok(a, [event("gone", i) for i in range(1000)])
    b.restart()
    wait_applied([b], 5010)
    sub = Subscriber(b.ws_url(f"/ws/logs?control=1&after_id=10&epoch={epoch}"))
    got = sub.wait_for(3)
    expect_eq(got[0]["control"], "hello", "hello")
    expect_eq(got[1].get("control"), "gap", f"the node tells of the events it cannot have: {got[:3]}")
    expect_eq((got[1]["from_id"], got[1]["to_id"]), (11, 4010), "the gap")
    expect_eq(got[2]["id"], 4011, "then the stream's oldest event")
    sub.close()


def test_recreated_stream():
    c = nats()
    a = node(c, create=True)
    b = node(c)
    post_ok(a, [event("old", i) for i in range(20)])
    wait_applied([a, b], 20)
    old_epoch = epoch_of(a)
    nc = c.client()
    reply = nc.request(f"$JS.API.STREAM.DELETE.{STREAM}")
    expect(reply.get("success"), f"stream deleted: {reply}")
    nc.close()
    # Running nodes notice within seconds and stop to be restarted.
    for n in (a, b):
        code = n.proc.wait(30)
        expect_eq(code, 75, "a node whose stream was re-created exits 75")
    a.args.append("--jetstream-create")
    a.restart()
    b.restart()
    new_epoch = epoch_of(a)
    expect(new_epoch != old_epoch, "a new stream, a new epoch")
    expect_eq(epoch_of(b), new_epoch, "the same on every node")
    expect(os.path.exists(f"{a.db_path}.epoch-{old_epoch}"), "the old store is kept aside")
    post_ok(b, [event("new", i) for i in range(3)])
    sub = Subscriber(a.ws_url(f"/ws/logs?control=1&after_id=20&epoch={old_epoch}"))
    got = sub.wait_for(6)
    expect_eq([m.get("control") for m in got[:2]], ["hello", "reset"], "an old epoch gets reset")
    expect_eq([m["id"] for m in got[2:5]], [1, 2, 3], "then the new stream from its start")
    sub.close()


def test_nats_down():
    c = nats()
    a = node(c, "--jetstream-ack-timeout", "2s", create=True)
    post_ok(a, [event("before", i) for i in range(5)])
    for i in range(3):
        c.kill9(i)
    wait_until("/healthz to say why", lambda: a.request("GET", "/healthz")[0] == 503)
    status, body = a.request("GET", "/healthz")
    expect_in("NATS", body["error"], "/healthz names NATS")
    t0 = time.monotonic()
    status, body = a.post(event("during", 0))
    took = time.monotonic() - t0
    expect_eq(status, 503, f"ingest while NATS is down: {body}")
    expect(took < 10, f"answered within the acknowledgement timeout ({took:.1f} s)")
    status, page = a.request("GET", "/api/events")
    expect_eq((status, len(page["events"])), (200, 5), "reads go on")
    c.start()
    wait_until("/healthz again", lambda: a.request("GET", "/healthz")[0] == 200, timeout=60)
    wait_until("ingest again", lambda: a.post(event("after", 0))[0] == 200, timeout=60)


def cleanup_clusters(test):
    def wrapped():
        try:
            test()
        finally:
            while clusters:
                clusters.pop().cleanup()
    wrapped.__name__ = test.__name__
    return wrapped


if __name__ == "__main__":
    run(*[cleanup_clusters(t) for t in (
        test_same_events_on_every_node,
        test_client_fails_over,
        test_retry_with_key_on_another_node,
        test_kill9_node_under_load,
        test_kill9_stream_leader_under_load,
        test_lagging_node_catches_up,
        test_retention_gap,
        test_recreated_stream,
        test_nats_down,
    )])
