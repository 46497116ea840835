#!/usr/bin/python3
"""kill -9 loses no acknowledged event.

Producers post batches over keep-alive connections; right after a chosen
batch is acknowledged the server gets SIGKILL. After a restart on the same
store: every acknowledged event is there exactly once, with its ids and its
exact content; a batch that was in flight is all there or not at all;
nothing else is there; new ids are above every id the store held; and
PRAGMA integrity_check says ok. Five rounds with --sync normal, five with
--sync full. Set KILL9_SEED to replay a run.
"""

import http.client
import json
import os
import random
import threading
import time

from harness import Server, expect, expect_eq, run

ROUNDS = 5
PRODUCERS = 3
TYPES = ["system", "agent", "monitor", "error", "config", "security"]


def make_event(rng, uid):
    return {"type": rng.choice(TYPES), "message": f"evento {uid} ñ 🚀",
            "timestamp": "2026-03-09T14:00:00.123456",
            "data": {"uid": uid, "pad": "x" * rng.randint(0, 300), "ratio": 0.5}}


class Round:
    """One run of producers until the server is killed."""

    def __init__(self, srv, name, rng):
        self.srv, self.name, self.rng = srv, name, rng
        self.lock = threading.Lock()
        self.acked = []     # (batch, answer)
        self.unacked = []   # batches sent without an answer
        self.errors = []
        self.stop = threading.Event()
        self.kill_after = rng.randint(3, 60)
        self.seeds = [rng.randrange(1 << 30) for _ in range(PRODUCERS)]

    def producer(self, p):
        rng = random.Random(self.seeds[p])
        cli = self.srv.client()
        n = 0
        try:
            while not self.stop.is_set():
                size = rng.choice([1, 1, 2, 5, 10, 25, 40])
                batch = [make_event(rng, f"{self.name}-p{p}-{n + i}") for i in range(size)]
                n += size
                try:
                    status, ack = cli.post(batch)
                except (OSError, http.client.HTTPException):
                    with self.lock:
                        self.unacked.append(batch)
                    return
                if status != 200:
                    with self.lock:
                        self.unacked.append(batch)
                        self.errors.append(f"{self.name} p{p}: status {status} {ack!r}")
                    return
                with self.lock:
                    self.acked.append((batch, ack))
                    if len(self.acked) == self.kill_after:
                        self.srv.proc.kill()  # SIGKILL, right after this answer
                        self.stop.set()
        finally:
            cli.close()

    def run(self):
        threads = [threading.Thread(target=self.producer, args=(p,)) for p in range(PRODUCERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            expect(not t.is_alive(), f"{self.name}: a producer is stuck")
        self.srv.proc.wait(30)
        expect_eq(self.errors, [], f"{self.name}: producer errors before the kill")
        expect(len(self.acked) >= self.kill_after,
               f"{self.name}: only {len(self.acked)} answers, the kill was due after "
               f"{self.kill_after} (did the server die on its own?)")


def stored(srv):
    """uid -> [(id, event)] for every row, and the max id."""
    by_uid = {}
    max_id = 0
    for event_id, typ, body in srv.rows():
        event = json.loads(body)
        expect_eq(typ, event["type"], f"row {event_id}: type column")
        by_uid.setdefault(event["data"]["uid"], []).append((event_id, event))
        max_id = max(max_id, event_id)
    return by_uid, max_id


def check_store(srv, rounds, all_ids):
    """Every acknowledged event exactly once; in-flight batches whole or absent."""
    by_uid, max_id = stored(srv)
    expected = set()
    for r in rounds:
        for batch, ack in r.acked:
            expect_eq(ack["accepted"], len(batch), f"{r.name}: accepted")
            expect_eq(ack["last_id"] - ack["first_id"] + 1, len(batch),
                      f"{r.name}: id range of a batch of {len(batch)}")
            for i, event in enumerate(batch):
                uid = event["data"]["uid"]
                expected.add(uid)
                rows = by_uid.get(uid, [])
                expect_eq(len(rows), 1, f"{r.name}: rows holding acknowledged event {uid}")
                expect_eq(rows[0], (ack["first_id"] + i, event),
                          f"{r.name}: acknowledged event {uid} (id, content)")
        for batch in r.unacked:
            present = [len(by_uid.get(e["data"]["uid"], [])) for e in batch]
            expect(present in ([0] * len(batch), [1] * len(batch)),
                   f"{r.name}: a batch in flight at the kill is partly stored: {present}")
            if present and present[0]:
                ids = [by_uid[e["data"]["uid"]][0][0] for e in batch]
                expect_eq(ids, list(range(ids[0], ids[0] + len(ids))),
                          f"{r.name}: ids of a committed in-flight batch")
                expected.update(e["data"]["uid"] for e in batch)
    extra = set(by_uid) - expected
    expect_eq(sorted(extra)[:5], [], "rows that no producer sent")
    ids = [event_id for rows in by_uid.values() for event_id, _ in rows]
    expect_eq(len(ids), len(set(ids)), "distinct ids")
    for r in rounds:
        for _, ack in r.acked:
            for event_id in range(ack["first_id"], ack["last_id"] + 1):
                expect(all_ids.get(event_id, r.name) == r.name,
                       f"id {event_id} acknowledged in {all_ids.get(event_id)} and in {r.name}")
                all_ids[event_id] = r.name
    conn = srv.db()
    try:
        expect_eq(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok",
                  "PRAGMA integrity_check")
    finally:
        conn.close()
    return max_id


def kill9_rounds(sync):
    seed = int(os.environ.get("KILL9_SEED", time.time_ns() % 1000000))
    print(f"--sync {sync}: KILL9_SEED={seed}")
    rng = random.Random(seed)
    srv = Server(sync=sync).start()
    rounds, all_ids, max_id = [], {}, 0
    for k in range(ROUNDS):
        r = Round(srv, f"{sync}-round{k}", rng)
        r.run()
        rounds.append(r)
        srv.restart()
        new_max = check_store(srv, rounds, all_ids)
        first = min(ack["first_id"] for _, ack in r.acked)
        expect(first > max_id, f"{r.name}: first id {first} reuses an id of the store "
               f"(max before the round: {max_id})")
        max_id = new_max
        print(f"  {r.name}: killed after {len(r.acked)} answers ({r.kill_after} due), "
              f"{len(r.unacked)} batches in flight, max id {max_id}")
    _, ack = srv.client().post({"type": "system", "message": "después", "data": {"uid": "end"}})
    expect(ack["first_id"] > max_id, f"id after the last restart {ack['first_id']} <= {max_id}")
    srv.stop(expect_code=0)


def test_kill9_sync_normal():
    kill9_rounds("normal")


def test_kill9_sync_full():
    kill9_rounds("full")


if __name__ == "__main__":
    run(test_kill9_sync_normal, test_kill9_sync_full)
