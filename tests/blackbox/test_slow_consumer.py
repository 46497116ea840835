"""A subscriber that stops reading never makes the server buffer for it:
while it is stalled 500,000 events of ~300 bytes are posted, the server's RSS
grows by less than 64 MiB, another subscriber keeps receiving, and when the
slow one reads again it gets every event in order."""

import asyncio
import json
import os
import threading
import time

import websockets

from harness import Server, Subscriber, expect, expect_eq, rss_kib, run

# 500,000 events; a fraction of that under the sanitizers (CMakeLists.txt).
SCALE = float(os.environ.get("SENTINEL_TEST_SCALE", "1"))
EVENTS = int(500_000 * SCALE) // 1000 * 1000
BATCH = 1000
# The bound on the server's memory growth. ASan's allocator keeps redzones
# and freed blocks, so the bound there is looser and only catches runaway
# growth; the release run holds the real one.
RSS_LIMIT_KIB = 64 * 1024 if SCALE >= 1 else 128 * 1024


def event(i):
    # ~300 bytes as stored
    return {"type": "monitor", "message": f"Servicio nginx esta funcionando correctamente #{i}",
            "data": {"service": "nginx", "status": "running", "check": i,
                     "detail": "x" * 150}}


class SlowReader:
    """Connects, then reads nothing until resume(); then reads to the end."""

    def __init__(self, url):
        self.url = url
        self.ids = []
        self.go = threading.Event()
        self.opened = threading.Event()
        self.done = threading.Event()
        self.error = None
        threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True).start()
        expect(self.opened.wait(30), "slow reader connected")

    async def _main(self):
        try:
            # A small queue and read limit: once they are full this client
            # stops reading the socket, and TCP pushes back on the server.
            async with websockets.connect(self.url, max_queue=4, read_limit=2 ** 16,
                                          ping_interval=None, max_size=None) as ws:
                self.opened.set()
                while not self.go.is_set():
                    await asyncio.sleep(0.05)
                while len(self.ids) < EVENTS:
                    self.ids.append(json.loads(await asyncio.wait_for(ws.recv(), 60))["id"])
        except Exception as e:  # noqa: BLE001 - checked by the test
            self.error = e
        finally:
            self.opened.set()
            self.done.set()


def test_slow_consumer_is_bounded_and_catches_up():
    # A small live cache, so that the memory measured is what the server
    # would buffer for the stalled client, not the cache's fixed size. The
    # stalled client answers no ping while it does not read: a long idle
    # timeout keeps a slow machine's ingest from outlasting it.
    srv = Server("--cache-bytes", "16MiB", "--idle-timeout", "900").start()
    slow = SlowReader(srv.ws_url())
    fast = Subscriber(srv.ws_url())
    time.sleep(0.3)
    base = rss_kib(srv.proc.pid)
    peak = base
    client = srv.client()
    for b in range(EVENTS // BATCH):
        status, ack = client.post([event(b * BATCH + i) for i in range(BATCH)])
        expect_eq(status, 200, "post")
        if b % 25 == 0:
            peak = max(peak, rss_kib(srv.proc.pid))
    client.close()
    fast_msgs = fast.wait_for(EVENTS, timeout=240)
    peak = max(peak, rss_kib(srv.proc.pid))
    print(f"server RSS: {base} KiB before, peak {peak} KiB while one subscriber was stalled")
    expect(peak - base < RSS_LIMIT_KIB,
           f"RSS grew by {peak - base} KiB (limit {RSS_LIMIT_KIB // 1024} MiB)")
    expect_eq([m["id"] for m in fast_msgs[:3]], [1, 2, 3], "the other subscriber kept receiving")
    expect_eq(fast_msgs[-1]["id"], EVENTS, "the other subscriber got everything")

    slow.go.set()
    expect(slow.done.wait(240), "the slow subscriber caught up")
    expect(slow.error is None, f"slow reader error: {slow.error!r}")
    expect_eq(len(slow.ids), EVENTS, "slow subscriber: number of events")
    expect(slow.ids == list(range(1, EVENTS + 1)), "slow subscriber: every id once, in order")
    fast.close()


if __name__ == "__main__":
    run(test_slow_consumer_is_bounded_and_catches_up)
