"""Tokens with roles, the Origin allow-list, refusing an open non-loopback
listener, and TLS (https and wss)."""

import asyncio
import json
import os
import ssl
import subprocess
import tempfile
import http.client

import websockets

from harness import BINARY, Server, Subscriber, expect, expect_eq, expect_in, raw_http, run

PUB, SUB, ADMIN = "pub-token-123456", "sub-token-123456", "admin-token-12345"


def token_server(*extra, env_tokens=None):
    srv = Server(*extra)
    path = os.path.join(srv.dir, "tokens")
    with open(path, "w") as f:
        f.write(f"# producers\n{PUB} publish\n\n{SUB} subscribe\n   {ADMIN} admin  \n")
    srv.args += ["--token-file", path]
    return srv.start()


def upgrade(srv, path, headers=""):
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n").encode()
    with __import__("socket").create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split()[1])


def bearer(token):
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_roles_on_every_endpoint():
    srv = token_server()
    ev = json.dumps({"type": "agent", "message": "x"})
    expect_eq(srv.request("POST", "/api/events", ev, {"Content-Type": "application/json"})[0],
              401, "publish without a token")
    expect_eq(srv.request("POST", "/api/events", ev, bearer("wrong-token-999"))[0], 401,
              "an unknown token")
    status, body = srv.request("POST", "/api/events", ev, bearer(SUB))
    expect_eq(status, 403, "a subscribe token may not publish")
    expect_in("may not publish", body["error"], "reason")
    expect_eq(srv.request("POST", "/api/events", ev, bearer(PUB))[0], 200, "publish token")
    expect_eq(srv.request("POST", "/api/events", ev, bearer(ADMIN))[0], 200, "admin publishes")
    expect_eq(srv.store_state(), (2, 2), "only the authorised posts were stored")

    for path in ("/api/events", "/api/stats", "/metrics"):
        expect_eq(srv.request("GET", path)[0], 401, f"GET {path} without a token")
        expect_eq(srv.request("GET", path, headers=bearer(PUB))[0], 403, f"GET {path} as publisher")
        expect_eq(srv.request("GET", path, headers=bearer(SUB))[0], 200, f"GET {path} as subscriber")
        expect_eq(srv.request("GET", f"{path}?token={ADMIN}")[0], 200, f"GET {path}?token= as admin")
    expect_eq(srv.request("GET", "/healthz")[0], 200, "/healthz needs no token")

    expect_eq(upgrade(srv, "/ws/logs"), 401, "subscribe without a token")
    expect_eq(upgrade(srv, f"/ws/logs?token={PUB}"), 403, "subscribe with a publish token")
    expect_eq(upgrade(srv, f"/ws/logs?token={SUB}"), 101, "subscribe with ?token=")
    expect_eq(upgrade(srv, "/ws/logs", f"Authorization: Bearer {SUB}\r\n"), 101, "Bearer header")
    expect_eq(upgrade(srv, f"/ws/ingest?token={SUB}"), 403, "ingest with a subscribe token")
    expect_eq(upgrade(srv, f"/ws/ingest?token={PUB}"), 101, "ingest with a publish token")

    sub = Subscriber(srv.ws_url() + f"?token={SUB}&after_id=0")
    expect_eq([m["id"] for m in sub.wait_for(2)], [1, 2], "an authorised subscriber reads")
    sub.close()
    expect(PUB not in srv.stderr_text() and SUB not in srv.stderr_text(), "tokens are never logged")


def test_tokens_from_the_environment_and_bad_files():
    os.environ["SENTINEL_TOKENS"] = f"{PUB} publish;{SUB} subscribe,publish"
    try:
        srv = Server().start()
        ev = json.dumps({"type": "agent", "message": "x"})
        expect_eq(srv.request("POST", "/api/events", ev, {"Content-Type": "application/json"})[0],
                  401, "tokens from SENTINEL_TOKENS are on")
        expect_eq(srv.request("POST", "/api/events", ev, bearer(SUB))[0], 200, "two roles")
    finally:
        del os.environ["SENTINEL_TOKENS"]
    d = tempfile.mkdtemp()
    bad = os.path.join(d, "tokens")
    with open(bad, "w") as f:
        f.write("good-token-1234 publish\nbroken-token-1234 superuser\n")
    proc = subprocess.run([BINARY, "--db", os.path.join(d, "x.db"), "--listen", "127.0.0.1:0",
                           "--token-file", bad], capture_output=True, text=True, timeout=30)
    expect(proc.returncode != 0, "a bad token file stops the server")
    expect_in(f"{bad}:2", proc.stderr, "the message names the file and line")


def test_non_loopback_needs_tokens_or_allow_anonymous():
    d = tempfile.mkdtemp()
    proc = subprocess.run([BINARY, "--db", os.path.join(d, "x.db"), "--listen", "0.0.0.0:0"],
                          capture_output=True, text=True, timeout=30)
    expect(proc.returncode != 0, "refused")
    expect_in("--allow-anonymous", proc.stderr, "the message says how to proceed")


def test_origin_allow_list():
    srv = Server("--allow-origin", "https://ops.example.com").start()
    expect_eq(upgrade(srv, "/ws/logs", "Origin: https://evil.example.net\r\n"), 403,
              "a cross-site page cannot open the stream")
    expect_eq(upgrade(srv, "/ws/logs", "Origin: https://ops.example.com\r\n"), 101, "listed origin")
    expect_eq(upgrade(srv, "/ws/logs", f"Origin: http://127.0.0.1:{srv.port}\r\n"), 101,
              "the server's own pages")
    expect_eq(upgrade(srv, "/ws/logs"), 101, "clients without an Origin are unaffected")
    status, _ = srv.request("GET", "/api/events", headers={"Origin": "https://evil.example.net"})
    expect_eq(status, 403, "HTTP reads from another origin")


def test_tls_https_and_wss():
    d = tempfile.mkdtemp()
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    srv = Server("--tls-cert", cert, "--tls-key", key)
    srv._wait_healthy = lambda: _wait_tls(srv)
    srv.start()
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=10)
    conn.request("POST", "/api/events", json.dumps({"type": "agent", "message": "over tls"}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    expect_eq(resp.status, 200, "https POST")
    expect_eq(json.loads(resp.read())["first_id"], 1, "acked")

    async def read():
        async with websockets.connect(f"wss://127.0.0.1:{srv.port}/ws/logs?after_id=0",
                                      ssl=ctx) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))
    expect_eq(asyncio.run(read())["message"], "over tls", "wss replay")


def test_connection_limit():
    srv = Server("--max-connections", "3").start()
    held = [Subscriber(srv.ws_url()) for _ in range(3)]
    expect_eq(upgrade(srv, "/ws/logs"), 503, "an upgrade past --max-connections")
    status, body = srv.request("GET", "/healthz")
    expect_eq(status, 503, "a request past --max-connections")
    expect_in("too many connections", body["error"], "reason")
    for sub in held:
        sub.close()
    import time
    time.sleep(0.3)
    expect_eq(srv.request("GET", "/healthz")[0], 200, "served again once connections closed")


def _wait_tls(srv):
    import time
    ctx = ssl._create_unverified_context()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            return False
        try:
            c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


if __name__ == "__main__":
    run(test_roles_on_every_endpoint, test_tokens_from_the_environment_and_bad_files,
        test_non_loopback_needs_tokens_or_allow_anonymous, test_origin_allow_list,
        test_tls_https_and_wss, test_connection_limit)
