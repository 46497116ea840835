#!/usr/bin/python3
"""GET /api/stream: the feed as Server-Sent Events and as NDJSON, over real sockets.

- NDJSON (the default; Accept: application/x-ndjson; format=ndjson): one
  event a line, replay then live, no gap, no duplicate; control messages as
  lines only with control=1; chunked for HTTP/1.1, close-delimited for 1.0.
- SSE (Accept: text/event-stream; format=sse): "retry", then "id: N" and
  "data: {json}" per event, control messages as named events (hello, live,
  gap, reset) whether or not control=1 is given.
- Last-Event-ID resumes exactly after the id (it overrides after_id and
  since); a bad one is refused.
- type filters; retention's gap; reset for an id the store never had.
- Bad parameters, methods and tokens are refused like /ws/logs' (400 with the
  parameter's name, 405, 401/403), origins like the rest of the API, and an
  allowed origin gets CORS headers.
- Keepalives (an SSE comment, an empty NDJSON line) while nothing else goes,
  and the connection outlives --handshake-timeout.
- curl -N reads NDJSON as it commits; across kill -9 and a restart it
  resumes with after_id and every id arrives exactly once, in order; a
  SIGTERM ends the body with the last chunk (curl exits 0) after every
  committed event.
"""

import json
import os
import subprocess
import threading
import time

from harness import (SEED_EVENTS, HttpStream, Server, expect, expect_eq, expect_in, ndjson, run,
                     sse_data, sse_events)

SSE = {"Accept": "text/event-stream"}


def post(srv, events):
    status, ack = srv.post(events)
    expect_eq(status, 200, f"POST /api/events answer {ack!r}")
    return list(range(ack["first_id"], ack["last_id"] + 1))


def events(n, kind="agent", tag="e"):
    return [{"type": kind, "message": f"{tag} {i}", "data": {"i": i}} for i in range(n)]


def ids(objs):
    return [o["id"] for o in objs if "id" in o]


def test_ndjson_replay_then_live():
    srv = Server().start()
    first = post(srv, SEED_EVENTS)
    s = HttpStream(srv.port, "/api/stream?since=all")
    expect_eq(s.status, 200, "status")
    expect_eq(s.headers.get("content-type"), "application/x-ndjson", "content type by default")
    expect_eq(s.chunked, True, "HTTP/1.1: chunked")
    expect_eq(s.headers.get("cache-control"), "no-store", "cache-control")
    s.wait(lambda st: len(ndjson(st)) >= len(first), what="the replay")
    live = post(srv, events(5))
    got = s.wait(lambda st: len(ndjson(st)) >= len(first) + 5 and ndjson(st), what="live events")
    expect_eq(ids(got), first + live, "ids: replay then live, once each, in order")
    expect(all("control" not in o for o in got), "no control lines without control=1")
    # Every event as stored, with its id first.
    for ev, sent in zip(SEED_EVENTS, got):
        want = {"id": sent["id"], **ev}
        expect_eq(sent, want, "an event as sent")
        expect(s.lines()[got.index(sent)].startswith('{"id":'), "the id is the first member")
    s.close()

    # Accept and format= name it too; control=1 adds the control lines.
    for path, headers in (("/api/stream?after_id=0&control=1", {"Accept": "application/x-ndjson"}),
                          ("/api/stream?after_id=0&control=1&format=ndjson", SSE)):
        s = HttpStream(srv.port, path, headers)
        expect_eq(s.headers.get("content-type"), "application/x-ndjson", f"{path} {headers}")
        got = s.wait(lambda st: any(o.get("control") == "live" for o in ndjson(st)) and ndjson(st),
                     what="the live line")
        expect_eq(got[0]["control"], "hello", "hello first")
        expect_eq((got[0]["first_id"], got[0]["last_id"]), (1, live[-1]), "hello's ids")
        expect_eq(ids(got), first + live, "replayed ids")
        expect_eq(got[-1], {"control": "live", "last_id": live[-1]}, "live last")
        s.close()


def test_sse_format():
    srv = Server().start()
    first = post(srv, events(3))
    s = HttpStream(srv.port, "/api/stream?since=all", SSE)
    expect_eq(s.headers.get("content-type"), "text/event-stream", "content type")
    expect_eq(s.headers.get("x-accel-buffering"), "no", "proxies asked not to buffer")
    s.wait(lambda st: any(e.get("event") == "live" for e in sse_events(st)), what="live")
    live = post(srv, events(2, "error"))
    s.wait(lambda st: len(sse_data(st)) >= 5, what="live events")
    evs = sse_events(s)
    expect_eq(evs[0], {"retry": 1000}, "the reconnection time first")
    expect_eq(evs[1]["event"], "hello", "hello: a named event, without control=1")
    expect_eq(evs[1]["id"], None, "control events carry no id")
    expect_eq(evs[1]["data"]["control"], "hello", "hello's data")
    names = [e["event"] for e in evs[1:]]
    expect_eq(names, ["hello", "message", "message", "message", "live", "message", "message"],
              "event names in order")
    msgs = [e for e in evs if e.get("event") == "message"]
    expect_eq([e["id"] for e in msgs], [str(i) for i in first + live], "id: lines")
    expect_eq([e["data"]["id"] for e in msgs], first + live, "data's ids")
    # The exact framing of one event.
    body = s.body.decode()
    expect_in(f'id: {first[0]}\ndata: {{"id":{first[0]},"type":"agent","message":"e 0",',
              body, "an event's lines")
    s.close()

    s = HttpStream(srv.port, "/api/stream?format=sse&type=error")
    expect_eq(s.headers.get("content-type"), "text/event-stream", "format=sse")
    s.close()


def test_last_event_id_resumes():
    srv = Server().start()
    all_ids = post(srv, events(10))
    # since would start earlier, after_id later: Last-Event-ID wins over both.
    s = HttpStream(srv.port, "/api/stream?since=all&after_id=8",
                   {**SSE, "Last-Event-ID": str(all_ids[3])})
    s.wait(lambda st: any(e.get("event") == "live" for e in sse_events(st)), what="live")
    expect_eq([d["id"] for d in sse_data(s)], all_ids[4:], "exactly the events after it")
    s.close()
    # The same for NDJSON (a client that keeps the header, like an EventSource).
    s = HttpStream(srv.port, "/api/stream?control=1", {"Last-Event-ID": str(all_ids[-2])})
    s.wait(lambda st: any(o.get("control") == "live" for o in ndjson(st)), what="live")
    expect_eq(ids(ndjson(s)), all_ids[-1:], "NDJSON after Last-Event-ID")
    s.close()
    for bad in ("abc", "-1", "1x", "99999999999999999999999"):
        status, body = srv.request("GET", "/api/stream", headers={**SSE, "Last-Event-ID": bad})
        expect_eq(status, 400, f"Last-Event-ID: {bad}")
        expect_in("Last-Event-ID", body["error"], "the refusal names the header")


def test_filters_gap_and_reset():
    srv = Server("--retain-events", "10", "--retention-interval", "1s").start()
    mixed = []
    for i in range(10):
        mixed += post(srv, events(2, "agent", f"a{i}") + events(1, "error", f"x{i}"))
    # Retention keeps the newest 10 of 30.
    deadline = time.monotonic() + 30
    while srv.store_state()[0] > 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    expect_eq(srv.store_state()[0], 10, "events kept by retention")
    first_kept = srv.rows()[0][0]

    s = HttpStream(srv.port, "/api/stream?after_id=2&type=error", SSE)
    s.wait(lambda st: any(e.get("event") == "live" for e in sse_events(st)), what="live")
    evs = [e for e in sse_events(s) if "data" in e]
    gap = [e["data"] for e in evs if e["event"] == "gap"]
    expect_eq(gap, [{"control": "gap", "from_id": 3, "to_id": first_kept - 1,
                     "reason": "retention"}], "the gap retention left")
    want = [r[0] for r in srv.rows() if r[1] == "error"]
    expect_eq([e["data"]["id"] for e in evs if e["event"] == "message"], want,
              "only errors, from the first kept")
    s.close()

    # An id this store never handed out: reset, then everything it has.
    s = HttpStream(srv.port, "/api/stream?after_id=5000", SSE)
    s.wait(lambda st: any(e.get("event") == "live" for e in sse_events(st)), what="live")
    names = [e["event"] for e in sse_events(s) if "data" in e]
    expect_eq(names[:2], ["hello", "reset"], "hello, then reset")
    expect_eq([d["id"] for d in sse_data(s)], [r[0] for r in srv.rows()], "the whole store")
    s.close()


def test_refusals():
    srv = Server().start()
    for path, word in (("/api/stream?after_id=x", "after_id"), ("/api/stream?since=yesterday",
                                                                "since"),
                       ("/api/stream?type=a%20b", "type"), ("/api/stream?format=xml", "format"),
                       ("/api/stream?limit=3", "limit"), ("/api/stream?epoch=XYZ", "epoch")):
        status, body = srv.request("GET", path)
        expect_eq(status, 400, path)
        expect_in(word, body["error"], f"{path}: the refusal names the parameter")
    status, body = srv.request("POST", "/api/stream", body=b"{}",
                               headers={"Content-Type": "application/json"})
    expect_eq(status, 405, "POST")
    expect_eq(srv.request("HEAD", "/api/stream")[0], 405, "HEAD")


def test_tokens_and_origins():
    srv = Server()
    path = os.path.join(srv.dir, "tokens")
    with open(path, "w") as f:
        f.write("pub-token-123456 publish\nsub-token-123456 subscribe\n")
    srv.args += ["--token-file", path, "--allow-origin", "https://app.example"]
    srv.start()
    expect_eq(srv.request("GET", "/api/stream")[0], 401, "no token")
    expect_eq(srv.request("GET", "/api/stream?token=pub-token-123456")[0], 403, "publish token")
    s = HttpStream(srv.port, "/api/stream?token=sub-token-123456&control=1")
    expect_eq(s.status, 200, "?token=")
    s.wait(lambda st: ndjson(st), what="hello")
    s.close()
    s = HttpStream(srv.port, "/api/stream?control=1",
                   {"Authorization": "Bearer sub-token-123456", "Origin": "https://app.example"})
    expect_eq(s.status, 200, "bearer header from an allowed origin")
    expect_eq(s.headers.get("access-control-allow-origin"), "https://app.example", "CORS")
    s.close()
    status, _ = srv.request("GET", "/api/stream?token=sub-token-123456",
                            headers={"Origin": "https://evil.example"})
    expect_eq(status, 403, "a page of another site")


def test_keepalive_and_long_life():
    srv = Server("--idle-timeout", "2", "--handshake-timeout", "1").start()
    sse = HttpStream(srv.port, "/api/stream", SSE)
    nd = HttpStream(srv.port, "/api/stream")
    time.sleep(4)
    expect(not sse.closed.is_set() and not nd.closed.is_set(),
           "streams outlive --handshake-timeout and --idle-timeout")
    comments = [e for e in sse_events(sse) if "comment" in e]
    expect(len(comments) >= 2, f"SSE keepalive comments in 4 s: {comments}")
    expect_eq(comments[0], {"comment": "keepalive"}, "an SSE keepalive")
    blanks = nd.lines().count("")
    expect(blanks >= 2, f"empty NDJSON lines in 4 s: {nd.lines()}")
    new = post(srv, events(1))
    nd.wait(lambda st: ndjson(st), what="an event after keepalives")
    expect_eq(ids(ndjson(nd)), new, "the event after keepalives")
    sse.close()
    nd.close()


def test_http10_close_delimited():
    srv = Server().start()
    first = post(srv, events(3))
    s = HttpStream(srv.port, "/api/stream?after_id=0", http10=True)
    expect_eq(s.status, 200, "status")
    expect_eq(s.chunked, False, "no chunks for HTTP/1.0")
    s.wait(lambda st: len(ndjson(st)) == 3, what="three events")
    expect_eq(ids(ndjson(s)), first, "events")
    srv.stop()
    s.wait_closed()
    expect_eq(ids(ndjson(s)), first, "events when the server stopped")


class Curl:
    """curl -sN reading an NDJSON stream, its lines collected in a thread."""

    def __init__(self, url):
        self.proc = subprocess.Popen(["curl", "-sN", url], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode().rstrip("\n"))
                self.cond.notify_all()

    def events(self):
        with self.cond:
            return [json.loads(x) for x in self.lines if x]

    def wait_ids(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len([x for x in self.lines if x]) < n and time.monotonic() < deadline:
                self.cond.wait(0.5)
        got = ids(self.events())
        expect(len(got) >= n, f"curl: waited for {n} events, got {len(got)}")
        return got

    def exit_code(self, timeout=30):
        return self.proc.wait(timeout)


def test_curl_resumes_across_restart():
    srv = Server().start()
    before = post(srv, events(50, tag="before"))
    curl = Curl(f"{srv.base}/api/stream?since=all")
    curl.wait_ids(len(before))
    # Producers keep posting while the server is killed and restarted.
    during = post(srv, events(20, tag="during"))
    curl.wait_ids(len(before) + len(during))
    srv.kill9()
    expect(curl.exit_code() != 0, "curl sees a body cut short by kill -9")
    seen = ids(curl.events())
    srv.restart()
    after = post(srv, events(30, tag="after"))
    curl = Curl(f"{srv.base}/api/stream?after_id={seen[-1]}")
    live = post(srv, events(10, tag="live"))
    got = curl.wait_ids(len(after) + len(live))
    expect_eq(seen + got, before + during + after + live, "every id exactly once, in order")

    # A clean stop sends what is committed, then the last chunk: curl exits 0.
    srv.stop()
    expect_eq(curl.exit_code(), 0, "curl's exit code after SIGTERM")
    expect_eq(ids(curl.events()), after + live, "nothing more, nothing less")


if __name__ == "__main__":
    run(test_ndjson_replay_then_live, test_sse_format, test_last_event_id_resumes,
        test_filters_gap_and_reset, test_refusals, test_tokens_and_origins,
        test_keepalive_and_long_life, test_http10_close_delimited,
        test_curl_resumes_across_restart)
