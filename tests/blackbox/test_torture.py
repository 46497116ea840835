#!/usr/bin/python3
"""Crash torture: kill -9 at random moments of concurrent ingest.

CYCLES cycles on one store, alternating --sync normal and --sync full. In
each, 2 to 4 producers post small batches over keep-alive connections and
the server gets SIGKILL at a random moment 50-300 ms after they started,
whatever it is doing (parsing, committing, answering, checkpointing). After
each restart: every acknowledged event is stored exactly once, with the id
it was acknowledged with and its exact body (the producers send compact
JSON with a timestamp, which the store keeps byte for byte); a batch whose
answer was lost is stored whole or not at all; nothing else is stored; ids
of the new cycle are above every id the store ever held; and PRAGMA
integrity_check says ok. A last pass checks the whole store again.

Unlike test_kill9 (a kill right after a chosen answer), the kill here lands
at any point. Set TORTURE_SEED to replay a run, TORTURE_CYCLES to change
the count.

Clients reconnect as soon as a restarted server listens (the seed's
reconnecting clients retry after a second): a subscriber connecting at the
first moment gets its hello and the next event, and a producer connecting
then over /ws/ingest gets its answer.
"""

import asyncio
import http.client
import json
import os
import random
import threading
import time

import websockets

from harness import HOST, Server, TestFailure, expect, expect_eq, run

CYCLES = int(os.environ.get("TORTURE_CYCLES", "50"))
# Generous: the ASan build is several times slower than a release build.
DEADLINE = 280.0
RESTARTS = 5
TYPES = ["system", "agent", "monitor", "error", "config", "security"]


def event_text(rng, uid):
    """One event as compact JSON: the exact text the store must keep."""
    event = {"type": rng.choice(TYPES), "message": f"evento {uid} ñ 🚀",
             "timestamp": "2026-03-09T14:00:00.123456",
             "data": {"uid": uid, "n": rng.randint(-10**6, 10**6), "ratio": 0.25,
                      "pad": "x" * rng.randint(0, 200)}}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


class Cycle:
    """Producers posting until the server dies under them."""

    def __init__(self, srv, name, rng):
        self.srv, self.name = srv, name
        self.producers = rng.randint(2, 4)
        self.kill_ms = rng.randint(50, 300)
        self.seeds = [rng.randrange(1 << 30) for _ in range(self.producers)]
        self.lock = threading.Lock()
        self.acked = []    # (texts, answer)
        self.unacked = []  # texts of batches whose answer never came
        self.errors = []

    def producer(self, p):
        rng = random.Random(self.seeds[p])
        cli = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        try:
            for n in range(100000):  # bounded; the kill ends it long before
                size = rng.choice([1, 1, 2, 3, 5, 8, 13])
                texts = [event_text(rng, f"{self.name}-p{p}-{n}-{i}") for i in range(size)]
                body = ("[" + ",".join(texts) + "]").encode("utf-8")
                try:
                    cli.request("POST", "/api/events", body=body,
                                headers={"Content-Type": "application/json"})
                    resp = cli.getresponse()
                    raw = resp.read()
                except (OSError, http.client.HTTPException):
                    with self.lock:
                        self.unacked.append(texts)
                    return
                if resp.status != 200:
                    with self.lock:
                        self.unacked.append(texts)
                        self.errors.append(f"p{p}: {resp.status} {raw[:200]!r}")
                    return
                with self.lock:
                    self.acked.append((texts, json.loads(raw)))
        finally:
            cli.close()

    def run(self):
        threads = [threading.Thread(target=self.producer, args=(p,), daemon=True)
                   for p in range(self.producers)]
        for t in threads:
            t.start()
        time.sleep(self.kill_ms / 1000)
        self.srv.kill9()
        for t in threads:
            t.join(60)
            expect(not t.is_alive(), f"{self.name}: a producer is stuck after the kill")
        expect_eq(self.errors, [], f"{self.name}: answers other than 200 before the kill")


def check_rows(rows, cycles, what):
    """rows: (id, type, body) of the store above some id; cycles: what was sent then."""
    by_text = {}
    for event_id, typ, body in rows:
        by_text.setdefault(body, []).append(event_id)
        expect_eq(typ, json.loads(body)["type"], f"{what}: type column of row {event_id}")
    expected = 0
    for c in cycles:
        for texts, ack in c.acked:
            expect_eq((ack["accepted"], ack["last_id"] - ack["first_id"] + 1),
                      (len(texts), len(texts)), f"{c.name}: answer {ack}")
            for i, text in enumerate(texts):
                expect_eq(by_text.get(text), [ack["first_id"] + i],
                          f"{c.name}: ids of the rows holding acknowledged event "
                          f"{json.loads(text)['data']['uid']} (exact body)")
            expected += len(texts)
        for texts in c.unacked:
            present = [len(by_text.get(t, [])) for t in texts]
            expect(present in ([0] * len(texts), [1] * len(texts)),
                   f"{c.name}: a batch in flight at the kill is partly stored: {present}")
            if present[0]:
                ids = [by_text[t][0] for t in texts]
                expect_eq(ids, list(range(ids[0], ids[0] + len(ids))),
                          f"{c.name}: ids of a committed in-flight batch")
                expected += len(texts)
    expect_eq(len(rows), expected, f"{what}: rows stored (acknowledged + whole in-flight "
              "batches; anything else was never sent)")


def store_rows_after(srv, after_id):
    conn = srv.db()
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = conn.execute("SELECT id, type, body FROM journal WHERE id > ? ORDER BY id",
                            (after_id,)).fetchall()
        max_id = conn.execute("SELECT coalesce(max(id), 0) FROM journal").fetchone()[0]
    finally:
        conn.close()
    expect_eq(ok, "ok", "PRAGMA integrity_check")
    return rows, max_id


def test_kill9_torture():
    seed = int(os.environ.get("TORTURE_SEED", time.time_ns() % 1000000))
    print(f"TORTURE_SEED={seed} cycles={CYCLES}")
    rng = random.Random(seed)
    srv = Server().start()
    t0 = time.monotonic()
    cycles, max_id, acked_events, in_flight = [], 0, 0, 0
    for k in range(CYCLES):
        if time.monotonic() - t0 > DEADLINE:
            raise TestFailure(f"only {k} of {CYCLES} cycles within {DEADLINE:.0f} s")
        c = Cycle(srv, f"c{k}-{srv.sync}", rng)
        c.run()
        # Restart on the other durability mode, on the same store.
        srv.sync = "full" if srv.sync == "normal" else "normal"
        srv.restart()
        rows, new_max = store_rows_after(srv, max_id)
        check_rows(rows, [c], c.name)
        if c.acked:
            first = min(ack["first_id"] for _, ack in c.acked)
            expect(first > max_id, f"{c.name}: id {first} reuses an id (max before: {max_id})")
        expect(new_max >= max_id, f"{c.name}: max id went down from {max_id} to {new_max}")
        max_id = new_max
        cycles.append(c)
        acked_events += sum(len(t) for t, _ in c.acked)
        in_flight += len(c.unacked)
        print(f"  {c.name}: {c.producers} producers, killed at {c.kill_ms} ms after "
              f"{len(c.acked)} answers, {len(c.unacked)} in flight, max id {max_id}")
    rows, _ = store_rows_after(srv, 0)
    check_rows(rows, cycles, "the whole store")
    expect(acked_events > 0, "no event was acknowledged in any cycle")
    status, ack = srv.post({"type": "system", "message": "después"})
    expect_eq(status, 200, "post after the last restart")
    expect(ack["first_id"] > max_id, f"id after the last restart {ack['first_id']} <= {max_id}")
    srv.stop(expect_code=0)
    print(f"  {CYCLES} cycles in {time.monotonic() - t0:.1f} s: {acked_events} events "
          f"acknowledged, {in_flight} batches in flight at a kill, {len(rows)} rows")


async def first_connection(port, path, deadline):
    """Connect as soon as the port accepts; None if it never did."""
    while time.monotonic() < deadline:
        try:
            return await websockets.connect(f"ws://{HOST}:{port}{path}", open_timeout=5,
                                            ping_interval=None, max_size=None)
        except (OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.002)
    return None


async def early_clients(srv, k):
    """One restart: a subscriber and a producer connect at the first moment."""
    srv._spawn()
    deadline = time.monotonic() + 30
    sub = await first_connection(srv.port, "/ws/logs?control=1", deadline)
    expect(sub is not None, f"restart {k}: the server never accepted a connection")
    ing = await first_connection(srv.port, "/ws/ingest", deadline)
    problems = []
    try:
        try:
            hello = json.loads(await asyncio.wait_for(sub.recv(), 3))
            if hello.get("control") != "hello":
                problems.append(f"first message {hello!r}")
        except asyncio.TimeoutError:
            problems.append("a subscriber connected at start got no hello within 3 s")
        try:
            await ing.send(json.dumps({"type": "system", "message": f"pronto {k}"}))
            ack = json.loads(await asyncio.wait_for(ing.recv(), 3))
        except asyncio.TimeoutError:
            problems.append("a producer connected at start over /ws/ingest got no answer "
                            "within 3 s")
            status, ack = srv.post({"type": "system", "message": f"pronto {k} (http)"})
            expect_eq(status, 200, f"restart {k}: POST")
        try:
            for _ in range(3):  # the event, after "live" (and a hello, if late)
                msg = json.loads(await asyncio.wait_for(sub.recv(), 3))
                if msg.get("id") == ack["first_id"]:
                    break
            else:
                problems.append(f"the subscriber did not get event {ack['first_id']}")
        except asyncio.TimeoutError:
            problems.append(f"a subscriber connected at start did not get event "
                            f"{ack['first_id']} within 3 s")
    finally:
        await sub.close()
        if ing:
            await ing.close()
    return problems


def test_clients_connecting_at_restart():
    srv = Server().start()
    failed = []
    for k in range(RESTARTS):
        srv.stop()
        problems = asyncio.run(early_clients(srv, k))
        if problems:
            failed.append(f"restart {k}: " + "; ".join(problems))
        expect(srv.running(), f"restart {k}: the server died")
    srv.stop()
    print(f"  {RESTARTS - len(failed)} of {RESTARTS} restarts served clients that connected "
          f"at the first moment")
    expect_eq(failed, [], "clients connecting as soon as the server listens")


if __name__ == "__main__":
    run(test_kill9_torture, test_clients_connecting_at_restart)
