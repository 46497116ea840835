#!/usr/bin/python3
"""HTTP details: HEAD, Allow, WWW-Authenticate, and WebSocket subprotocols.

`curl -I /` used to get 404 and `curl -I /healthz` 405; a 405 named no
allowed methods; a 401 had no WWW-Authenticate; and a WebSocket client
offering an unknown subprotocol had its connection dropped with no answer
and no log line. Now every GET route answers HEAD with the GET's headers
and no body, a 405 carries Allow, a 401 carries `WWW-Authenticate: Bearer`,
and an upgrade that offers only unknown subprotocols is refused with 400,
a JSON reason and a log line.
"""

import json
import os
import socket
import time

from harness import HOST, Server, expect, expect_eq, expect_in, run

TOKEN = "reader-token-1234"


def read_head(s, buf=b""):
    """Read one response's status line and headers: (status, headers, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed in the headers: {buf[:200]!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, rest


def read_response(s, buf=b""):
    status, headers, rest = read_head(s, buf)
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def exchange(port, request):
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(request)
        return read_response(s)


def head_then_get(port, path, extra=""):
    """HEAD path, then GET it on the same connection: both answers."""
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
        status, headers, rest = read_head(s)
        # Whatever follows the HEAD's headers belongs to the next answer.
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
        got = read_response(s, rest)
    return (status, headers), got


def upgrade(port, path, headers=""):
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n").encode()
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(request)
        status, hdrs, rest = read_head(s)
        if status == 101:
            return status, hdrs, b""
        n = int(hdrs.get("content-length", "0"))
        while len(rest) < n:
            chunk = s.recv(4096)
            if not chunk:
                break
            rest += chunk
        return status, hdrs, rest


def test_head_on_every_get_route():
    srv = Server().start()
    srv.post([{"type": "system", "message": "para HEAD"}])
    for path in ("/", "/app.js", "/healthz", "/api/stats", "/api/events?after_id=0",
                 "/metrics"):
        (status, headers), (get_status, get_headers, body, extra) = head_then_get(srv.port, path)
        expect_eq(status, 200, f"HEAD {path}")
        expect_eq(get_status, 200, f"GET {path} after the HEAD (no stray body before it)")
        expect_eq(headers.get("content-type"), get_headers.get("content-type"),
                  f"HEAD {path}: the GET's content type")
        if path in ("/", "/app.js", "/healthz"):  # the same bytes every time
            expect_eq(int(headers["content-length"]), len(body),
                      f"HEAD {path}: the GET's content length")
        expect_eq(extra, b"", f"GET {path}: nothing after the body")
    (status, _), (get_status, _, _, _) = head_then_get(srv.port, "/nope")
    expect_eq((status, get_status), (404, 404), "HEAD of a missing path, and no body")
    srv.stop()


def test_allow_on_405():
    srv = Server().start()
    for method, path, allow in (("DELETE", "/healthz", "GET, HEAD, OPTIONS"),
                                ("POST", "/api/stats", "GET, HEAD, OPTIONS"),
                                ("PUT", "/api/events", "GET, HEAD, POST, OPTIONS"),
                                ("DELETE", "/", "GET, HEAD, OPTIONS")):
        status, headers, body, _ = exchange(
            srv.port, f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        expect_eq(status, 405, f"{method} {path}")
        expect_eq(headers.get("allow"), allow, f"{method} {path}: Allow")
        expect_in("error", json.loads(body), f"{method} {path}: a JSON error")
    # OPTIONS names them too.
    status, headers, _, _ = exchange(srv.port, b"OPTIONS /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
    expect_eq((status, headers.get("allow")), (204, "GET, HEAD, POST, OPTIONS"), "OPTIONS")
    srv.stop()


def test_www_authenticate_on_401():
    srv = Server()
    path = os.path.join(srv.dir, "tokens")
    with open(path, "w") as f:
        f.write(f"{TOKEN} subscribe\n")
    os.chmod(path, 0o600)
    srv.args += ["--token-file", path]
    srv.start()
    for request in (b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /api/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-1234\r\n\r\n",
                    b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"):
        status, headers, _, _ = exchange(srv.port, request)
        expect_eq(status, 401, f"{request[:30]!r}")
        expect(headers.get("www-authenticate", "").startswith("Bearer"),
               f"{request[:30]!r}: WWW-Authenticate: {headers.get('www-authenticate')!r}")
    status, headers, body = upgrade(srv.port, "/ws/logs")
    expect_eq(status, 401, "an upgrade without a token")
    expect(headers.get("www-authenticate", "").startswith("Bearer"), "the upgrade's 401 too")
    # HEAD is answered like GET: 401 without a token, and still no body.
    (status, headers), _ = head_then_get(srv.port, "/api/stats")
    expect_eq(status, 401, "HEAD without a token")
    (status, _), (get_status, _, _, _) = head_then_get(srv.port, "/api/stats",
                                                       f"Authorization: Bearer {TOKEN}\r\n")
    expect_eq((status, get_status), (200, 200), "HEAD and GET with the token")
    forbidden = exchange(srv.port, f"POST /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: "
                                   f"Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n".encode())
    expect_eq(forbidden[0], 403, "a token without the role")
    expect("www-authenticate" not in forbidden[1], "no WWW-Authenticate on 403")
    srv.stop()


def test_unknown_subprotocol_is_answered():
    srv = Server().start()
    status, headers, body = upgrade(srv.port, "/ws/logs", "Sec-WebSocket-Protocol: x\r\n")
    expect_eq(status, 400, "an upgrade offering only an unknown subprotocol")
    expect_in("subprotocol", json.loads(body)["error"], "the reason")
    deadline = time.monotonic() + 5
    while "unsupported subprotocol" not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    expect_in("unsupported subprotocol", srv.stderr_text(), "a log line")
    status, headers, _ = upgrade(srv.port, "/ws/logs", "Sec-WebSocket-Protocol: x, sentinel\r\n")
    expect_eq(status, 101, "one of the offered subprotocols is ours")
    expect_eq(headers.get("sec-websocket-protocol"), "sentinel", "the one chosen")
    status, headers, _ = upgrade(srv.port, "/ws/ingest")
    expect_eq(status, 101, "no subprotocol offered")
    expect("sec-websocket-protocol" not in headers, "none chosen")
    srv.stop()


if __name__ == "__main__":
    run(test_head_on_every_get_route, test_allow_on_405, test_www_authenticate_on_401,
        test_unknown_subprotocol_is_answered)
