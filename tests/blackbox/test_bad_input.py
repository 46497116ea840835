#!/usr/bin/python3
"""Bad input gets a clear error and stores nothing.

Each case answers its status with a JSON object holding "error" (and
"index", the event at fault, where one is), and leaves the journal as it
was: same row count, same max id. The server keeps serving afterwards.
"""

import asyncio
import json

import websockets

from harness import HOST, Server, Subscriber, expect, expect_eq, raw_http, run

GOOD = {"type": "system", "message": "bueno"}


def ev(**fields):
    out = dict(GOOD)
    out.update(fields)
    return out


def without(key):
    out = dict(GOOD)
    del out[key]
    return out


# (name, body, content type, status, index or None when no event is at fault)
CASES = [
    ("malformed JSON", b'{"type":"system","message":', "application/json", 400, 0),
    ("garbage after the object", b'{"type":"system","message":"x"} tail', "application/json",
     400, 0),
    ("not JSON at all", b"hello", "application/json", 400, 0),
    ("empty body", b"", "application/json", 400, None),
    ("only spaces", b"  \n ", "application/json", 400, None),
    ("invalid UTF-8", b'{"type":"system","message":"\xff\xfe"}', "application/json", 400, 0),
    ("a number, not an object", b"42", "application/json", 400, 0),
    ("a string, not an object", b'"evento"', "application/json", 400, 0),
    ("null, not an object", b"null", "application/json", 400, 0),
    ("an array of numbers", b"[1, 2]", "application/json", 400, 0),
    ("missing type", without("type"), "application/json", 400, 0),
    ("missing message", without("message"), "application/json", 400, 0),
    ("type is a number", ev(type=7), "application/json", 400, 0),
    ("type is null", ev(type=None), "application/json", 400, 0),
    ("type is empty", ev(type=""), "application/json", 400, 0),
    ("type of 65 characters", ev(type="t" * 65), "application/json", 400, 0),
    ("type with a space", ev(type="sys tem"), "application/json", 400, 0),
    ("type with a slash", ev(type="sys/tem"), "application/json", 400, 0),
    ("type with a non-ASCII letter", ev(type="sistemá"), "application/json", 400, 0),
    ("message is a number", ev(message=12), "application/json", 400, 0),
    ("message is null", ev(message=None), "application/json", 400, 0),
    ("message is an object", ev(message={"text": "x"}), "application/json", 400, 0),
    ("data is an array", ev(data=[1, 2]), "application/json", 400, 0),
    ("data is a string", ev(data="x"), "application/json", 400, 0),
    ("data is a number", ev(data=3), "application/json", 400, 0),
    ("data is null", ev(data=None), "application/json", 400, 0),
    ("timestamp is words", ev(timestamp="yesterday"), "application/json", 400, 0),
    ("timestamp month 13", ev(timestamp="2026-13-01T00:00:00"), "application/json", 400, 0),
    ("timestamp February 30", ev(timestamp="2026-02-30T12:00:00"), "application/json", 400, 0),
    ("timestamp hour 25", ev(timestamp="2026-03-09T25:00:00"), "application/json", 400, 0),
    ("timestamp with a bad zone", ev(timestamp="2026-03-09T14:00:00+2"), "application/json",
     400, 0),
    ("timestamp is a number", ev(timestamp=1773064800), "application/json", 400, 0),
    ("id set by the producer", ev(id=5), "application/json", 400, 0),
    ("bad event inside an array",
     [GOOD, GOOD, GOOD, ev(type="bad type"), GOOD, GOOD], "application/json", 400, 3),
    ("unterminated array", b'[{"type":"system","message":"x"}, ', "application/json", 400, None),
    ("bad NDJSON line",
     b'{"type":"system","message":"uno"}\n{"type":"system","message":"dos"}\n'
     b'{"type":"system","message":\n{"type":"system","message":"cuatro"}\n',
     "application/x-ndjson", 400, 2),
    ("NDJSON line without message",
     b'{"type":"system","message":"uno"}\n\n{"type":"system"}\n', "application/x-ndjson", 400, 1),
    ("event over 256 KiB", ev(message="x" * (256 * 1024)), "application/json", 413, 0),
    ("event over 256 KiB inside an array",
     [GOOD, ev(message="x" * (256 * 1024 + 1)), GOOD], "application/json", 413, 1),
    ("unsupported Content-Type", GOOD, "text/plain", 415, None),
    ("form Content-Type", b"type=system&message=x", "application/x-www-form-urlencoded",
     415, None),
]


UNKNOWN_WS_PATHS = ("/ws/nope", "/", "/ws", "/api/events", "/ws/logs/extra", "/healthz")
UPGRADE = (b"GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")


def expect_error(status, body, want_status, want_index, what):
    expect_eq(status, want_status, f"{what}: status (answer {body!r})")
    expect(isinstance(body, dict), f"{what}: the answer is not a JSON object: {body!r}")
    expect(isinstance(body.get("error"), str) and body["error"],
           f"{what}: no \"error\" text in {body!r}")
    if want_index is not None:
        expect_eq(body.get("index"), want_index, f"{what}: index of the event at fault")


def expect_serving(srv, before):
    """healthz is 200 and a good post is stored after `before` = (rows, max id)."""
    status, _ = srv.request("GET", "/healthz")
    expect_eq(status, 200, "GET /healthz after bad input")
    status, ack = srv.post([GOOD, GOOD])
    expect_eq(status, 200, f"a good post after bad input (answer {ack!r})")
    expect_eq(ack["accepted"], 2, "accepted")
    expect(ack["first_id"] > before[1], f"first_id {ack['first_id']} after max id {before[1]}")
    expect_eq(srv.store_state(), (before[0] + 2, ack["last_id"]), "rows and max id")


def test_post_errors():
    srv = Server().start()
    expect_eq(srv.post([GOOD, GOOD, GOOD])[0], 200, "a good post first")
    before = srv.store_state()
    conn = srv.client()  # keep-alive: a 400 must not break the connection
    for name, body, ctype, status, index in CASES:
        got_status, got = srv.post(body, ctype)
        expect_error(got_status, got, status, index, name)
        expect_eq(srv.store_state(), before, f"{name}: rows and max id unchanged")
        if status == 400:
            got_status, got = conn.post(body, ctype)
            expect_error(got_status, got, status, index, f"{name} (keep-alive)")
    expect_eq(conn.post(GOOD)[0], 200, "a good post on the same keep-alive connection")
    conn.close()
    expect_serving(srv, srv.store_state())
    srv.stop()


def test_http_framing_errors():
    srv = Server().start()
    srv.post(GOOD)
    before = srv.store_state()
    body = json.dumps(GOOD).encode()

    status, got = raw_http(srv.port, b"POST /api/events HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\nConnection: close\r\n\r\n" + body)
    expect_error(status, got, 411, None, "POST without Content-Length")
    expect_eq(srv.store_state(), before, "no Content-Length: store unchanged")

    # A body over 16 MiB is refused from its Content-Length, before it is sent.
    status, got = raw_http(srv.port, b"POST /api/events HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\n"
                           b"Content-Length: 16777217\r\n\r\n" + body)
    expect_error(status, got, 413, None, "Content-Length over 16 MiB")
    expect_eq(srv.store_state(), before, "body over 16 MiB: store unchanged")

    expect_serving(srv, before)
    srv.stop()


def test_method_and_path_errors():
    srv = Server().start()
    srv.post(GOOD)
    before = srv.store_state()
    status, got = srv.request("DELETE", "/api/events")
    expect_error(status, got, 405, None, "DELETE /api/events")

    # GET /api/events with bad parameters must be a 4xx JSON error.
    status, got = srv.request("GET", "/api/events")
    if status == 200:
        expect(isinstance(got, dict) and isinstance(got.get("events"), list),
               f"GET /api/events: 200 without an events list: {got!r}")
    else:
        expect(400 <= status < 500, f"GET /api/events: status {status} is not 4xx or 200")
        expect_error(status, got, status, None, "GET /api/events")

    for method, path in (("GET", "/nope"), ("GET", "/api/event"), ("GET", "/api/events/1"),
                         ("GET", "/ws/logsx"), ("HEAD", "/nope")):
        status, got = srv.request(method, path)
        expect_eq(status, 404, f"{method} {path}: status (answer {got!r})")
        if method != "HEAD":
            expect_error(status, got, 404, None, f"{method} {path}")
    status, got = srv.request("DELETE", "/healthz")
    expect_error(status, got, 405, None, "DELETE /healthz")
    expect_eq(srv.store_state(), before, "store unchanged after method and path errors")
    expect_serving(srv, before)
    srv.stop()


def test_body_on_other_routes():
    # A request with a body to anything but POST /api/events is answered for
    # what it is (wrong method, no such path), not as an over-long body.
    srv = Server().start()
    srv.post(GOOD)
    before = srv.store_state()
    body = json.dumps(GOOD).encode()
    for method, path, data, want in (
            ("POST", "/nope", body, 404), ("POST", "/api/nope", body, 404),
            ("PUT", "/api/events", body, 405), ("PATCH", "/api/events", body, 405),
            ("POST", "/healthz", body, 405), ("POST", "/healthz", b"", 405),
            ("PUT", "/api/events", b"", 405), ("POST", "/nope", b"", 404)):
        status, got = srv.request(method, path, body=data,
                                  headers={"Content-Type": "application/json"})
        expect_error(status, got, want, None,
                     f"{method} {path} with a body of {len(data)} bytes")
    expect_eq(srv.store_state(), before, "store unchanged")
    expect_serving(srv, before)
    srv.stop()


def test_body_limit():
    # A small body limit, so that a whole over-limit body is quick to send.
    srv = Server("--max-body-bytes", "64KiB").start()
    srv.post(GOOD)
    before = srv.store_state()
    events = [ev(message="y" * 1000) for _ in range(80)]  # ~85 KB as one body
    status, got = srv.post(events)
    expect_error(status, got, 413, None, "body over --max-body-bytes")
    expect_eq(srv.store_state(), before, "body over the limit: store unchanged")
    status, got = srv.post(events, "application/x-ndjson")
    expect_error(status, got, 413, None, "NDJSON body over --max-body-bytes")
    expect_eq(srv.store_state(), before, "NDJSON body over the limit: store unchanged")
    status, ack = srv.post(events[:40])  # ~43 KB: under the limit
    expect_eq(status, 200, f"a body under the limit (answer {ack!r})")
    expect_eq(ack["accepted"], 40, "accepted under the limit")
    expect_serving(srv, srv.store_state())
    srv.stop()


def test_ws_errors():
    srv = Server().start()
    srv.post(GOOD)
    before = srv.store_state()

    for path in UNKNOWN_WS_PATHS:
        status, got = raw_http(srv.port, UPGRADE % path.encode())
        expect_error(status, got, 404, None, f"WebSocket upgrade on {path}")

    ingest = Subscriber(srv.ws_url("/ws/ingest"))
    bad = ['{"type":"system","message":', "not json", "[1]", json.dumps(without("message")),
           json.dumps([GOOD, ev(data=[])])]
    for n, text in enumerate(bad):
        ingest.send(text)
        answer = ingest.wait_for(n + 1)[n]
        expect(isinstance(answer.get("error"), str), f"/ws/ingest {text!r}: answer {answer!r}")
        expect("accepted" not in answer, f"/ws/ingest {text!r}: answer {answer!r}")
    expect_eq(ingest.messages()[-1].get("index"), 1, "/ws/ingest: index of the bad event")
    expect_eq(srv.store_state(), before, "/ws/ingest errors: store unchanged")
    ingest.send(json.dumps(GOOD))
    answer = ingest.wait_for(len(bad) + 1)[-1]
    expect_eq(answer.get("accepted"), 1, f"/ws/ingest still usable after errors: {answer!r}")
    expect(answer["first_id"] > before[1], f"/ws/ingest: id {answer['first_id']} after errors "
           f"is not above the max id {before[1]}")
    ingest.close()
    expect_serving(srv, srv.store_state())
    srv.stop()


def test_ws_unknown_path_client_sees_404():
    # What a WebSocket client library makes of the refusal: a 404 it can read.
    srv = Server().start()

    async def upgrade(path):
        try:
            async with websockets.connect(f"ws://{HOST}:{srv.port}{path}", open_timeout=10):
                return "accepted"
        except websockets.InvalidStatusCode as e:
            return e.status_code
        except websockets.InvalidHandshake as e:
            return f"{type(e).__name__}: {e} (cause: {e.__cause__})"

    for path in UNKNOWN_WS_PATHS:
        expect_eq(asyncio.run(upgrade(path)), 404, f"websockets client: upgrade on {path}")
    srv.stop()


if __name__ == "__main__":
    run(test_post_errors, test_http_framing_errors, test_method_and_path_errors,
        test_body_on_other_routes, test_body_limit, test_ws_errors,
        test_ws_unknown_path_client_sees_404)
