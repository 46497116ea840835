#!/usr/bin/python3
"""--listen with host names and IPv6, and refusing to run listening on nothing.

`--listen localhost:PORT` and `--listen [::1]:PORT` used to run with no
listening socket at all, logging that they listened. Names are now resolved
and IPv6 literals bound; an IPv4 address is bound alone (never the IPv6
wildcard); and a server that cannot listen (a name that does not resolve,
an address of another host, a port in use) exits non-zero with a message
naming the address, before it creates the store.
"""

import http.client
import json
import os
import socket
import subprocess
import tempfile
import time

from harness import (BINARY, HOST, Server, Subscriber, TestFailure, expect, expect_eq, expect_in,
                     free_port, run)


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port6():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def get(host, port, path):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def refuses_connections(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect((host, port))
        except OSError:
            return True
    return False


class Named(Server):
    """A Server whose --listen is given verbatim (not 127.0.0.1:PORT)."""

    def __init__(self, listen, host, port):
        super().__init__(port=port)
        self.listen, self.host = listen, host

    def start(self):
        """Start once: a fixed address that fails to serve is the failure."""
        self._spawn()
        if not self._wait_healthy():
            raise TestFailure(f"--listen {self.listen}: nothing answers on "
                              f"{self.host} port {self.port}: {self.stderr_text().strip()}")
        return self

    def _spawn(self):
        self.runs += 1
        cmd = [BINARY, "--listen", self.listen, "--db", self.db_path]
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)

    def _wait_healthy(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if get(self.host, self.port, "/healthz")[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False


def test_host_name():
    port = free_port()
    # What the resolver makes of "localhost" here: the server binds the first.
    first = socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)[0][4][0]
    srv = Named(f"localhost:{port}", first, port)
    srv.start()
    expect_in(f"listening on http://localhost:{port}", srv.stderr_text(), "the log line")
    status, body = get(first, port, "/healthz")
    expect_eq(status, 200, f"GET /healthz on {first}")
    conn = http.client.HTTPConnection(first, port, timeout=10)
    conn.request("POST", "/api/events", json.dumps({"type": "system", "message": "por nombre"}),
                 {"Content-Type": "application/json"})
    expect_eq(conn.getresponse().status, 200, "POST through a named --listen")
    conn.close()
    srv.stop()


def test_ipv6_literal():
    if not has_ipv6_loopback():
        print("  (no IPv6 loopback on this machine: skipped)")
        return
    port = free_port6()
    srv = Named(f"[::1]:{port}", "::1", port)
    srv.start()
    expect_in(f"listening on http://[::1]:{port}", srv.stderr_text(), "the log line")
    sub = Subscriber(f"ws://[::1]:{port}/ws/logs?after_id=0")
    conn = http.client.HTTPConnection("::1", port, timeout=10)
    conn.request("POST", "/api/events", json.dumps({"type": "system", "message": "sobre IPv6"}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    expect_eq(resp.status, 200, "POST over IPv6")
    expect_eq(json.loads(resp.read())["first_id"], 1, "acknowledged id")
    conn.close()
    expect_eq(sub.wait_for(1)[0]["message"], "sobre IPv6", "the live feed over IPv6")
    sub.close()
    expect(refuses_connections("127.0.0.1", port), "[::1] is not also 127.0.0.1")
    srv.stop()


def test_ipv4_address_is_bound_alone():
    srv = Server().start()
    expect_eq(srv.request("GET", "/healthz")[0], 200, "127.0.0.1 serves")
    if has_ipv6_loopback():
        expect(refuses_connections("::1", srv.port),
               "--listen 127.0.0.1 must not listen on IPv6 addresses too")
    # Another address of this machine, when it has one.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            other = s.getsockname()[0]
    except OSError:
        other = None
    if other and not other.startswith("127."):
        expect(refuses_connections(other, srv.port), f"--listen 127.0.0.1 must not serve {other}")
    srv.stop()


def not_local_address():
    for candidate in ("203.0.113.77", "198.51.100.77", "192.0.2.254"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((candidate, 0))
            except OSError:
                return candidate
    return None


def refused_before_the_store(listen, *words):
    d = tempfile.mkdtemp(prefix="sentinel-bb-listen-")
    db = os.path.join(d, "store", "sentinel.db")
    try:
        p = subprocess.run([BINARY, "--listen", listen, "--db", db, "--allow-anonymous"],
                           capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"--listen {listen}: the server kept running")
    err = p.stderr.decode("utf-8", "replace")
    expect(p.returncode != 0, f"--listen {listen}: exit code {p.returncode}")
    for word in words:
        expect_in(word, err, f"--listen {listen}: the message")
    expect(not os.path.exists(os.path.dirname(db)),
           f"--listen {listen}: the store (or its folder) was created: {os.listdir(d)}")
    expect_eq(os.listdir(d), [], f"--listen {listen}: nothing was created")


def test_cannot_listen_exits_before_the_store():
    refused_before_the_store("no-such-host.invalid:8000", "no-such-host.invalid",
                             "cannot resolve")
    other = not_local_address()
    if other:
        port = free_port()
        refused_before_the_store(f"{other}:{port}", f"cannot listen on {other}:{port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        s.listen()
        port = s.getsockname()[1]
        refused_before_the_store(f"{HOST}:{port}", f"cannot listen on {HOST}:{port}")


if __name__ == "__main__":
    run(test_host_name, test_ipv6_literal, test_ipv4_address_is_bound_alone,
        test_cannot_listen_exits_before_the_store)
