#!/usr/bin/python3
"""Slow readers of GET /api/stream cost what a slow WebSocket subscriber costs.

An SSE reader and an NDJSON reader stop reading (their sockets' buffers
fill, TCP pushes back) while 500,000 events of ~300 bytes are posted: the
server's RSS grows by less than 64 MiB, a reader that keeps up receives
everything meanwhile, neither slow reader is disconnected, and once they
read again each gets every event exactly once, in order.
"""

import os
import threading
import time

from harness import HttpStream, Server, expect, expect_eq, rss_kib, run

SCALE = float(os.environ.get("SENTINEL_TEST_SCALE", "1"))
EVENTS = int(500_000 * SCALE) // 1000 * 1000
BATCH = 1000
# As in test_slow_consumer.py: ASan's allocator only allows a looser bound.
RSS_LIMIT_KIB = 64 * 1024 if SCALE >= 1 else 128 * 1024


def event(i):
    return {"type": "monitor", "message": f"Servicio nginx esta funcionando correctamente #{i}",
            "data": {"service": "nginx", "status": "running", "check": i, "detail": "x" * 150}}


class Ids:
    """The ids of a stream's events, taken line by line (SSE or NDJSON)."""

    def __init__(self, sse):
        self.sse = sse
        self.ids = []
        self.bad = []
        self.cond = threading.Condition()

    def line(self, line):
        if self.sse:
            if not line.startswith("id: "):
                return
            value = int(line[4:])
        else:
            if not line:
                return
            value = int(line[6:line.index(",")])  # {"id":N,...
        with self.cond:
            if self.ids and value != self.ids[-1] + 1:
                self.bad.append((self.ids[-1], value))
            self.ids.append(value)
            self.cond.notify_all()

    def wait(self, n, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.ids) < n and time.monotonic() < deadline:
                self.cond.wait(1)
            return len(self.ids)


def test_slow_stream_readers_are_bounded_and_catch_up():
    srv = Server("--cache-bytes", "16MiB").start()
    slow_sse, slow_nd, fast = Ids(True), Ids(False), Ids(False)
    readers = [
        HttpStream(srv.port, "/api/stream?after_id=0", {"Accept": "text/event-stream"},
                   read=False, rcvbuf=65536, on_line=slow_sse.line),
        HttpStream(srv.port, "/api/stream?after_id=0", read=False, rcvbuf=65536,
                   on_line=slow_nd.line),
        HttpStream(srv.port, "/api/stream?after_id=0", on_line=fast.line),
    ]
    time.sleep(0.3)
    base = peak = rss_kib(srv.proc.pid)
    client = srv.client()
    for b in range(EVENTS // BATCH):
        status, _ = client.post([event(b * BATCH + i) for i in range(BATCH)])
        expect_eq(status, 200, "post")
        if b % 25 == 0:
            peak = max(peak, rss_kib(srv.proc.pid))
    client.close()
    expect_eq(fast.wait(EVENTS, 240), EVENTS, "the reader that keeps up got everything")
    peak = max(peak, rss_kib(srv.proc.pid))
    print(f"server RSS: {base} KiB before, peak {peak} KiB while two readers were stalled")
    expect(peak - base < RSS_LIMIT_KIB,
           f"RSS grew by {peak - base} KiB (limit {RSS_LIMIT_KIB // 1024} MiB)")
    expect(len(slow_sse.ids) < EVENTS and len(slow_nd.ids) < EVENTS,
           "the slow readers had not read everything")

    for r in readers[:2]:
        expect(not r.closed.is_set(), "a slow reader was not disconnected")
        r.resume()
    for name, got in (("SSE", slow_sse), ("NDJSON", slow_nd)):
        expect_eq(got.wait(EVENTS, 240), EVENTS, f"slow {name} reader: number of events")
        expect_eq(got.bad, [], f"slow {name} reader: ids out of sequence")
        expect_eq((got.ids[0], got.ids[-1]), (1, EVENTS), f"slow {name} reader: first and last")
    expect_eq(fast.bad, [], "fast reader: ids out of sequence")
    for r in readers:
        expect(r.error is None, f"reader error: {r.error!r}")
        r.close()


if __name__ == "__main__":
    run(test_slow_stream_readers_are_bounded_and_catch_up)
