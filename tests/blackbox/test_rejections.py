#!/usr/bin/python3
"""Refused requests leave a trace: a log line and a counter.

A 400, 401, 403, 413 or 415 used to leave no log line and no metric. Now
every refused request or upgrade is counted in
sentinel_requests_rejected_total{reason=...} and logged with the client's
address, the method and path, the status and its reason (at most 10 lines
per 10 seconds; the lines left out are counted in the next one). A token,
a query string or a body never appears in the log.
"""

import json
import os
import re
import socket
import time

from harness import HOST, Server, Subscriber, expect, expect_eq, expect_in, raw_http, run

ADMIN, READER = "admin-token-secret-1", "reader-token-secret-2"
SECRET_BODY = "cuerpo-que-no-debe-aparecer"


def token_server(*args):
    srv = Server(*args)
    path = os.path.join(srv.dir, "tokens")
    with open(path, "w") as f:
        f.write(f"{ADMIN} admin\n{READER} subscribe\n")
    os.chmod(path, 0o600)
    srv.args += ["--token-file", path, "--max-event-bytes", "1KiB", "--max-body-bytes", "4KiB"]
    return srv.start()


def rejected(srv):
    """sentinel_requests_rejected_total by reason."""
    status, text = srv.request("GET", "/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    expect_eq(status, 200, "GET /metrics")
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'^sentinel_requests_rejected_total\{reason="([a-z_]+)"\} (\d+)$', text,
                        re.M)}


def upgrade(port, path, headers=""):
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


def refusal_lines(srv):
    return [line for line in srv.stderr_text().splitlines() if " refused " in line]


def test_each_refusal_is_counted_and_logged():
    srv = token_server()
    before = rejected(srv)
    expect_eq(set(before), {"bad_request", "unauthorized", "forbidden", "not_found",
                            "method_not_allowed", "request_timeout", "length_required",
                            "payload_too_large", "unsupported_media_type", "other",
                            "too_many_connections"}, "every reason is listed")
    expect_eq(sum(before.values()), 0, "nothing refused yet")
    auth = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    cases = [
        ("POST", "/api/events", '{"type": "x", "message": ' + SECRET_BODY, auth, 400,
         "bad_request"),
        ("GET", f"/api/events?token=wrong-{ADMIN}", None, {}, 401, "unauthorized"),
        ("POST", "/api/events", json.dumps({"type": "x", "message": SECRET_BODY}),
         {"Authorization": f"Bearer {READER}", "Content-Type": "application/json"}, 403,
         "forbidden"),
        ("GET", "/api/stats", None, {"Origin": "https://evil.example",
                                     "Authorization": f"Bearer {ADMIN}"}, 403, "forbidden"),
        ("POST", "/api/events", json.dumps({"type": "x", "message": SECRET_BODY * 300}), auth,
         413, "payload_too_large"),
        ("POST", "/api/events", SECRET_BODY, {"Authorization": f"Bearer {ADMIN}",
                                              "Content-Type": "text/plain"}, 415,
         "unsupported_media_type"),
        ("GET", "/nope", None, {}, 404, "not_found"),
        ("DELETE", "/healthz", None, {}, 405, "method_not_allowed"),
    ]
    want = dict(before)
    for method, path, body, headers, status, reason in cases:
        got = srv.request(method, path, body=body, headers=headers)[0]
        expect_eq(got, status, f"{method} {path}")
        want[reason] += 1
    status, _ = raw_http(srv.port, f"POST /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                   f"{ADMIN}\r\nContent-Type: application/json\r\n\r\n".encode())
    expect_eq(status, 411, "POST without a Content-Length")
    want["length_required"] += 1
    # Upgrades are refused through the same record.
    expect_eq(upgrade(srv.port, "/ws/logs"), 401, "an upgrade without a token")
    expect_eq(upgrade(srv.port, f"/ws/ingest?token={READER}"), 403, "a reader's upgrade to ingest")
    expect_eq(upgrade(srv.port, f"/ws/logs?token={ADMIN}&since=ayer"), 400, "a bad parameter")
    expect_eq(upgrade(srv.port, f"/ws/logs?token={ADMIN}", "Sec-WebSocket-Protocol: x\r\n"), 400,
              "an unknown subprotocol")
    want["unauthorized"] += 1
    want["forbidden"] += 1
    want["bad_request"] += 2
    expect_eq(rejected(srv), want, "the counters")

    lines = refusal_lines(srv)
    expect_eq(len(lines), 10, "one line per refusal, up to the 10 of a window")
    expect_in("refused POST /api/events from 127.0.0.1: 400 bad_request", lines[0], "400")
    expect_in("refused GET /api/events from 127.0.0.1: 401 unauthorized", lines[1], "401")
    expect_in("403 forbidden: this token may not publish events", lines[2], "403, role")
    expect_in("403 forbidden: requests from this Origin are not allowed", lines[3],
              "403, origin")
    expect_in("413 payload_too_large", lines[4], "413")
    expect_in("415 unsupported_media_type", lines[5], "415")
    err = srv.stderr_text()
    for secret in (ADMIN, READER, SECRET_BODY, "wrong-", "ayer"):
        expect(secret not in err, f"{secret!r} appears in the log")
    srv.stop()


def test_the_log_is_bounded():
    srv = Server().start()
    for i in range(30):
        expect_eq(srv.request("GET", f"/nope/{i}")[0], 404, "GET of a missing path")
    expect_eq(len(refusal_lines(srv)), 10, "10 lines in a window, however many refusals")
    status, text = srv.request("GET", "/metrics")
    expect_in('sentinel_requests_rejected_total{reason="not_found"} 30', text, "all counted")
    time.sleep(10.2)
    expect_eq(srv.request("GET", "/nope/again")[0], 404, "after the window")
    expect_in("20 more refused requests were not logged", srv.stderr_text(),
              "the lines left out are counted")
    expect_in("refused GET /nope/again", refusal_lines(srv)[-1], "and logging goes on")
    srv.stop()


def test_connection_limit_is_counted():
    srv = Server("--max-connections", "2").start()
    held = [Subscriber(srv.ws_url()) for _ in range(2)]
    expect_eq(upgrade(srv.port, "/ws/logs"), 503, "an upgrade past the limit")
    expect_eq(srv.request("GET", "/healthz")[0], 503, "a request past the limit")
    for sub in held:
        sub.close()
    time.sleep(0.3)
    status, text = srv.request("GET", "/metrics")
    expect_in('sentinel_requests_rejected_total{reason="too_many_connections"} 2', text,
              "both refusals counted")
    expect_in("503 too_many_connections", srv.stderr_text(), "and logged")
    srv.stop()


if __name__ == "__main__":
    run(test_each_refusal_is_counted_and_logged, test_the_log_is_bounded,
        test_connection_limit_is_counted)
