"""Helpers for tests that run sentinel-logd-crashtest, the server built with
crashvfs (tests/vfs/crashvfs.c): a simulated power cut or an I/O error at a
moment the test chooses.

The binary is named by $SENTINEL_LOGD_CRASHTEST. Control: the environment
variable SENTINEL_CRASHVFS holds commands run at start, and on SIGUSR1 the
server runs the commands in the file named by SENTINEL_CRASHVFS_CONTROL
(Control below). A cut leaves each store file as a disk may have it after
losing power, and the process exits with CUT_EXIT.

A Ledger keeps every event the producers sent, by a unique uid in its data,
with its exact JSON text (compact, with a timestamp, so the store keeps it
byte for byte), and what the server answered: acknowledged with ids, or
not answered (in flight when the server died).
"""

import http.client
import json
import os
import signal
import sqlite3
import threading

from harness import TestFailure, expect, expect_eq

CRASHTEST = os.environ.get("SENTINEL_LOGD_CRASHTEST", "")
CUT_EXIT = 99
SCALE = float(os.environ.get("SENTINEL_TEST_SCALE", "1"))
TYPES = ["system", "agent", "monitor", "error", "config", "security"]


def need_crashtest():
    if not CRASHTEST or not os.access(CRASHTEST, os.X_OK):
        raise TestFailure(f"SENTINEL_LOGD_CRASHTEST must name the crash test build of the "
                          f"server (got {CRASHTEST!r})")


class Control:
    """The control file of one crash-test server."""

    def __init__(self, srv):
        self.srv = srv
        self.path = os.path.join(srv.dir, "crashvfs.ctl")

    def env(self, commands="nosync"):
        """Environment for the next start: commands run at start."""
        return {"SENTINEL_CRASHVFS_CONTROL": self.path, "SENTINEL_CRASHVFS": commands}

    def send(self, commands):
        """Run commands in the running server (a cut ends it)."""
        with open(self.path, "w") as f:
            f.write(commands + "\n")
        self.srv.proc.send_signal(signal.SIGUSR1)

    def cut(self, mode="drop", timeout=30):
        """Cut the power now; returns once the process is gone."""
        self.send(f"cut {mode}")
        return expect_cut(self.srv, timeout)


def expect_cut(srv, timeout=30):
    """Wait for the server to end by a cut (not by anything else)."""
    code = srv.proc.wait(timeout)
    expect_eq(code, CUT_EXIT, "exit status of the server after a power cut "
              f"(99: cut; anything else: it died on its own)")


def event_text(rng, uid, pad_max=300):
    """One event as compact JSON: the exact text the store must keep."""
    event = {"type": rng.choice(TYPES), "message": f"evento {uid} ñ 🚀",
             "timestamp": "2026-03-09T14:00:00.123456",
             "data": {"uid": uid, "n": rng.randint(-10**6, 10**6),
                      "pad": "x" * rng.randint(0, pad_max)}}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


class Ledger:
    """Every event sent, and what became of it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.text = {}       # uid -> exact text
        self.acked = {}      # id -> uid, for acknowledged events
        self.acked_at = {}   # id -> the round that acknowledged it
        self.unanswered = [] # batches (lists of uids) without an answer
        self.max_acked = 0

    def sent(self, uids, texts):
        with self.lock:
            for u, t in zip(uids, texts):
                self.text[u] = t

    def answered(self, uids, ack, round_no):
        """Record an acknowledgement; ids must be new and above all others."""
        with self.lock:
            expect_eq(ack["accepted"], len(uids), "accepted")
            expect_eq(ack["last_id"] - ack["first_id"] + 1, len(uids), "id range of a batch")
            expect(ack["first_id"] > self.max_acked,
                   f"round {round_no}: id {ack['first_id']} acknowledged, not above every id "
                   f"acknowledged before ({self.max_acked}): an id handed out again")
            for i, u in enumerate(uids):
                event_id = ack["first_id"] + i
                expect(event_id not in self.acked,
                       f"id {event_id} acknowledged twice: for {self.acked.get(event_id)} "
                       f"(round {self.acked_at.get(event_id)}) and for {u} (round {round_no})")
                self.acked[event_id] = u
                self.acked_at[event_id] = round_no

    def unanswered_batch(self, uids):
        with self.lock:
            self.unanswered.append(list(uids))

    def close_round(self):
        with self.lock:
            if self.acked:
                self.max_acked = max(self.max_acked, max(self.acked))


def post_batch(cli, rng, ledger, tag, n, pad_max=300):
    """POST one batch; returns the answer (None if the server did not answer)."""
    uids = [f"{tag}-{i}" for i in range(n)]
    texts = [event_text(rng, u, pad_max) for u in uids]
    ledger.sent(uids, texts)
    body = ("[" + ",".join(texts) + "]").encode("utf-8")
    try:
        status, ack = cli.post(body)
    except (OSError, http.client.HTTPException):
        ledger.unanswered_batch(uids)
        return uids, None
    if status != 200:
        ledger.unanswered_batch(uids)
        return uids, (status, ack)
    return uids, ack


def read_store(srv):
    """id -> (uid, body text) of every row, and PRAGMA integrity_check."""
    conn = srv.db()
    try:
        rows = {}
        for event_id, typ, body in conn.execute("SELECT id, type, body FROM journal"):
            event = json.loads(body)
            expect_eq(typ, event["type"], f"row {event_id}: type column")
            rows[event_id] = (event["data"]["uid"], body)
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        try:
            lost = conn.execute("SELECT from_id, to_id FROM lost_ids ORDER BY from_id").fetchall()
        except sqlite3.OperationalError:  # a store from before lost_ids
            lost = []
    finally:
        conn.close()
    return rows, check, lost
