#!/usr/bin/python3
"""Hostile clients: slow consumers, slow requests, idle connections, limits.

- Slowloris: hundreds of sockets send a request header one byte a second
  and never finish it (plain HTTP and WebSocket upgrades). The server keeps
  answering others, and closes each unfinished handshake within its
  handshake timeout (10 s by default) plus a little.
- Slow POST bodies: a complete header announces 1 MB, then the body comes
  a byte a second. Others are still served; the server must close such a
  request within a bound (here three handshake timeouts).
- Subscribers that connect to /ws/logs and never read while events flow:
  the server's RSS stays bounded (no per-client queue), and others' POST +
  live delivery round trip stays short.
- 2,000 idle WebSocket subscribers (the test raises RLIMIT_NOFILE for the
  server, which inherits it): the RSS per connection is reported and
  bounded, one event reaches all of them, others stay responsive, and the
  server's descriptors come back down once they leave.

Each test prints what it measured (close times, RSS, KiB per connection,
round trips). Under AddressSanitizer the RSS bounds are not checked (its
allocator keeps freed memory in quarantine).
"""

import base64
import json
import os
import resource
import selectors
import socket
import statistics
import threading
import time

from harness import HOST, Server, Subscriber, TestFailure, expect, expect_eq, rss_kib, run

# A normal POST plus its live delivery must stay under this while under attack.
ROUNDTRIP_LIMIT = 3.0
HANDSHAKE_TIMEOUT = 10.0  # the server's default --handshake-timeout
HANDSHAKE_SLACK = 5.0     # lws checks its timeouts about once a second

SLOWLORIS_SOCKETS = 300
SLOW_BODIES = 50
NEVER_READING = 20
IDLE_CONNECTIONS = 2000


# ---------------------------------------------------------------- helpers

def sanitized(pid):
    """True for an AddressSanitizer build, whose RSS says nothing about ours."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Probe:
    """A normal client: POSTs on new connections, and their live delivery timed.

    Its subscriber asks for type=probe only, so that the time measured is
    the server's, not this client's reading of everything else; it starts
    once its hello arrived.
    """

    def __init__(self, srv):
        self.srv = srv
        self.n = 0
        self.times = []
        self.sub = Subscriber(srv.ws_url("/ws/logs?type=probe&control=1"))
        self.sub.wait_for(1, timeout=10)  # the hello
        self.seen = 1

    def roundtrip(self, limit=30.0):
        """POST one event on a new connection; seconds until the subscriber has it."""
        self.n += 1
        marker = f"probe-{self.n}"
        t0 = time.monotonic()
        status, ack = self.srv.request(
            "POST", "/api/events",
            body=json.dumps({"type": "probe", "message": marker}).encode(),
            headers={"Content-Type": "application/json"}, timeout=limit)
        expect_eq(status, 200, f"{marker}: POST status")
        deadline = t0 + limit
        found = False
        while not found and time.monotonic() < deadline:
            with self.sub.cond:
                new = self.sub.raw[self.seen:]
                self.seen += len(new)
                if not new:
                    self.sub.cond.wait(0.05)
            found = any(json.loads(m).get("message") == marker for m in new)
        if not found:
            raise TestFailure(f"{marker}: not delivered within {limit} s")
        dt = time.monotonic() - t0
        self.times.append(dt)
        return dt

    def report(self, what):
        if self.times:
            print(f"  {what}: {len(self.times)} round trips, median "
                  f"{statistics.median(self.times) * 1000:.1f} ms, max "
                  f"{max(self.times) * 1000:.1f} ms")

    def close(self):
        self.sub.close()


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def ws_connect(port, path="/ws/logs", rcvbuf=None, timeout=10.0):
    """A raw WebSocket handshake; returns the socket (never read again unless asked)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((HOST, port))
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {ws_key()}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)  # byte by byte: leave any frame after the head unread
        if not chunk:
            raise TestFailure(f"{path}: closed during the handshake: {head!r}")
        head += chunk
        expect(len(head) < 4096, "handshake answer too long")
    expect(head.startswith(b"HTTP/1.1 101"), f"{path}: handshake answer {head[:80]!r}")
    return s


# ---------------------------------------------------------------- slowloris

class Slowloris:
    """Sockets that each send one more byte a second, never finishing.

    mode "head": the request header is dribbled (half plain HTTP POSTs, half
    WebSocket upgrades to /ws/logs); mode "body": a complete POST header
    announces a 1 MB body, which is dribbled. Runs in a thread for at most
    `duration` seconds; records when the server closed each socket (seconds
    after connect), or None if it never did.
    """

    def __init__(self, port, count, duration, mode="head"):
        self.port, self.count, self.duration, self.mode = port, count, duration, mode
        self.closed_after = {}
        self.opened = 0
        self.refused = 0
        self.stop = threading.Event()
        self.ready = threading.Event()  # every socket connected
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _request(self, i):
        """(bytes sent at once, bytes dribbled)."""
        if self.mode == "body":
            return (f"POST /api/events HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: "
                    "application/json\r\nContent-Length: 1000000\r\n\r\n").encode(), b"[" * 4000
        if i % 2:
            head = (f"GET /ws/logs HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {ws_key()}\r\n")
        else:
            head = f"POST /api/events HTTP/1.1\r\nHost: {HOST}\r\n"
        return b"", (head + "X-Slow: " + "a" * 4000).encode()

    def _run(self):
        sel = selectors.DefaultSelector()
        socks = {}
        t0 = time.monotonic()
        for i in range(self.count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.connect((HOST, self.port))
            except OSError:
                self.refused += 1
                s.close()
                continue
            first, dribble = self._request(i)
            if first:
                s.sendall(first)
            s.setblocking(False)
            socks[s] = [dribble, 0, time.monotonic()]
            sel.register(s, selectors.EVENT_READ)
        self.opened = len(socks)
        self.ready.set()
        next_byte = time.monotonic()
        while socks and not self.stop.is_set() and time.monotonic() - t0 < self.duration:
            now = time.monotonic()
            if now >= next_byte:
                for s, st in list(socks.items()):
                    try:
                        s.send(st[0][st[1]:st[1] + 1])
                        st[1] += 1
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self._closed(sel, socks, s)
                next_byte = now + 1.0
            for key, _ in sel.select(timeout=max(0.0, min(0.2, next_byte - time.monotonic()))):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:  # closed by the server (an answer first is fine)
                    self._closed(sel, socks, s)
        for s, st in socks.items():
            self.closed_after.setdefault(id(s), None)
            s.close()
        sel.close()

    def _closed(self, sel, socks, s):
        st = socks.pop(s)
        self.closed_after[id(s)] = time.monotonic() - st[2]
        sel.unregister(s)
        s.close()

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join(self.duration + 30)
        expect(not self.thread.is_alive(), "the slowloris thread is stuck")


def test_slowloris_handshakes():
    srv = Server().start()
    probe = Probe(srv)
    base = [probe.roundtrip() for _ in range(5)]
    print(f"  baseline round trip: max {max(base) * 1000:.1f} ms")
    probe.times.clear()
    fds0 = fd_count(srv.proc.pid)
    duration = HANDSHAKE_TIMEOUT + HANDSHAKE_SLACK + 5
    attack = Slowloris(srv.port, SLOWLORIS_SOCKETS, duration).start()
    expect(attack.ready.wait(30), "the slowloris sockets did not connect")
    t0 = time.monotonic()
    time.sleep(0.5)
    peak_fds = fd_count(srv.proc.pid)
    # Others are served while the attack holds its sockets open.
    for _ in range(100):
        if time.monotonic() - t0 > HANDSHAKE_TIMEOUT or not attack.thread.is_alive():
            break
        probe.roundtrip()
        time.sleep(0.5)
    probe.report(f"during {SLOWLORIS_SOCKETS} slowloris sockets")
    attack.join()
    closed = [t for t in attack.closed_after.values() if t is not None]
    never = len(attack.closed_after) - len(closed)
    if closed:
        print(f"  {attack.opened} slowloris sockets ({attack.refused} refused at connect): "
              f"{len(closed)} closed by the server after {min(closed):.1f}-{max(closed):.1f} s "
              f"(median {statistics.median(closed):.1f} s), {never} still open after "
              f"{duration:.0f} s; server fds {fds0} -> {peak_fds}")
    else:
        print(f"  {attack.opened} slowloris sockets: none closed by the server within "
              f"{duration:.0f} s; server fds {fds0} -> {peak_fds}")
    expect(srv.running(), "the server died under the slowloris sockets")
    expect_eq(never, 0, f"unfinished handshakes still open after {duration:.0f} s")
    expect(max(closed) <= HANDSHAKE_TIMEOUT + HANDSHAKE_SLACK,
           f"an unfinished handshake was closed only after {max(closed):.1f} s "
           f"(handshake timeout {HANDSHAKE_TIMEOUT:.0f} s)")
    expect(max(probe.times) < ROUNDTRIP_LIMIT,
           f"a normal POST + delivery took {max(probe.times):.2f} s during the attack")
    expect(probe.roundtrip() < ROUNDTRIP_LIMIT, "round trip after the attack")
    probe.close()
    srv.stop()


def test_slow_post_bodies():
    # A request whose body trickles in is an unfinished request too: it holds
    # a connection and a buffer of its Content-Length for as long as it lasts.
    srv = Server().start()
    probe = Probe(srv)
    probe.roundtrip()
    probe.times.clear()
    limit = 3 * HANDSHAKE_TIMEOUT
    attack = Slowloris(srv.port, SLOW_BODIES, limit + HANDSHAKE_SLACK, mode="body").start()
    expect(attack.ready.wait(30), "the slow-body sockets did not connect")
    t0 = time.monotonic()
    for _ in range(100):
        if time.monotonic() - t0 > HANDSHAKE_TIMEOUT or not attack.thread.is_alive():
            break
        probe.roundtrip()
        time.sleep(0.5)
    probe.report(f"during {SLOW_BODIES} slow POST bodies")
    rss = rss_kib(srv.proc.pid)
    attack.join()
    closed = [t for t in attack.closed_after.values() if t is not None]
    never = len(attack.closed_after) - len(closed)
    print(f"  {attack.opened} POSTs announcing 1 MB bodies sent a byte a second: "
          f"{len(closed)} closed by the server"
          + (f" after {min(closed):.1f}-{max(closed):.1f} s" if closed else "")
          + f", {never} still open after {limit + HANDSHAKE_SLACK:.0f} s; RSS {rss} KiB")
    expect(srv.running(), "the server died under the slow bodies")
    expect(max(probe.times) < ROUNDTRIP_LIMIT,
           f"a normal POST + delivery took {max(probe.times):.2f} s during the slow bodies")
    expect_eq(never, 0, f"POSTs whose body trickles in still open after "
              f"{limit + HANDSHAKE_SLACK:.0f} s (no request or body timeout)")
    probe.close()
    srv.stop()


# ---------------------------------------------------------------- never-reading subscribers

def test_subscribers_that_never_read():
    # A small live cache, so that its bound does not hide a per-client one.
    srv = Server("--cache-bytes", "8MiB").start()
    probe = Probe(srv)
    probe.roundtrip()
    events, batch_size, pad = 100_000, 1000, "x" * 200
    cli = srv.client()
    # Fill the live cache first, so that its memory is in the baseline.
    for b in range(events // batch_size // 2):
        status, _ = cli.post([{"type": "monitor", "message": f"antes {b}-{i}",
                               "data": {"pad": pad}} for i in range(batch_size)])
        expect_eq(status, 200, f"batch {b} before")
    time.sleep(0.5)
    rss0 = rss_kib(srv.proc.pid)
    stuck = [ws_connect(srv.port, rcvbuf=4096) for _ in range(NEVER_READING)]
    t0 = time.monotonic()
    for b in range(events // batch_size):
        status, _ = cli.post([{"type": "monitor", "message": f"flujo {b}-{i}",
                               "data": {"pad": pad}} for i in range(batch_size)])
        expect_eq(status, 200, f"batch {b}")
        if b % 10 == 0:
            probe.roundtrip()
    cli.close()
    secs = time.monotonic() - t0
    probe.roundtrip()
    time.sleep(0.5)
    rss1 = rss_kib(srv.proc.pid)
    probe.report(f"while {NEVER_READING} subscribers never read")
    print(f"  {events} events (~{events * 260 >> 20} MiB) in {secs:.1f} s past {NEVER_READING} "
          f"subscribers that never read: RSS {rss0} -> {rss1} KiB "
          f"(+{(rss1 - rss0) / NEVER_READING:.0f} KiB per stuck subscriber; the live cache "
          f"was full before)")
    expect(sanitized(srv.proc.pid) or rss1 - rss0 < NEVER_READING * 256,
           f"RSS grew by {rss1 - rss0} KiB with {NEVER_READING} stuck subscribers "
           f"(more than 256 KiB each)")
    expect(max(probe.times) < ROUNDTRIP_LIMIT,
           f"a normal POST + delivery took {max(probe.times):.2f} s")
    # Still connected (the server never drops a subscriber for being slow),
    # and what they were sent is the start of the feed.
    s = stuck[0]
    s.settimeout(10)
    first = s.recv(2)
    expect(len(first) == 2 and first[0] == 0x81, f"a stuck subscriber's first frame: {first!r}")
    for s in stuck:
        s.close()
    probe.close()
    srv.stop()


# ---------------------------------------------------------------- 2,000 idle connections

def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def read_frame_text(s, deadline):
    """Read one unmasked server text frame from a blocking socket."""
    def need(n):
        buf = b""
        while len(buf) < n:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise TestFailure("closed")
            buf += chunk
        return buf
    b0, b1 = need(2)
    n = b1 & 0x7f
    if n == 126:
        n = int.from_bytes(need(2), "big")
    elif n == 127:
        n = int.from_bytes(need(8), "big")
    expect_eq(b0, 0x81, "a text frame")
    return need(n).decode()


def test_idle_connections():
    limit = raise_nofile(IDLE_CONNECTIONS * 2 + 512)
    expect(limit >= IDLE_CONNECTIONS + 256, f"RLIMIT_NOFILE is only {limit}")
    srv = Server().start()  # inherits the raised limit
    probe = Probe(srv)
    probe.roundtrip()
    time.sleep(0.3)
    rss0, fds0 = rss_kib(srv.proc.pid), fd_count(srv.proc.pid)
    t0 = time.monotonic()
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(ws_connect(srv.port))
        t_open = time.monotonic() - t0
        probes_before = len(probe.times)
        time.sleep(0.5)
        rss1, fds1 = rss_kib(srv.proc.pid), fd_count(srv.proc.pid)
        per = (rss1 - rss0) / IDLE_CONNECTIONS
        print(f"  {IDLE_CONNECTIONS} idle subscribers opened in {t_open:.1f} s: RSS {rss0} -> "
              f"{rss1} KiB = {per:.1f} KiB per connection (target 16); fds {fds0} -> {fds1}")
        expect(fds1 - fds0 >= IDLE_CONNECTIONS, f"server fds {fds0} -> {fds1}")
        expect(sanitized(srv.proc.pid) or per <= 64,
               f"{per:.1f} KiB of RSS per idle connection")
        for _ in range(5):
            probe.roundtrip()
        probe.report(f"with {IDLE_CONNECTIONS} idle subscribers")
        expect(max(probe.times) < ROUNDTRIP_LIMIT,
               f"a normal POST + delivery took {max(probe.times):.2f} s")
        # One more event reaches every one of them, after the probes' events.
        status, ack = srv.post({"type": "system", "message": "a todos"})
        expect_eq(status, 200, "post")
        deadline = time.monotonic() + 60
        missing = 0
        for s in idle:
            try:
                for _ in range(len(probe.times) - probes_before + 1):
                    last = json.loads(read_frame_text(s, deadline))
                if last["id"] != ack["first_id"]:
                    missing += 1
            except (OSError, TestFailure):
                missing += 1
        expect_eq(missing, 0, f"idle subscribers without the event {ack['first_id']}")
    finally:
        for s in idle:
            s.close()
    # Their descriptors and memory are given back.
    deadline = time.monotonic() + 20
    while fd_count(srv.proc.pid) > fds0 + 8 and time.monotonic() < deadline:
        time.sleep(0.2)
    fds2, rss2 = fd_count(srv.proc.pid), rss_kib(srv.proc.pid)
    print(f"  after they left: fds {fds2}, RSS {rss2} KiB")
    expect(fds2 <= fds0 + 8, f"server fds {fds0} before, {fds2} after the clients left")
    expect(probe.roundtrip() < ROUNDTRIP_LIMIT, "round trip after the idle clients left")
    probe.close()
    srv.stop()


if __name__ == "__main__":
    run(test_slowloris_handshakes, test_slow_post_bodies, test_subscribers_that_never_read, test_idle_connections)
