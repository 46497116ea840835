#!/usr/bin/python3
"""Browser origins: other sites are refused by default; CORS for allowed ones.

Without --allow-origin, a page of any site used to be able to open
/ws/ingest and store events, and read /ws/logs?since=all, through the
operator's browser. Now a request that carries an Origin goes on only from
a loopback origin (a page served on this machine, such as a development
server of the Sentinel AI React component), from an --allow-origin, or
from the server's own pages; requests without an Origin (non-browser
clients) are unaffected. Allowed origins get CORS answers on the HTTP API:
preflight OPTIONS, Access-Control-Allow-Origin, the allowed headers.
"""

import http.client
import json
import os
import socket
import subprocess

from harness import HOST, Server, expect, expect_eq, expect_in, free_port, run

EVIL = "https://evil.example"
EVENT = json.dumps({"type": "agent", "message": "desde el navegador"})


def upgrade(port, path, headers=""):
    """A raw WebSocket handshake: the status of the answer."""
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n").encode()
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split()[1])


def call(port, method, path, headers=None, body=None):
    """One request: (status, headers as a dict with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_other_sites_are_refused_by_default():
    srv = Server().start()
    # The report: a page of evil.example writes through /ws/ingest and
    # reads the whole log through /ws/logs?since=all.
    expect_eq(upgrade(srv.port, "/ws/ingest", f"Origin: {EVIL}\r\n"), 403,
              "/ws/ingest from another site")
    expect_eq(upgrade(srv.port, "/ws/logs?since=all", f"Origin: {EVIL}\r\n"), 403,
              "/ws/logs from another site")
    status, headers, _ = call(srv.port, "POST", "/api/events",
                              {"Origin": EVIL, "Content-Type": "application/json"}, EVENT)
    expect_eq(status, 403, "POST from another site")
    expect("access-control-allow-origin" not in headers, "no CORS header for another site")
    for path in ("/api/events", "/api/stats", "/metrics"):
        expect_eq(call(srv.port, "GET", path, {"Origin": EVIL})[0], 403, f"GET {path}")
    # Forged to look like the server's own page through DNS rebinding:
    # the name points at 127.0.0.1, so Origin and Host agree.
    rebound = f"http://rebind.example:{srv.port}"
    status = call(srv.port, "GET", "/api/events",
                  {"Origin": rebound, "Host": f"rebind.example:{srv.port}"})[0]
    expect_eq(status, 403, "a rebound name on a loopback listener")
    # An Origin too long to be any of ours is not "no Origin".
    long_origin = "http://localhost:3000" + "x" * 400
    expect_eq(call(srv.port, "GET", "/api/events", {"Origin": long_origin})[0], 403,
              "an over-long Origin")
    expect_eq(srv.store_state(), (0, 0), "nothing was stored")

    # Pages served on this machine keep working, on any port.
    for origin in ("http://localhost:3000", "http://127.0.0.1:5173", "http://[::1]:8080",
                   f"http://127.0.0.1:{srv.port}"):
        expect_eq(upgrade(srv.port, "/ws/ingest", f"Origin: {origin}\r\n"), 101,
                  f"/ws/ingest from {origin}")
        expect_eq(upgrade(srv.port, "/ws/logs?since=all", f"Origin: {origin}\r\n"), 101,
                  f"/ws/logs from {origin}")
        status, headers, _ = call(srv.port, "POST", "/api/events",
                                  {"Origin": origin, "Content-Type": "application/json"}, EVENT)
        expect_eq(status, 200, f"POST from {origin}")
        expect_eq(headers.get("access-control-allow-origin"), origin,
                  f"the page at {origin} may read the answer")
    # Clients that send no Origin are not browsers: unaffected.
    expect_eq(upgrade(srv.port, "/ws/ingest"), 101, "/ws/ingest without an Origin")
    status, headers, _ = call(srv.port, "POST", "/api/events",
                              {"Content-Type": "application/json"}, EVENT)
    expect_eq(status, 200, "POST without an Origin")
    expect("access-control-allow-origin" not in headers, "no CORS header without an Origin")
    expect_eq(srv.store_state(), (5, 5), "the allowed posts were stored")
    srv.stop()


def test_cors_for_allowed_origins():
    ops = "https://ops.example.com"
    srv = Server("--allow-origin", ops).start()
    status, headers, body = call(srv.port, "OPTIONS", "/api/events", {
        "Origin": ops, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    expect_eq(status, 204, "preflight from an allowed origin")
    expect_eq(headers.get("access-control-allow-origin"), ops, "Access-Control-Allow-Origin")
    expect_in("POST", headers.get("access-control-allow-methods", ""), "allowed methods")
    allowed = headers.get("access-control-allow-headers", "").lower()
    expect_in("authorization", allowed, "Authorization may be sent")
    expect_in("content-type", allowed, "Content-Type may be sent")
    expect_in("origin", headers.get("vary", "").lower(), "Vary: Origin")
    expect(int(headers.get("access-control-max-age", "0")) > 0, "the preflight may be cached")
    expect_eq(body, b"", "no body")

    status, headers, body = call(srv.port, "POST", "/api/events",
                                 {"Origin": ops, "Content-Type": "application/json"}, EVENT)
    expect_eq(status, 200, "POST from the allowed origin")
    expect_eq(headers.get("access-control-allow-origin"), ops, "its answer is readable")
    status, headers, body = call(srv.port, "GET", "/api/events?after_id=0", {"Origin": ops})
    expect_eq(status, 200, "GET from the allowed origin")
    expect_eq(headers.get("access-control-allow-origin"), ops, "GET's answer is readable")
    expect_eq([e["id"] for e in json.loads(body)["events"]], [1], "the events")

    status, headers, _ = call(srv.port, "OPTIONS", "/api/events", {
        "Origin": EVIL, "Access-Control-Request-Method": "POST"})
    expect_eq(status, 403, "preflight from another site")
    expect("access-control-allow-origin" not in headers, "nothing allowed to another site")
    status, headers, _ = call(srv.port, "OPTIONS", "/api/stats")
    expect_eq(status, 204, "OPTIONS without an Origin")
    expect_in("GET", headers.get("allow", ""), "OPTIONS names the methods")
    expect("access-control-allow-origin" not in headers, "no CORS without an Origin")
    srv.stop()


def test_cors_with_tokens():
    ops = "https://ops.example.com"
    srv = Server("--allow-origin", ops)
    path = os.path.join(srv.dir, "tokens")
    with open(path, "w") as f:
        f.write("browser-token-1234 publish,subscribe\n")
    os.chmod(path, 0o600)
    srv.args += ["--token-file", path]
    srv.start()
    # Browsers send preflights without credentials: no token needed.
    status, headers, _ = call(srv.port, "OPTIONS", "/api/events", {
        "Origin": ops, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    expect_eq(status, 204, "preflight without a token")
    expect_in("authorization", headers.get("access-control-allow-headers", "").lower(),
              "Authorization may be sent")
    status, headers, _ = call(srv.port, "GET", "/api/events", {"Origin": ops})
    expect_eq(status, 401, "the request itself needs the token")
    expect_eq(headers.get("access-control-allow-origin"), ops, "the page may read the refusal")
    status, headers, _ = call(srv.port, "GET", "/api/events",
                              {"Origin": ops, "Authorization": "Bearer browser-token-1234"})
    expect_eq(status, 200, "with the token")
    expect_eq(headers.get("access-control-allow-origin"), ops, "readable")
    srv.stop()


def test_own_pages_on_a_public_listener():
    # On a listener that is not loopback, the server's own pages are named
    # by the Host they were loaded from, whatever that name is.
    srv = Server("--allow-anonymous")
    port = free_port()
    srv.port = port

    def spawn():
        srv.runs += 1
        cmd = [os.environ["SENTINEL_LOGD"], "--listen", f"0.0.0.0:{port}", "--db", srv.db_path,
               "--allow-anonymous"]
        with open(srv.stderr_path, "ab") as err:
            srv.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    srv._spawn = spawn
    srv.start()
    own = f"http://logs.example.net:{port}"
    status, headers, _ = call(port, "GET", "/api/stats",
                              {"Origin": own, "Host": f"logs.example.net:{port}"})
    expect_eq(status, 200, "the server's own page")
    status = call(port, "GET", "/api/stats", {"Origin": own, "Host": f"other.example:{port}"})[0]
    expect_eq(status, 403, "a page of another host")
    expect_eq(call(port, "GET", "/api/stats", {"Origin": EVIL})[0], 403, "another site")
    srv.stop()


if __name__ == "__main__":
    run(test_other_sites_are_refused_by_default, test_cors_for_allowed_origins,
        test_cors_with_tokens, test_own_pages_on_a_public_listener)
