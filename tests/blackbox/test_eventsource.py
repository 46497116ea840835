#!/usr/bin/python3
"""A browser's EventSource on GET /api/stream, in a real headless Chromium.

The page is served by this test on a port of its own (a loopback origin, so
the server lets it read the stream with CORS), and opens
`new EventSource("http://127.0.0.1:PORT/api/stream?since=all")`. Against
the real server:

- Events stored before the page opened and events posted while it is open
  arrive once each, in order, with lastEventId their id; the named control
  events (hello, live) reach their listeners and never onmessage.
- kill -9 of the server, events posted while it is down, a restart on the
  same port and store: the EventSource reconnects by itself, sends
  Last-Event-ID (seen in the DevTools network log) and resumes exactly after
  it: every event once, in order.
- The same across a clean restart (SIGTERM ends the stream with its last
  chunk; the EventSource reconnects).
"""

import http.server
import threading
import time

from harness import Server, expect, expect_eq, free_port, run
from test_dashboard import Browser

PAGE = b"""<!doctype html>
<meta charset="utf-8">
<title>EventSource test page</title>
<script src="/es.js"></script>
"""

SCRIPT = b"""
window.got = [];
window.names = [];
window.opens = 0;
window.errors = 0;
const es = new EventSource(new URLSearchParams(location.search).get('src'));
es.onmessage = e => window.got.push({lastEventId: e.lastEventId, data: JSON.parse(e.data)});
for (const name of ['hello', 'live', 'gap', 'reset'])
  es.addEventListener(name, e => window.names.push([name, JSON.parse(e.data)]));
es.onopen = () => window.opens++;
es.onerror = () => window.errors++;
"""


class PageServer:
    """The test page, on a loopback port of its own."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body, ctype = (SCRIPT, "text/javascript") if self.path.startswith("/es.js") \
                    else (PAGE, "text/html; charset=utf-8")
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def post(srv, n, tag):
    status, ack = srv.post([{"type": "agent", "message": f"{tag} {i}"} for i in range(n)])
    expect_eq(status, 200, f"POST answer {ack!r}")
    return list(range(ack["first_id"], ack["last_id"] + 1))


def stream_requests(b, srv):
    """The EventSource's requests in the DevTools log: the Last-Event-ID each
    sent (None when it sent none), from the headers as they went out."""
    with b.cond:
        evs = list(b.events)
    urls, sent = {}, {}
    for ev in evs:
        p = ev["params"]
        if ev["method"] == "Network.requestWillBeSent":
            urls[p["requestId"]] = p["request"]["url"]
        elif ev["method"] == "Network.requestWillBeSentExtraInfo":
            sent[p["requestId"]] = {k.lower(): v for k, v in p.get("headers", {}).items()}
    return [sent.get(rid, {}).get("last-event-id") for rid, url in urls.items()
            if url.startswith(f"{srv.base}/api/stream") and rid in sent]


def wait_got(b, n, timeout=30.0):
    b.wait_until(f"window.got.length >= {n}", timeout, f"{n} events in the page")


def check_exactly_once(b, want, what):
    got = b.js("window.got")
    expect_eq([g["data"]["id"] for g in got], want, f"{what}: ids, once each, in order")
    expect_eq([g["lastEventId"] for g in got], [str(i) for i in want],
              f"{what}: lastEventId of each event")


def test_eventsource_across_restarts():
    srv = Server().start()
    page = PageServer()
    b = Browser()
    try:
        before = post(srv, 5, "antes")
        b.open(f"http://127.0.0.1:{page.port}/?src=http://127.0.0.1:{srv.port}"
               "/api/stream%3Fsince%3Dall")
        wait_got(b, 5)
        b.wait_until("window.names.some(n => n[0] === 'live')", 30, "the live event")
        names = b.js("window.names")
        expect_eq([n[0] for n in names], ["hello", "live"], "named events, to their listeners")
        expect_eq(names[1][1], {"control": "live", "last_id": before[-1]}, "live's data")
        live = post(srv, 5, "en vivo")
        wait_got(b, 10)
        check_exactly_once(b, before + live, "before the restart")

        # kill -9; events posted while the page waits to reconnect.
        srv.kill9()
        b.wait_until("window.errors >= 1", 30, "the EventSource to see the connection drop")
        srv.restart()
        down = post(srv, 5, "durante")
        b.wait_until("window.opens >= 2", 30, "the EventSource to reconnect")
        after = post(srv, 5, "despues")
        wait_got(b, 20)
        time.sleep(0.5)  # a duplicate would arrive right behind
        check_exactly_once(b, before + live + down + after, "after kill -9")

        # A clean stop: the stream ends, the EventSource reconnects.
        srv.stop()
        b.wait_until("window.errors >= 2", 30, "the EventSource to see the stream end")
        srv.restart()
        b.wait_until("window.opens >= 3", 30, "the EventSource to reconnect again")
        last = post(srv, 5, "al final")
        wait_got(b, 25)
        time.sleep(0.5)
        everything = before + live + down + after + last
        check_exactly_once(b, everything, "after SIGTERM and a restart")
        expect_eq([r[0] for r in srv.rows()], everything, "ids in the store")

        requests = stream_requests(b, srv)

        expect(len(requests) >= 3, f"three connections at least: {requests}")
        expect_eq(requests[0], None, "the first request has no Last-Event-ID")
        expect_eq(requests[-2:], [str(live[-1]), str(after[-1])],
                  "the reconnections sent the last id each had seen")
        problems = [p for p in b.problems()
                    if "ERR_CONNECTION_REFUSED" not in p and "ERR_INCOMPLETE_CHUNKED" not in p
                    and "EventSource" not in p and "ERR_EMPTY_RESPONSE" not in p]
        expect_eq(problems, [], "problems other than the dropped connections")
    finally:
        b.close()
        page.close()


if __name__ == "__main__":
    run(test_eventsource_across_restarts)
