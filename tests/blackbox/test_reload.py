#!/usr/bin/python3
"""SIGHUP reloads the token file and the TLS certificate and key.

SIGHUP used to kill the server (exit 129, no clean stop). Now it reloads:
new requests and handshakes use the new tokens and the new certificate;
a bad new file is refused with a log line and the old one stays in use;
no connection is dropped, and the server still stops cleanly afterwards.
"""

import asyncio
import http.client
import json
import os
import signal
import ssl
import subprocess
import threading
import time

import websockets

from harness import Server, Subscriber, expect, expect_eq, expect_in, ids_of, run

OLD, NEW = "old-token-12345", "new-token-67890"


def make_cert(d, name):
    cert, key = os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", f"/CN={name}"], check=True,
                   capture_output=True, timeout=60)
    return cert, key


def der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def served_cert(port):
    """The certificate a new TLS connection gets, in DER."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context(), timeout=10)
    conn.connect()
    try:
        return conn.sock.getpeercert(binary_form=True)
    finally:
        conn.close()


def https(port, method, path, token=None, body=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPSConnection("127.0.0.1", port, context=context(), timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        if own:
            conn.close()


def write(path, text):
    # Replace the file as an operator's tools do: write beside, rename over.
    with open(path + ".new", "w") as f:
        f.write(text)
    os.chmod(path + ".new", 0o600)
    os.replace(path + ".new", path)


def copy(src, dst):
    with open(src) as f:
        write(dst, f.read())


class WssSubscriber:
    """A wss:// /ws/logs client in its own thread, collecting messages."""

    def __init__(self, url, token):
        self.messages, self.closed = [], threading.Event()
        self.opened = threading.Event()
        self.url, self.token = url, token
        threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True).start()
        expect(self.opened.wait(30), f"cannot connect to {url}")

    async def _main(self):
        try:
            async with websockets.connect(f"{self.url}?token={self.token}", ssl=context(),
                                          ping_interval=None) as ws:
                self.opened.set()
                async for m in ws:
                    self.messages.append(json.loads(m))
        except Exception:  # noqa: BLE001 - closed is what the test looks at
            pass
        finally:
            self.opened.set()
            self.closed.set()

    def wait_for(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline and not self.closed.is_set():
            time.sleep(0.02)
        return list(self.messages)


def hup(srv, count):
    """SIGHUP, then wait until the server has logged count reloads."""
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while srv.stderr_text().count("received SIGHUP") < count:
        expect(time.monotonic() < deadline, "no reload logged within 10 s of SIGHUP")
        expect(srv.running(), f"the server died on SIGHUP (exit {srv.proc.poll()})")
        time.sleep(0.02)
    time.sleep(0.1)  # the lines that follow it


def test_reload_tokens_and_certificate():
    srv = Server()
    one_cert, one_key = make_cert(srv.dir, "uno")
    two_cert, two_key = make_cert(srv.dir, "dos")
    cert, key = os.path.join(srv.dir, "server.crt"), os.path.join(srv.dir, "server.key")
    tokens = os.path.join(srv.dir, "tokens")
    copy(one_cert, cert)
    copy(one_key, key)
    write(tokens, f"{OLD} admin\n")
    srv.args += ["--tls-cert", cert, "--tls-key", key, "--token-file", tokens]
    srv._wait_healthy = lambda: _wait_tls(srv)
    srv.start()
    port = srv.port
    expect_eq(served_cert(port), der(one_cert), "the first certificate is served")

    # Connections made before the reload: a subscriber and a keep-alive client.
    sub = WssSubscriber(f"wss://127.0.0.1:{port}/ws/logs", OLD)
    keep = http.client.HTTPSConnection("127.0.0.1", port, context=context(), timeout=10)
    status, body = https(port, "POST", "/api/events", OLD,
                         json.dumps({"type": "system", "message": "antes"}), conn=keep)
    expect_eq(status, 200, "post before the reload")

    # New files, then SIGHUP.
    copy(two_cert, cert)
    copy(two_key, key)
    write(tokens, f"{NEW} admin\n")
    hup(srv, 1)
    err = srv.stderr_text()
    expect_in("reload: 1 token(s)", err, "the token reload is logged")
    expect_in("reload: TLS certificate", err, "the certificate reload is logged")
    expect_in("CN=dos", err, "the log names the new certificate")
    expect_eq(served_cert(port), der(two_cert), "new connections get the new certificate")
    expect_eq(https(port, "GET", "/api/stats", OLD)[0], 401, "the old token is gone")
    expect_eq(https(port, "GET", "/api/stats", NEW)[0], 200, "the new token works")

    # Nothing was dropped: the subscriber and the keep-alive client go on.
    status, body = https(port, "POST", "/api/events", NEW,
                         json.dumps({"type": "system", "message": "después"}), conn=keep)
    expect_eq(status, 200, "the keep-alive connection still serves (with a new token)")
    got = sub.wait_for(2)
    expect_eq([m["message"] for m in got], ["antes", "después"],
              "the subscriber from before the reload receives both events")
    expect(not sub.closed.is_set(), "the subscriber is still connected")

    # Bad new files are refused; what is in use stays in use.
    write(tokens, "this is not a token line\n")
    copy(one_cert, cert)  # with the second key: they do not belong together
    hup(srv, 2)
    err = srv.stderr_text()
    expect_in("tokens not reloaded", err, "a bad token file is refused with a log line")
    expect_in("tokens:1", err, "the log line names the file and line")
    expect_in("TLS certificate not reloaded", err, "a mismatched pair is refused")
    expect_in("does not belong", err, "the log line says why")
    expect_eq(https(port, "GET", "/api/stats", NEW)[0], 200, "the tokens in use stay")
    expect_eq(served_cert(port), der(two_cert), "the certificate in use stays")
    expect(NEW not in srv.stderr_text() and OLD not in srv.stderr_text(),
           "tokens are never logged")
    keep.close()
    srv.stop(expect_code=0)
    expect(sub.closed.wait(30), "the subscriber is closed by the stop")


def test_sighup_without_files_keeps_serving():
    # The report: SIGHUP killed the server with exit code 129.
    srv = Server().start()
    sub = Subscriber(srv.ws_url())
    hup(srv, 1)
    status, ack = srv.post([{"type": "system", "message": "sigue"}])
    expect_eq(status, 200, "post after SIGHUP")
    expect_eq([e["id"] for e in sub.wait_for(1)], ids_of(ack), "the subscriber goes on")
    expect_eq(srv.stop(expect_code=None), 0, "exit code after SIGHUP and SIGTERM")
    expect_in("stopped cleanly", srv.stderr_text(), "a clean stop")


def _wait_tls(srv):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            return False
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context(),
                                               timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


if __name__ == "__main__":
    run(test_reload_tokens_and_certificate, test_sighup_without_files_keeps_serving)
