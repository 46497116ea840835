"""A NATS JetStream cluster on loopback for the cluster tests.

NatsCluster(3) writes a config for each nats-server (client, route and
monitoring ports all on 127.0.0.1, picked free), starts them, and waits
until the JetStream meta group has a leader. Servers are stopped and
restarted by index; the monitoring endpoint (/jsz) tells the stream's
leader and each replica's last sequence.

NatsClient speaks just enough of the NATS text protocol to call the
JetStream API (request/reply), for what the tests do behind the nodes'
backs: delete a stream, ask a leader to step down.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from harness import HOST, TestFailure, free_port

NATS_SERVER = os.environ.get("NATS_SERVER", "/usr/sbin/nats-server")


class NatsCluster:
    def __init__(self, size=3):
        self.dir = tempfile.mkdtemp(prefix="sentinel-nats-")
        self.size = size
        self.client_ports = [free_port() for _ in range(size)]
        self.route_ports = [free_port() for _ in range(size)]
        self.http_ports = [free_port() for _ in range(size)]
        self.procs = [None] * size
        routes = ", ".join(f"nats-route://{HOST}:{p}" for p in self.route_ports)
        for i in range(size):
            with open(self._conf(i), "w") as f:
                f.write(f"""server_name: n{i + 1}
listen: {HOST}:{self.client_ports[i]}
http: {HOST}:{self.http_ports[i]}
jetstream {{ store_dir: "{self.dir}/data/n{i + 1}", max_memory_store: 64MB, max_file_store: 2GB }}
cluster {{ name: sentinel, listen: {HOST}:{self.route_ports[i]}, routes: [{routes}] }}
""")

    def _conf(self, i):
        return os.path.join(self.dir, f"n{i + 1}.conf")

    @property
    def urls(self):
        return ",".join(f"nats://{HOST}:{p}" for p in self.client_ports)

    def start(self, i=None):
        for j in range(self.size) if i is None else [i]:
            log = open(os.path.join(self.dir, f"n{j + 1}.log"), "ab")
            self.procs[j] = subprocess.Popen([NATS_SERVER, "-c", self._conf(j)],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.wait_meta_leader()
        return self

    def kill9(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def stop(self, i):
        self.procs[i].send_signal(signal.SIGTERM)
        self.procs[i].wait(30)

    def cleanup(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def jsz(self, i):
        url = f"http://{HOST}:{self.http_ports[i]}/jsz?streams=true"
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())

    def wait_meta_leader(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, p in enumerate(self.procs):
                if p is None or p.poll() is not None:
                    continue
                try:
                    if (self.jsz(i).get("meta_cluster") or {}).get("leader"):
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise TestFailure("the NATS cluster elected no JetStream leader")

    def stream_detail(self, i, name):
        for account in self.jsz(i).get("account_details", []):
            for s in account.get("stream_detail", []):
                if s["name"] == name:
                    return s
        return None

    def stream_leader(self, name, timeout=30):
        """The index of the server leading the stream."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, p in enumerate(self.procs):
                if p is None or p.poll() is not None:
                    continue
                try:
                    s = self.stream_detail(i, name)
                except OSError:
                    continue
                leader = ((s or {}).get("cluster") or {}).get("leader")
                if leader:
                    return int(leader[1:]) - 1
            time.sleep(0.1)
        raise TestFailure(f"the stream {name} has no leader")

    def last_seqs(self, name):
        """Each running server's last sequence of the stream."""
        seqs = []
        for i, p in enumerate(self.procs):
            if p is None or p.poll() is not None:
                continue
            s = self.stream_detail(i, name)
            seqs.append(s["state"]["last_seq"] if s else None)
        return seqs

    def client(self, i=0):
        return NatsClient(self.client_ports[i])


class NatsClient:
    """Requests over the NATS text protocol (enough for the JetStream API)."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        self._line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n'
                          b"SUB _INBOX.sentinel-test 1\r\nPING\r\n")
        while self._line() != b"PONG":
            pass

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise TestFailure("NATS closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _read(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, payload=b""):
        """Publish payload to subject and return the reply, parsed as JSON."""
        self.sock.sendall(b"PUB %s _INBOX.sentinel-test %d\r\n%s\r\n"
                          % (subject.encode(), len(payload), payload))
        while True:
            line = self._line()
            if line.startswith(b"MSG "):
                return json.loads(self._read(int(line.split()[-1])))
            if line.startswith(b"HMSG "):
                parts = line.split()
                raw = self._read(int(parts[-1]))
                return json.loads(raw[int(parts[-2]):] or b"{}")
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")

    def close(self):
        self.sock.close()
