#!/usr/bin/python3
"""The Sentinel AI clients (the original WebSocket log endpoint's examples) work unchanged.

- The seed's Python LogAggregator, filtering on 'error' and 'system',
  receives exactly the posted events of those types, in order, with ids,
  and ends cleanly when the server stops.
- The seed's JavaScript client (tests/js/seed_client.js basic, with the
  `ws` package) receives every posted event in order with ids.
- The seed's reconnecting LogStreamClient (seed_client.js reconnect)
  reconnects after the server is stopped and started again on the same
  port and store (and after a kill -9), and keeps receiving new events.
"""

import asyncio
import io
import json
import os
import queue
import subprocess
import sys
import threading
import time

import websockets

from harness import Server, Subscriber, expect, expect_eq, ids_of, run, with_id

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_CLIENT_JS = os.path.join(HERE, "..", "js", "seed_client.js")
NODE = os.environ.get("NODE", "node")


# ---- The seed's LogAggregator, its class body copied unchanged. -----------

class LogAggregator:
    def __init__(self, uri="ws://localhost:8000/ws/logs"):
        self.uri = uri
        self.logs = []
        self.filters = set()

    def add_filter(self, event_type):
        """Only show logs of specific types"""
        self.filters.add(event_type)

    async def connect(self):
        async with websockets.connect(self.uri) as websocket:
            print(f"Connected to {self.uri}")
            try:
                async for message in websocket:
                    log_event = json.loads(message)

                    # Apply filters
                    if self.filters and log_event['type'] not in self.filters:
                        continue

                    # Store log
                    self.logs.append(log_event)

                    # Display log
                    timestamp = log_event.get('timestamp', '')
                    log_type = log_event['type']
                    message = log_event['message']
                    print(f"[{timestamp}] [{log_type}] {message}")
            except websockets.exceptions.ConnectionClosed:
                print("Connection closed")

    def get_logs(self, event_type=None):
        """Retrieve stored logs"""
        if event_type:
            return [log for log in self.logs if log['type'] == event_type]
        return self.logs

# ---------------------------------------------------------------------------


class Tee(io.TextIOBase):
    """Copy stdout and remember what was printed."""

    def __init__(self, out):
        self.out, self.text = out, ""

    def write(self, s):
        self.text += s
        return self.out.write(s)

    def flush(self):
        self.out.flush()


def mixed_events(tag, n):
    types = ["system", "agent", "error", "monitor", "config", "system", "security", "error"]
    out = []
    for i in range(n):
        e = {"type": types[i % len(types)], "message": f"{tag} {i}: Diagnosticando ñ 🚀"}
        if i % 3 == 0:
            e["data"] = {"i": i, "service": "postgresql"}
        if i % 2 == 0:
            e["timestamp"] = f"2026-03-09T14:{i % 60:02d}:00.123456"
        out.append(e)
    return out


def post_all(srv, batches):
    """Post each batch; return [(event, id)] in id order."""
    out = []
    for batch, ctype in batches:
        body = batch if ctype == "application/json" else \
            "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in batch)
        status, ack = srv.post(body, ctype)
        expect_eq(status, 200, f"post (answer {ack!r})")
        out += list(zip(batch, ids_of(ack)))
    return out


def expected_events(posted, received):
    """The posted events as they must come back: plus id, plus any ingest timestamp."""
    out = []
    for (event, event_id), got in zip(posted, received):
        e = dict(event)
        if "timestamp" not in e:
            e["timestamp"] = got.get("timestamp")
            expect(isinstance(e["timestamp"], str) and e["timestamp"].endswith("Z"),
                   f"ingest timestamp of event {event_id}: {e['timestamp']!r}")
        out.append(with_id(e, event_id))
    return out


def test_python_log_aggregator():
    srv = Server().start()
    events = mixed_events("agg", 40)
    tee = Tee(sys.stdout)

    async def scenario():
        aggregator = LogAggregator(uri=srv.ws_url())
        aggregator.add_filter('error')   # Only show errors
        aggregator.add_filter('system')  # And system events
        task = asyncio.create_task(aggregator.connect())
        deadline = time.monotonic() + 30
        while "Connected to" not in tee.text:
            expect(time.monotonic() < deadline and not task.done(), "the aggregator did not connect")
            await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()
        posted = await loop.run_in_executor(None, post_all, srv, [
            (events[:10], "application/json"), (events[10:11], "application/json"),
            (events[11:25], "application/x-ndjson"), (events[25:], "application/json")])
        want = [(e, i) for e, i in posted if e["type"] in ("error", "system")]
        while len(aggregator.logs) < len(want):
            expect(time.monotonic() < deadline and not task.done(),
                   f"the aggregator got {len(aggregator.logs)} of {len(want)} events")
            await asyncio.sleep(0.01)
        # Stopping the server ends the seed's connect() without an exception.
        await loop.run_in_executor(None, srv.stop)
        await asyncio.wait_for(task, 30)
        return aggregator, want

    old = sys.stdout
    sys.stdout = tee
    try:
        aggregator, want = asyncio.run(scenario())
    finally:
        sys.stdout = old
    expected = expected_events(want, aggregator.logs)
    expect_eq(aggregator.logs, expected, "events kept by the LogAggregator")
    expect_eq(aggregator.get_logs('error'), [e for e in expected if e["type"] == "error"],
              "get_logs('error')")
    expect_eq(len(aggregator.get_logs('system')), 10, "system events among the 40")
    for e in expected:
        line = f"[{e['timestamp']}] [{e['type']}] {e['message']}"
        expect(line in tee.text, f"the aggregator did not print {line!r}")


class Node:
    """seed_client.js in a child process, its report lines in a queue."""

    def __init__(self, mode, url):
        self.proc = subprocess.Popen([NODE, SEED_CLIENT_JS, mode, url], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.output.append(line)
            if line.startswith("@@ "):
                self.lines.put(json.loads(line[3:]))
        self.lines.put(None)

    def next(self, key, timeout=40):
        """The next report; it must be of kind key."""
        try:
            msg = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"node: no '{key}' report within {timeout}s; "
                                 f"output: {self.output[-20:]}")
        expect(msg is not None and key in msg,
               f"node: expected a '{key}' report, got {msg!r}; output: {self.output[-20:]}")
        return msg[key]

    def reopened(self, srv, timeout=30):
        """Wait for the next open, past failed attempts (closes) meanwhile."""
        deadline = time.monotonic() + timeout
        attempts = 0
        while True:
            try:
                msg = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                msg = "nothing"
            if isinstance(msg, dict) and "close" in msg and time.monotonic() < deadline:
                attempts += 1
                continue
            if isinstance(msg, dict) and "open" in msg:
                return attempts
            # Tell a stuck client from a stuck server.
            try:
                Subscriber(srv.ws_url()).close()
                server = "a new connection to the server opens"
            except AssertionError as e:
                server = f"the server does not answer either: {e}"
            raise AssertionError(f"node: no reconnection within {timeout}s ({attempts} failed "
                                 f"attempts, then {msg!r}); {server}; output: {self.output[-20:]}")

    def events(self, n):
        return [self.next("event") for _ in range(n)]

    def expect_quiet(self, seconds=0.3):
        time.sleep(seconds)
        if not self.lines.empty():
            raise AssertionError(f"node: unexpected report {self.lines.get()!r}")

    def end(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
        return self.proc.returncode

    def stderr(self):
        return self.proc.stderr.read().decode("utf-8", "replace")


def test_javascript_client():
    srv = Server().start()
    node = Node("basic", srv.ws_url())
    try:
        node.next("open")
        events = mixed_events("js", 30)
        posted = post_all(srv, [(events[:1], "application/json"),
                                (events[1:20], "application/json"),
                                (events[20:], "application/x-ndjson")])
        got = node.events(len(events))
        expect_eq(got, expected_events(posted, got), "events received by the seed's JS client")
        expect_eq([e["id"] for e in got], [i for _, i in posted], "ids in order")
        for e in got:
            expect(f"[{e['type']}] {e['message']}" in node.output,
                   f"the JS client did not print [{e['type']}] {e['message']}")
        srv.stop()
        expect_eq(node.next("close"), 1001, "close code seen by the JS client")
        expect_eq(node.proc.wait(10), 0, "node exit code")
    finally:
        node.end()


def test_javascript_reconnecting_client():
    srv = Server().start()
    node = Node("reconnect", srv.ws_url())
    try:
        node.next("open")
        seen = []

        def post_and_check(tag, n):
            posted = post_all(srv, [(mixed_events(tag, n), "application/json")])
            got = node.events(n)
            expect_eq(got, expected_events(posted, got), f"{tag}: events received")
            if seen:
                expect(got[0]["id"] > seen[-1]["id"],
                       f"{tag}: id {got[0]['id']} after a restart is not above {seen[-1]['id']}")
            seen.extend(got)

        post_and_check("antes", 5)
        srv.stop()
        expect_eq(node.next("close"), 1001, "close code when the server stops")
        srv.restart()  # same port, same store
        node.reopened(srv)
        post_and_check("despues", 5)

        srv.kill9()
        expect_eq(node.next("close"), 1006, "close code when the server dies")
        srv.restart()
        node.reopened(srv)
        post_and_check("tras kill", 3)
        node.expect_quiet()
        expect_eq(len(seen), 13, "events received in all")
        srv.stop()
        expect_eq(node.next("close"), 1001, "close code at the end")
    finally:
        node.end()


if __name__ == "__main__":
    run(test_python_log_aggregator, test_javascript_client, test_javascript_reconnecting_client)
