#!/usr/bin/python3
"""sentinel-export and sentinel-import next to a running server.

While a producer thread posts batches to the real server as fast as it is
answered, sentinel-export runs on the server's store file several times.
Each export is one snapshot: its ids run from the first to the last with
none missing, every event acknowledged before the export started is in
it, and nothing in it is newer than what the server acknowledged by the
time the export ended. Then sentinel-import --url posts to the server:
events are stored and sent to subscribers as they were written, and a bad
line is reported with its number and stores nothing of its batch.
"""

import json
import os
import re
import subprocess
import threading
import time

from harness import Server, Subscriber, expect, expect_eq, expect_in, run

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "sentinel_events.jsonl")
EXPORT = os.environ.get("SENTINEL_EXPORT", "")
IMPORT = os.environ.get("SENTINEL_IMPORT", "")

ID_PREFIX = re.compile(rb'^\{"id":([0-9]+),')
BATCH = 200
SNAPSHOT_MIN_EVENTS = 20000


class Producer(threading.Thread):
    """Posts batches of ~300-byte events back to back on one connection."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.cond = threading.Condition()
        self.acked = 0      # the highest id acknowledged so far
        self.answers = 0    # requests answered so far
        self.stopping = False
        self.error = None

    def run(self):
        client = self.srv.client()
        n = 0
        try:
            while not self.stopping:
                batch = []
                for _ in range(BATCH):
                    n += 1
                    batch.append({"type": "monitor" if n % 3 else "agent",
                                  "message": f"Evento de carga número {n} ✅ " + "x" * 180,
                                  "data": {"service": "postgresql", "seq": n}})
                status, ack = client.post(batch)
                if status != 200:
                    raise RuntimeError(f"POST answered {status}: {ack}")
                with self.cond:
                    self.acked = max(self.acked, ack["last_id"])
                    self.answers += 1
                    self.cond.notify_all()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
            with self.cond:
                self.cond.notify_all()
        finally:
            client.close()

    def state(self):
        with self.cond:
            return self.acked, self.answers

    def wait_answers(self, n, timeout=60):
        """Wait until more than n requests were answered; returns acked."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.answers <= n and self.error is None:
                left = deadline - time.monotonic()
                expect(left > 0, f"producer: no answer within {timeout}s")
                self.cond.wait(left)
            expect(self.error is None, f"producer failed: {self.error!r}")
            return self.acked

    def stop(self):
        self.stopping = True
        self.join(60)
        expect(self.error is None, f"producer failed: {self.error!r}")


def export_ids(db, *args):
    proc = subprocess.run([EXPORT, "--db", db, *args], capture_output=True, timeout=120)
    expect_eq(proc.returncode, 0, f"sentinel-export exit code (stderr: {proc.stderr!r})")
    expect_eq(proc.stderr, b"", "sentinel-export says nothing on success")
    lines = proc.stdout.split(b"\n")
    expect_eq(lines[-1], b"", "output ends with a newline")
    return [int(ID_PREFIX.match(line).group(1)) for line in lines[:-1]], lines[:-1]


def test_export_is_a_snapshot_during_ingest():
    srv = Server().start()
    producer = Producer(srv)
    producer.start()
    # A store large enough that each export overlaps several commits.
    while producer.wait_answers(producer.state()[1]) < SNAPSHOT_MIN_EVENTS:
        pass
    exports = []
    for i in range(6):
        acked_before, _ = producer.state()
        after = ["--after-id", str(acked_before // 2)] if i % 2 else []
        ids, _ = export_ids(srv.db_path, *after)
        # Everything committed while the export ran is acknowledged by the
        # end of the request that was in flight when it ended.
        _, answers = producer.state()
        acked_after = producer.wait_answers(answers)
        first = int(after[1]) + 1 if after else 1
        expect(ids, "the export is not empty")
        expect_eq(ids[0], first, f"export {i}: first id")
        expect_eq(ids, sorted(set(ids)), f"export {i}: ids increase, without duplicates")
        expect_eq(sorted(set(range(ids[0], ids[-1] + 1)) - set(ids)), [],
                  f"export {i}: ids missing between {ids[0]} and {ids[-1]}")
        expect(ids[-1] >= acked_before,
               f"export {i}: last id {ids[-1]} < {acked_before} acknowledged before it began")
        expect(ids[-1] <= acked_after,
               f"export {i}: last id {ids[-1]} > {acked_after} acknowledged after it ended")
        exports.append((len(ids), acked_before, ids[-1], acked_after))
    producer.stop()
    print(f"exports (events, acked before, last id, acked after): {exports}")
    expect(exports[-1][1] > exports[0][3],
           f"the server kept ingesting while the exports ran: {exports}")
    expect(any(last < after for _, _, last, after in exports),
           f"some export ended before the newest commits: {exports}")

    # With the server idle, the export is the journal, byte for byte.
    ids, lines = export_ids(srv.db_path)
    rows = srv.rows()
    expect_eq(ids, [r[0] for r in rows], "final export: every stored id")
    expect_eq([json.loads(line) for line in lines[:50]],
              [dict({"id": r[0]}, **json.loads(r[2])) for r in rows[:50]],
              "final export: the stored events")
    expect_eq(lines[-1], b'{"id":%d,' % rows[-1][0] + rows[-1][2].encode()[1:],
              "final export: last line")
    srv.stop()


def test_import_through_the_server():
    srv = Server().start()
    sub = Subscriber(srv.ws_url())
    with open(FIXTURE, "rb") as f:
        fixture = f.read().split(b"\n")[:-1]
    proc = subprocess.run([IMPORT, "--url", f"http://127.0.0.1:{srv.port}", "--batch", "10",
                           FIXTURE], capture_output=True, timeout=120)
    expect_eq(proc.returncode, 0, f"sentinel-import --url exit code ({proc.stderr!r})")
    expect_eq(proc.stdout, b"imported 42 events (ids 1 to 42)\n", "import summary")
    got = sub.wait_for(42)
    expect_eq([m["id"] for m in got], list(range(1, 43)), "ids sent to the subscriber")
    expect_eq([m.encode() for m in sub.raw[:42]],
              [b'{"id":%d,' % (i + 1) + line[1:] for i, line in enumerate(fixture)],
              "events sent to subscribers byte for byte")
    rows = srv.rows()
    expect_eq([r[2].encode() for r in rows], fixture, "journal bodies")

    # An export of the running server's store goes back in through the
    # server: the id prefix is dropped, ids are new, nothing else changes.
    _, lines = export_ids(srv.db_path)
    proc = subprocess.run([IMPORT, "--url", f"http://localhost:{srv.port}/"],
                          input=b"".join(line + b"\n" for line in lines),
                          capture_output=True, timeout=120)
    expect_eq(proc.returncode, 0, f"re-import exit code ({proc.stderr!r})")
    expect_eq(proc.stdout, b"imported 42 events (ids 43 to 84)\n", "re-import summary")
    rows = srv.rows()
    expect_eq([r[2] for r in rows[42:]], [r[2] for r in rows[:42]], "re-imported bodies")

    # A bad line: its number is reported from the server's answer, and its
    # batch is not stored.
    bad = fixture[:15] + [b'{"type":"agent","message":"m","timestamp":"ayer"}'] + fixture[15:25]
    proc = subprocess.run([IMPORT, "--url", f"http://127.0.0.1:{srv.port}", "--batch", "10"],
                          input=b"\n".join(bad) + b"\n", capture_output=True, timeout=120)
    err = proc.stderr.decode()
    expect_eq(proc.returncode, 1, "exit code of an import with a bad line")
    expect_in("line 16: field 'timestamp' is not a valid ISO 8601 time", err, "bad line reported")
    expect_in("the server answered 400", err, "the server's status")
    expect_in("lines 11 to 20", err, "the batch not stored")
    rows = srv.rows()
    expect_eq(len(rows), 84 + 10, "only the batch before the bad line was stored")
    expect_eq([r[2].encode() for r in rows[84:]], fixture[:10], "the batch that was stored")

    # No server: a clear error.
    port = srv.port
    srv.stop()
    proc = subprocess.run([IMPORT, "--url", f"http://127.0.0.1:{port}", FIXTURE],
                          capture_output=True, timeout=60)
    expect_eq(proc.returncode, 1, "exit code with no server")
    expect_in(b"cannot connect to 127.0.0.1:", proc.stderr, "message with no server")


if __name__ == "__main__":
    for name, value in [("SENTINEL_EXPORT", EXPORT), ("SENTINEL_IMPORT", IMPORT)]:
        if not value or not os.access(value, os.X_OK):
            print(f"{name} must name the tool's binary (got {value!r})")
            raise SystemExit(2)
    run(test_export_is_a_snapshot_during_ingest, test_import_through_the_server)
