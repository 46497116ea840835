#!/usr/bin/python3
"""sentinel-tail: follows /ws/logs, prints each event exactly once.

The main test posts events without pause while the server is killed with
SIGKILL and restarted twice and sentinel-tail itself is stopped (SIGTERM)
and started again on its state file: its output must hold every
acknowledged event exactly once, in id order, with its content, and
nothing else but events of posts that got no answer because the server
was killed (stored all the same). The others check that --json prints
the server's messages byte for byte, the human form, --type, a URL with
its own query string, the reconnect backoff (1 s, 2 s, 4 s), a re-created
store (reset), a saved id above the store's (reset, same epoch), events
removed by retention (gap), and the command line.
SENTINEL_TAIL names the sentinel-tail binary, SENTINEL_LOGD the server.
"""

import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import (BINARY, Server, Subscriber, TestFailure, expect, expect_eq,
                     expect_in, free_port, run)

TAIL = os.environ.get("SENTINEL_TAIL", "")
TYPES = ["system", "agent", "monitor", "error", "config", "security"]
WAIT = 30.0  # generous: the suite also runs against ASan builds


class Tail:
    """A sentinel-tail process. stdout is appended to one file across restarts."""

    running = []  # of the current test, for diagnosis and cleanup

    def __init__(self, *args, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="sentinel-tail-")
        self.args = list(args)
        self.out_path = os.path.join(self.dir, "out")
        self.err_path = os.path.join(self.dir, "err")
        self.proc = None
        Tail.running.append(self)

    def start(self):
        with open(self.out_path, "ab") as out, open(self.err_path, "ab") as err:
            err.write(f"--- {' '.join([TAIL] + self.args)}\n".encode())
            err.flush()
            self.proc = subprocess.Popen([TAIL] + self.args, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        return self

    def stop(self, sig=signal.SIGTERM):
        """Signal it and return its exit code."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure(f"sentinel-tail did not exit within {WAIT}s of {sig!r}")

    def lines(self):
        with open(self.out_path, "rb") as f:
            data = f.read()
        expect(not data or data.endswith(b"\n"), "output ends with a whole line")
        return data.split(b"\n")[:-1]

    def events(self):
        return [json.loads(line) for line in self.lines()]

    def wait_lines(self, n, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if len(lines) >= n:
                return lines
            expect(self.proc.poll() is None, f"sentinel-tail exited ({self.proc.returncode})")
            time.sleep(0.02)
        raise TestFailure(f"sentinel-tail printed {len(self.lines())} lines, waited for {n}")

    def stderr_text(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    @classmethod
    def cleanup_all(cls, failed):
        for t in cls.running:
            if failed:
                print(f"--- sentinel-tail stderr ({t.err_path}):")
                for line in t.stderr_text().splitlines()[-60:]:
                    print("  " + line)
            if t.proc and t.proc.poll() is None:
                t.proc.kill()
                t.proc.wait()
            if not failed:
                shutil.rmtree(t.dir, ignore_errors=True)
        cls.running = []


def with_tails(test):
    """Print the tails' stderr when the test fails; never leave one running."""
    def wrapper():
        failed = True
        try:
            test()
            failed = False
        finally:
            Tail.cleanup_all(failed)
    wrapper.__name__ = test.__name__
    return wrapper


def tail_cmd(*args):
    return subprocess.run([TAIL, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=WAIT)


def post_ok(srv, events):
    status, ack = srv.post(events)
    expect_eq(status, 200, f"POST answer {ack}")
    return ack


def epoch_of(srv):
    status, stats = srv.request("GET", "/api/stats")
    expect_eq(status, 200, "GET /api/stats")
    return stats["epoch"]


def reference(srv, query, n):
    """The first n event texts a plain WebSocket client receives.

    The server may bind an upgrade that comes right after its start to its
    HTTP protocol, and then the connection stays silent (lws runs the
    protocol init that reads the "default" pvo from a deferred timer); a
    silent subscription is retried, since the server is not under test here.
    """
    for _ in range(5):
        sub = Subscriber(srv.ws_url() + query + "&control=1")
        try:
            sub.wait_for(1, timeout=3)
        except TestFailure:
            sub.close()
            continue
        deadline = time.monotonic() + WAIT
        while True:
            texts = [m for m in list(sub.raw) if '"control"' not in m[:12]]
            if len(texts) >= n or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        sub.close()
        expect_eq(len(texts), n, "events received by the reference subscriber")
        return texts
    raise TestFailure("no hello from the server on five subscriptions")


# ---------------------------------------------------------------- the main test

class Producer:
    """Posts numbered events in small batches until stopped; survives restarts."""

    def __init__(self, srv):
        self.srv = srv
        self.rng = random.Random(7)
        self.acked = {}      # id -> event
        self.unanswered = 0  # posts without an answer (the server was killed)
        self.unanswered_seqs = set()
        self.seq = 0
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        cli = None
        while not self.stop.is_set():
            batch = []
            for _ in range(self.rng.choice([1, 1, 3, 10, 40])):
                self.seq += 1
                batch.append({"type": self.rng.choice(TYPES),
                              "message": f"evento {self.seq} ñ 🚀",
                              "data": {"seq": self.seq}})
            try:
                if cli is None:
                    cli = self.srv.client()
                status, ack = cli.post(batch)
            except (OSError, http.client.HTTPException):
                self.unanswered += 1
                self.unanswered_seqs.update(e["data"]["seq"] for e in batch)
                if cli:
                    cli.close()
                cli = None
                time.sleep(0.02)  # the server is down: try again soon
                continue
            if status != 200:
                self.errors.append(f"status {status}: {ack!r}")
                continue
            for i, event in enumerate(batch):
                self.acked[ack["first_id"] + i] = event
            time.sleep(0.002)
        if cli:
            cli.close()


@with_tails
def test_exactly_once_through_kills_and_restarts():
    srv = Server().start()
    work = tempfile.mkdtemp(prefix="sentinel-tail-")
    state = os.path.join(work, "state.json")
    tail = Tail("--url", srv.ws_url(), "--json", "--state", state, "--since", "all", "-v",
                workdir=work).start()
    prod = Producer(srv)
    prod.thread.start()

    time.sleep(1.5)
    srv.kill9()
    srv.restart()
    time.sleep(1.5)
    expect_eq(tail.stop(), 0, "sentinel-tail exit code after SIGTERM")
    time.sleep(0.5)  # events keep coming while it is down
    tail.start()
    time.sleep(1.5)
    srv.kill9()
    srv.restart()
    time.sleep(1.5)
    prod.stop.set()
    prod.thread.join(WAIT)
    expect_eq(prod.errors, [], "producer errors")

    stored = [r[0] for r in srv.rows()]
    expect(len(prod.acked) > 1000, f"only {len(prod.acked)} events acknowledged")
    expect(set(prod.acked) <= set(stored), "every acknowledged event is stored")
    tail.wait_lines(len(stored))
    expect_eq(tail.stop(), 0, "sentinel-tail exit code after SIGTERM")

    lines = tail.lines()
    events = [json.loads(line) for line in lines]
    ids = [e["id"] for e in events]
    dups = len(ids) - len(set(ids))
    expect_eq(dups, 0, "events printed twice")
    expect(all(a < b for a, b in zip(ids, ids[1:])), "ids strictly increase")
    expect_eq(ids, stored, "printed ids = stored ids")
    expect(set(prod.acked) <= set(ids), "every acknowledged event is printed")
    for event in events:
        sent = prod.acked.get(event["id"])
        if sent is not None:
            want = dict(sent, id=event["id"], timestamp=event["timestamp"])
            expect_eq(event, want, f"event {event['id']}")
        else:
            expect_in(event["data"]["seq"], prod.unanswered_seqs,
                      f"event {event['id']}, not acknowledged, is from an unanswered post")
    with open(state) as f:
        saved = json.load(f)
    expect_eq(saved, {"epoch": epoch_of(srv), "last_id": stored[-1]}, "state file")
    err = tail.stderr_text()
    expect(err.count("info connected") >= 4,
           f"connected {err.count('info connected')} times, expected 2 starts + 2 reconnects")
    expect_in("after_id=", err, "a reconnect resumes after the last id")
    expect_in("resuming after id", err, "the second run starts from the state file")
    print(f"  {len(prod.acked)} acknowledged, {len(stored)} stored, {len(ids)} printed, "
          f"{prod.unanswered} unanswered posts")


# ---------------------------------------------------------------- output forms

def escaped(s):
    """The human form's escaping of control characters."""
    out = []
    for ch in s:
        c = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif (c < 0x20 and ch != "\t") or c == 0x7f:
            out.append(f"\\x{c:02x}")
        elif 0x80 <= c <= 0x9f:
            out.append(f"\\u{c:04x}")
        else:
            out.append(ch)
    return "".join(out)


SEED = [
    {"type": "system", "message": "Sentinel AI Iniciado (Modo API) 🚀",
     "timestamp": "2026-03-09T14:00:00.123456"},
    {"type": "error", "message": "Error critico durante la ejecucion del agente: Connection timeout",
     "timestamp": "2026-03-09T14:20:00.123456",
     "data": {"error_type": "ConnectionTimeout", "service": "postgresql"}},
    {"type": "config", "message": "Servicio 'mongodb' agregado al monitoreo.",
     "timestamp": "2026-03-09T14:25:00.123456",
     "data": {"service_name": "mongodb", "action": "added"}},
    {"type": "agent", "message": "línea 1\nlínea 2\ttab \x1b[31mrojo\x1b[0m \x9b \x7f fin"},
    {"type": "monitor", "message": "", "data": {"n": [1, 2.50, {"deep": None}]}},
    # Values jansson reads only with the server's own flags.
    {"type": "agent", "message": "nul \x00 inside", "data": {"big": 12345678901234567890123}},
]


@with_tails
def test_output_forms_type_filter_and_url_query():
    srv = Server().start()
    acks = [post_ok(srv, e) for e in SEED]
    # No path (the default /ws/logs) and a query string of its own.
    url = f"ws://127.0.0.1:{srv.port}?token=abc"
    human = Tail("--url", url, "--since", "all").start()
    js = Tail("--url", srv.ws_url(), "--since", "all", "--json").start()
    typed = Tail("--url", srv.ws_url(), "--since", "all", "--type", "error,config").start()
    live = Tail("--url", srv.ws_url(), "--json", "-v").start()
    deadline = time.monotonic() + WAIT
    while "live after id" not in live.stderr_text():
        expect(time.monotonic() < deadline, "live-only tail did not go live")
        time.sleep(0.02)
    more = {"type": "security", "message": "después de conectar"}
    post_ok(srv, more)
    raw = reference(srv, "?since=all", len(SEED) + 1)

    lines = js.wait_lines(len(raw))
    expect_eq([line.decode() for line in lines], raw, "--json lines = messages received")

    lines = human.wait_lines(len(raw))
    want = []
    for m in raw:
        e = json.loads(m)
        want.append(f"[{e['timestamp']}] [{e['type']}] {escaped(e['message'])}")
    expect_eq([line.decode() for line in lines], want, "human lines")
    expect_eq(human.stop(signal.SIGINT), 0, "exit code after SIGINT")

    lines = typed.wait_lines(2)
    time.sleep(0.2)
    got = [json.loads(m) for m in raw]
    expect_eq([line.decode() for line in typed.lines()],
              [f"[{e['timestamp']}] [{e['type']}] {e['message']}" for e in got
               if e["type"] in ("error", "config")], "--type error,config")

    lines = live.wait_lines(1)
    time.sleep(0.2)
    expect_eq([json.loads(line)["id"] for line in live.lines()], [acks[-1]["last_id"] + 1],
              "without --since or a state: only events from now on")
    for t in (js, typed, live):
        expect_eq(t.stop(), 0, "exit code after SIGTERM")


# ---------------------------------------------------------------- reconnects

@with_tails
def test_backoff_then_live_only_resume_without_state():
    port = free_port()
    tail = Tail("--url", f"ws://127.0.0.1:{port}/ws/logs", "--json", "-v").start()
    time.sleep(3.5)  # attempts at 0, 1 and 3 s fail; the next is due at 7 s
    srv = Server(port=port).start()
    deadline = time.monotonic() + WAIT
    while "live after id" not in tail.stderr_text():
        expect(time.monotonic() < deadline, "no connection after the server started")
        time.sleep(0.05)
    times = []
    for line in tail.stderr_text().splitlines():
        if " info connecting to " in line:
            stamp = line.split()[0]
            t = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
            times.append(time.mktime(t) + float("0" + stamp[19:-1]))
    gaps = [round(b - a, 2) for a, b in zip(times, times[1:])]
    expect(len(gaps) >= 3 and all(abs(g - w) < 0.35 for g, w in zip(gaps, [1, 2, 4])),
           f"waits between the first attempts {gaps}, expected [1, 2, 4]")

    # Without a state file it still resumes: events posted while the server
    # is down or restarting are printed once.
    ack1 = post_ok(srv, [{"type": "agent", "message": f"a{i}"} for i in range(3)])
    tail.wait_lines(3)
    srv.kill9()
    srv.restart()
    ack2 = post_ok(srv, [{"type": "agent", "message": f"b{i}"} for i in range(3)])
    tail.wait_lines(6)
    time.sleep(1.5)  # the reconnect after a working connection waits 1 s again
    # (After the kill, ids go on above the block the server had reserved.)
    expect_eq([e["id"] for e in tail.events()],
              list(range(ack1["first_id"], ack1["last_id"] + 1)) +
              list(range(ack2["first_id"], ack2["last_id"] + 1)), "ids printed")
    expect_in("reconnecting in 1 s", tail.stderr_text().split("live after id")[1],
              "the wait is reset after a successful connection")
    expect_eq(tail.stop(), 0, "exit code after SIGTERM")


@with_tails
def test_reset_and_gap_notices():
    srv = Server().start()
    post_ok(srv, [{"type": "agent", "message": f"old {i}"} for i in range(10)])
    epoch = epoch_of(srv)
    work = tempfile.mkdtemp(prefix="sentinel-tail-")
    state = os.path.join(work, "state.json")
    with open(state, "w") as f:
        json.dump({"epoch": epoch, "last_id": 2}, f)

    # Retention removes ids 1..6 while the tail is away: it is told, on stderr.
    srv.stop()
    out = subprocess.run([BINARY, "compact", "--db", srv.db_path, "--retain-events", "4"],
                         capture_output=True, timeout=WAIT)
    expect_eq(out.returncode, 0, f"sentinel-logd compact: {out.stderr!r}")
    srv.restart()
    tail = Tail("--url", srv.ws_url(), "--json", "--state", state, workdir=work).start()
    tail.wait_lines(4)
    expect_eq([e["id"] for e in tail.events()], [7, 8, 9, 10], "events after the gap")
    expect_in("events 3 to 6 are gone from the server (retention)", tail.stderr_text(),
              "gap notice")
    expect_eq(tail.stop(), 0, "exit code")

    # A new store on the same address: the saved id means nothing there.
    srv.stop()
    srv2 = Server(port=srv.port).start()
    post_ok(srv2, [{"type": "agent", "message": f"new {i}"} for i in range(2)])
    epoch2 = epoch_of(srv2)
    tail.start()
    tail.wait_lines(6)
    expect_eq([e["id"] for e in tail.events()], [7, 8, 9, 10, 1, 2],
              "the new store from its oldest event")
    expect_in(f"the server's store was re-created (epoch {epoch2}, was {epoch})",
              tail.stderr_text(), "reset notice")
    expect_eq(tail.stop(), 0, "exit code")
    with open(state) as f:
        expect_eq(json.load(f), {"epoch": epoch2, "last_id": 2}, "state file")


@with_tails
def test_saved_id_above_the_store():
    # A state file ahead of the store (same epoch): the server answers
    # "reset" and the tail follows the store from its oldest event.
    srv = Server().start()
    post_ok(srv, [{"type": "agent", "message": f"e {i}"} for i in range(3)])
    work = tempfile.mkdtemp(prefix="sentinel-tail-")
    state = os.path.join(work, "state.json")
    with open(state, "w") as f:
        json.dump({"epoch": epoch_of(srv), "last_id": 1000}, f)
    tail = Tail("--url", srv.ws_url(), "--json", "--state", state, workdir=work).start()
    tail.wait_lines(3)
    post_ok(srv, [{"type": "agent", "message": "after"}])
    tail.wait_lines(4)
    expect_eq([e["id"] for e in tail.events()], [1, 2, 3, 4], "the store from its oldest event")
    expect_in("the server's store has no id as high as 1000", tail.stderr_text(), "the notice")
    expect_eq(tail.stop(), 0, "exit code")


@with_tails
def test_token_in_url_and_refusals():
    work = tempfile.mkdtemp(prefix="sentinel-tail-")
    tokens = os.path.join(work, "tokens")
    with open(tokens, "w") as f:
        f.write("reader-token-1 subscribe\nwriter-token-1 publish\n")
    srv = Server("--token-file", tokens).start()
    status, ack = srv.request("POST", "/api/events", body=b'{"type":"a","message":"m"}',
                              headers={"Content-Type": "application/json",
                                       "Authorization": "Bearer writer-token-1"})
    expect_eq(status, 200, f"POST with the publish token: {ack}")
    for query, code in (("", 401), ("?token=writer-token-1", 403)):
        r = tail_cmd("--url", srv.ws_url() + query)
        expect_eq(r.returncode, 1, f"exit code when refused with {code}")
        expect_in(f"HTTP {code}", r.stderr.decode(), "the refusal is reported")
    tail = Tail("--url", srv.ws_url() + "?token=reader-token-1", "--since", "all", "-v",
                workdir=work).start()
    stamp = json.loads(srv.rows()[0][2])["timestamp"]
    expect_eq(tail.wait_lines(1), [f"[{stamp}] [a] m".encode()], "events with the token")
    logged = [line for line in tail.stderr_text().splitlines() if not line.startswith("--- ")]
    expect_in("?token=***&", "\n".join(logged), "the token is hidden in the log")
    expect(not any("reader-token-1" in line for line in logged), "the token is not logged")
    expect_eq(tail.stop(), 0, "exit code")


# ---------------------------------------------------------------- the command line

def test_command_line():
    r = tail_cmd("--help")
    expect_eq(r.returncode, 0, "--help exit code")
    for flag in ("--url", "--state", "--since", "--type", "--json", "--verbose", "--help",
                 "--version"):
        expect_in(flag, r.stdout.decode(), "--help lists every flag")
    r = tail_cmd("--version")
    expect_eq((r.returncode, r.stdout.decode().split()[0]), (0, "sentinel-tail"), "--version")
    bad = [
        (["--bogus"], "unknown option"),
        (["--url"], "needs a value"),
        (["extra"], "unexpected argument"),
        (["--url", "http://127.0.0.1:8000/ws/logs"], "ws://"),
        (["--url", "127.0.0.1:8000"], "ws://"),
        (["--url", "ws://127.0.0.1:99999/ws/logs"], "port"),
        (["--url", "ws://::1/ws/logs"], "brackets"),
        (["--url", "ws://127.0.0.1:8000/ws/logs?after_id=5"], "after_id"),
        (["--url", "ws://bad host/"], "host"),
        (["--since", "yesterday"], "since"),
        (["--type", "no spaces"], "type"),
        (["--state", ""], "state"),
    ]
    for args, needle in bad:
        r = tail_cmd(*args)
        expect_eq(r.returncode, 2, f"exit code for {args}")
        expect_in(needle, r.stderr.decode(), f"message for {args}")
    with tempfile.TemporaryDirectory(prefix="sentinel-tail-") as work:
        state = os.path.join(work, "state.json")
        with open(state, "w") as f:
            f.write("not json\n")
        r = tail_cmd("--state", state)
        expect_eq(r.returncode, 1, "exit code for a file that is not a state file")
        expect_in("not a sentinel-tail state file", r.stderr.decode(), "message")
        r = tail_cmd("--state", os.path.join(work, "no", "such", "dir", "state.json"))
        expect_eq(r.returncode, 1, "exit code for a state file that cannot be written")
        expect_in("cannot write the state file", r.stderr.decode(), "message")


if __name__ == "__main__":
    if not TAIL or not os.access(TAIL, os.X_OK):
        print(f"SENTINEL_TAIL must name the sentinel-tail binary (got {TAIL!r})")
        raise SystemExit(2)
    run(test_command_line,
        test_exactly_once_through_kills_and_restarts,
        test_output_forms_type_filter_and_url_query,
        test_backoff_then_live_only_resume_without_state,
        test_reset_and_gap_notices,
        test_saved_id_above_the_store,
        test_token_in_url_and_refusals)
