"""Black-box test harness: run the real sentinel-logd binary and talk to it.

A Server starts the binary named by $SENTINEL_LOGD on a free loopback port
with a fresh store in a temporary folder, waits until GET /healthz answers
200, and keeps the server's stderr in a file that is printed when a test
fails. Helpers post events over HTTP, subscribe to /ws/logs (websockets on
asyncio, in a thread so that tests stay plain functions) and open the store
file read-only with sqlite3.

Each test file is a standalone program: run(test_a, test_b, ...) runs the
tests, prints what failed with both values, and exits non-zero on failure.
"""

import asyncio
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import websockets

BINARY = os.environ.get("SENTINEL_LOGD", "")
HOST = "127.0.0.1"
# Generous waits: the suite also runs against an ASan+UBSan build.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


# ---------------------------------------------------------------- assertions

class TestFailure(AssertionError):
    pass


def expect(cond, what):
    if not cond:
        raise TestFailure(what)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise TestFailure(f"{what}:\n  expected: {_short(expected)}\n  actual:   {_short(actual)}")


def expect_in(needle, haystack, what):
    if needle not in haystack:
        raise TestFailure(f"{what}: {_short(needle)} not found in {_short(haystack)}")


def _short(v, limit=2000):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} chars)"


def run(*tests):
    """Run each test function; print a summary; exit 1 if any failed."""
    if not BINARY or not os.access(BINARY, os.X_OK):
        print(f"SENTINEL_LOGD must name the server binary (got {BINARY!r})")
        sys.exit(2)
    passed = failed = 0
    for test in tests:
        Server.started = []
        t0 = time.monotonic()
        try:
            test()
        except Exception:  # noqa: BLE001 - report every kind of failure
            failed += 1
            print(f"FAIL {test.__name__} ({time.monotonic() - t0:.2f}s)")
            traceback.print_exc(file=sys.stdout)
            for srv in Server.started:
                srv.print_stderr()
        else:
            passed += 1
            print(f"ok   {test.__name__} ({time.monotonic() - t0:.2f}s)")
        finally:
            for srv in Server.started:
                srv.cleanup()
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


_scratch_dirs = []


def rss_kib(pid):
    """A process's resident memory in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure(f"no VmRSS for process {pid}")


def scratch_dir(prefix="sentinel-bb-"):
    """A new temporary folder, removed when the test program exits."""
    d = tempfile.mkdtemp(prefix=prefix)
    if not _scratch_dirs:
        atexit.register(lambda: [shutil.rmtree(x, ignore_errors=True) for x in _scratch_dirs])
    _scratch_dirs.append(d)
    return d


# ---------------------------------------------------------------- the server

def free_port():
    """A port the OS says is free now (it may be taken before we use it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    started = []  # servers of the running test, for diagnosis and cleanup

    def __init__(self, *args, sync="normal", db=None, port=None, env=None, own_flags=True,
                 binary=None):
        self.dir = tempfile.mkdtemp(prefix="sentinel-bb-")
        self.binary = binary or BINARY  # another build of the server, e.g. the crash test one
        self.db_path = db or os.path.join(self.dir, "store", "sentinel.db")
        self.args = list(args)
        # Added to (or replacing) the environment the server starts with.
        self.env = dict(env or {})
        # False: pass only args, no --listen, --db or --sync (the port and
        # the store then come from the configuration; give port).
        self.own_flags = own_flags
        self.sync = sync
        self.port = port
        self.proc = None
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.runs = 0
        Server.started.append(self)

    # -- lifetime

    def start(self):
        """Start (or restart) on our port; pick a free port the first time."""
        fixed = self.port is not None
        for _ in range(20):
            if not fixed:
                self.port = free_port()
            log_start = len(self.stderr_text())
            self._spawn()
            if self._wait_healthy():
                return self
            code = self.proc.wait()
            said = self.stderr_text()[log_start:]
            if "listen" not in said:
                raise TestFailure(f"server exited with {code} at start: {said.strip()}")
            # A lost bind race (another process took the port, or the old
            # socket of a killed server is still closing): try again.
            time.sleep(0.1 if not fixed else 0.25)
        raise TestFailure(f"server did not start on {HOST}:{self.port}")

    def _spawn(self):
        self.runs += 1
        cmd = [self.binary, "--listen", f"{HOST}:{self.port}", "--db", self.db_path,
               "--sync", self.sync, *self.args]
        if not self.own_flags:
            cmd = [self.binary, *self.args]
        with open(self.stderr_path, "ab") as err:
            err.write(f"--- run {self.runs}: {' '.join(cmd)}\n".encode())
            if self.env:
                err.write(f"    with {self.env}\n".encode())
            err.flush()
            # No configuration file (not the machine's) unless a test names one.
            env = {**os.environ, "SENTINEL_CONFIG": "", **self.env}
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, env=env)

    def _wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                status, _ = self.request("GET", "/healthz", timeout=2)
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        self.proc.kill()
        raise TestFailure(f"GET /healthz did not answer 200 within {START_TIMEOUT}s")

    def stop(self, expect_code=0):
        """SIGTERM, wait, and check the exit code (None: do not check)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure(f"server did not stop within {STOP_TIMEOUT}s of SIGTERM")
        if expect_code is not None:
            expect_eq(code, expect_code, "exit code after SIGTERM")
        return code

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self):
        """Start again on the same store and port."""
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def print_stderr(self, tail=200):
        lines = self.stderr_text().splitlines()
        print(f"--- server stderr ({self.stderr_path}), last {tail} lines:")
        for line in lines[-tail:]:
            print("  " + line)

    # -- addresses

    @property
    def base(self):
        return f"http://{HOST}:{self.port}"

    def ws_url(self, path="/ws/logs"):
        return f"ws://{HOST}:{self.port}{path}"

    # -- HTTP

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One request on a fresh connection: (status, parsed JSON or text)."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, parse_body(resp.read())
        finally:
            conn.close()

    def post(self, events, content_type="application/json"):
        """POST /api/events. events: a list/dict (sent as JSON) or raw bytes/str."""
        return self.request("POST", "/api/events", body=encode(events),
                            headers={"Content-Type": content_type})

    def client(self):
        return Client(self.port)

    # -- the store file

    def db(self):
        """A read-only sqlite3 connection to the store."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        return conn

    def store_state(self):
        """(row count, max id) of the journal."""
        conn = self.db()
        try:
            return conn.execute("SELECT count(*), coalesce(max(id), 0) FROM journal").fetchone()
        finally:
            conn.close()

    def rows(self):
        """Every journal row as (id, type, body text), in id order."""
        conn = self.db()
        try:
            return conn.execute("SELECT id, type, body FROM journal ORDER BY id").fetchall()
        finally:
            conn.close()


def encode(events):
    if isinstance(events, bytes):
        return events
    if isinstance(events, str):
        return events.encode("utf-8")
    return json.dumps(events, ensure_ascii=False).encode("utf-8")


def parse_body(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class Client:
    """A keep-alive HTTP connection (one request at a time)."""

    def __init__(self, port, timeout=30):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def post(self, events, content_type="application/json"):
        self.conn.request("POST", "/api/events", body=encode(events),
                          headers={"Content-Type": content_type})
        resp = self.conn.getresponse()
        return resp.status, parse_body(resp.read())

    def close(self):
        self.conn.close()


def raw_http(port, data, timeout=10):
    """Send raw bytes, read until the server closes or a full response came.

    Returns (status, parsed body). For requests http.client cannot make
    (no Content-Length, a body the server refuses before reading it).
    """
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before taking everything
        buf = b""
        while True:
            head, sep, rest = buf.partition(b"\r\n\r\n")
            if sep:
                length = None
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                if length is not None and len(rest) >= length:
                    return int(head.split()[1]), parse_body(rest[:length])
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                if not sep:
                    raise TestFailure(f"connection closed without a response: {buf[:200]!r}")
                return int(head.split()[1]), parse_body(rest)
            buf += chunk


# ---------------------------------------------------------------- WebSocket

class Subscriber:
    """A /ws/logs (or any WebSocket) client in its own thread.

    Collects every text message; messages() returns them so far,
    wait_for(n) blocks until n have arrived. close_code is set once the
    connection is closed.
    """

    def __init__(self, url):
        self.url = url
        self.raw = []
        self.cond = threading.Condition()
        self.opened = threading.Event()
        self.closed = threading.Event()
        self.close_code = None
        self.error = None
        self._ws = None
        self._loop = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self.opened.wait(START_TIMEOUT) or self.error:
            raise TestFailure(f"cannot connect to {url}: {self.error!r}")

    async def _main(self):
        try:
            async with websockets.connect(self.url, max_size=None, compression=None,
                                          ping_interval=None) as ws:
                self._ws, self._loop = ws, asyncio.get_running_loop()
                self.opened.set()
                try:
                    async for message in ws:
                        with self.cond:
                            self.raw.append(message)
                            self.cond.notify_all()
                except websockets.ConnectionClosed:
                    pass
                self.close_code = ws.close_code
        except Exception as e:  # noqa: BLE001 - reported by the constructor
            self.error = e
            self.opened.set()
        finally:
            self.closed.set()
            with self.cond:
                self.cond.notify_all()

    def wait_for(self, n, timeout=30.0):
        """Block until n messages arrived; returns them parsed."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.raw) < n and not self.closed.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            got = list(self.raw)
        expect(len(got) >= n, f"{self.url}: waited for {n} messages, got {len(got)}")
        return [json.loads(m) for m in got]

    def messages(self):
        with self.cond:
            return [json.loads(m) for m in self.raw]

    def wait_closed(self, timeout=30.0):
        expect(self.closed.wait(timeout), f"{self.url}: not closed within {timeout}s")
        return self.close_code

    def send(self, text):
        asyncio.run_coroutine_threadsafe(self._ws.send(text), self._loop).result(10)

    def close(self):
        if self._ws and not self.closed.is_set():
            asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(10)
        self.closed.wait(10)


# ---------------------------------------------------------------- HTTP streams

class HttpStream:
    """GET a streamed response (GET /api/stream) on a raw socket, read in a thread.

    The body is decoded here, not by a library, so that tests see the
    framing: `chunked` says whether it came in chunks, `clean_end` whether
    it ended with the last chunk (a body without chunks ends at close).
    lines() returns the body's lines so far (without their "\n").
    With read=False the thread reads the head, then nothing until resume(),
    so the socket's buffers fill and TCP pushes back on the server. With
    on_line, each complete line is handed to it instead of being kept.
    """

    def __init__(self, port, path, headers=None, http10=False, read=True, rcvbuf=None,
                 on_line=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(START_TIMEOUT)
        self.sock.connect((HOST, port))
        version = "HTTP/1.0" if http10 else "HTTP/1.1"
        head = f"GET {path} {version}\r\nHost: {HOST}:{port}\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        self.status = None
        self.headers = {}
        self.chunked = False
        self.clean_end = False
        self.body = b""  # the decoded body so far (without on_line)
        self.on_line = on_line
        self._rest = b""  # an incomplete last line (with on_line)
        self.error = None
        self.cond = threading.Condition()
        self.head_read = threading.Event()
        self.closed = threading.Event()
        self.go = threading.Event()
        if read:
            self.go.set()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        if not self.head_read.wait(START_TIMEOUT):
            raise TestFailure(f"no response head for GET {path}")

    def _recv(self):
        try:
            return self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            return b""

    def _main(self):
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                data = self._recv()
                if not data:
                    raise ConnectionError(f"closed before the head: {buf[:200]!r}")
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
            self.head_read.set()
            self.go.wait()
            self.sock.settimeout(None)
            if self.chunked:
                self._read_chunks(buf)
            else:
                self._add(buf)
                while data := self._recv():
                    self._add(data)
        except Exception as e:  # noqa: BLE001 - checked by the test
            self.error = e
        finally:
            self.head_read.set()
            self.closed.set()
            with self.cond:
                self.cond.notify_all()

    def _read_chunks(self, buf):
        while True:
            while b"\r\n" not in buf:
                data = self._recv()
                if not data:
                    return  # closed without the last chunk
                buf += data
            line, _, buf = buf.partition(b"\r\n")
            size = int(line, 16)
            while len(buf) < size + 2:
                data = self._recv()
                if not data:
                    return
                buf += data
            if buf[size:size + 2] != b"\r\n":
                raise ValueError(f"a chunk of {size} bytes is not followed by CRLF")
            if size == 0:
                self.clean_end = True
                return
            self._add(buf[:size])
            buf = buf[size + 2:]

    def _add(self, data):
        if self.on_line:
            parts = (self._rest + data).split(b"\n")
            self._rest = parts.pop()
            for line in parts:
                self.on_line(line.decode("utf-8"))
            return
        with self.cond:
            self.body += data
            self.cond.notify_all()

    def resume(self):
        self.go.set()

    def lines(self):
        """Complete lines of the body so far."""
        with self.cond:
            text = self.body.decode("utf-8")
        return text.split("\n")[:-1]

    def wait(self, pred, timeout=30.0, what="the stream"):
        """Block until pred(self) is true; returns its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = pred(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self.closed.is_set():
                    break
                self.cond.wait(min(left, 0.5))
        value = pred(self)
        if not value:
            raise TestFailure(f"timed out waiting for {what}; body so far: "
                              f"{_short(self.body.decode('utf-8', 'replace'), 600)}")
        return value

    def wait_closed(self, timeout=30.0):
        expect(self.closed.wait(timeout), f"stream not closed within {timeout}s")

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.go.set()
        self._thread.join(10)


def ndjson(stream):
    """The JSON objects of an NDJSON stream's lines (blank keepalive lines skipped)."""
    return [json.loads(line) for line in stream.lines() if line]


def sse_events(stream):
    """The Server-Sent Events of a stream: a dict per event, with "data" parsed as JSON.

    Keys: "event" (the name, "message" when none), "id" (a string, or
    None), "data"; comment blocks (keepalives) and "retry" fields are
    returned as {"comment": text} and {"retry": ms}.
    """
    out, cur = [], {}
    for line in stream.lines():
        if line == "":
            if cur:
                if "data" in cur:
                    cur["data"] = json.loads(cur["data"])
                    cur.setdefault("event", "message")
                    cur.setdefault("id", None)
                out.append(cur)
            cur = {}
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "":
            cur["comment"] = value
        elif field == "retry":
            cur["retry"] = int(value)
        elif field == "data":
            cur["data"] = cur["data"] + "\n" + value if "data" in cur else value
        else:
            cur[field] = value
    return out


def sse_data(stream):
    """The events' data (JSON objects) of an SSE stream, unnamed events only."""
    return [e["data"] for e in sse_events(stream) if e.get("event") == "message"]


# ---------------------------------------------------------------- events

# Every example event of the seed document, in its order.
SEED_EVENTS = [
    {"type": "system", "message": "Sentinel AI Iniciado (Modo API) 🚀",
     "timestamp": "2026-03-09T14:00:00.123456"},
    {"type": "system", "message": "Ejecutando ciclo de analisis bajo demanda...",
     "timestamp": "2026-03-09T14:05:00.123456"},
    {"type": "system", "message": "Agente pausado esperando aprobacion.",
     "timestamp": "2026-03-09T14:10:00.123456"},
    {"type": "system", "message": "Ciclo de analisis completado.",
     "timestamp": "2026-03-09T14:15:00.123456"},
    {"type": "error", "message": "Error critico durante la ejecucion del agente: Connection timeout",
     "timestamp": "2026-03-09T14:20:00.123456",
     "data": {"error_type": "ConnectionTimeout", "service": "postgresql"}},
    {"type": "config", "message": "Servicio 'mongodb' agregado al monitoreo.",
     "timestamp": "2026-03-09T14:25:00.123456",
     "data": {"service_name": "mongodb", "action": "added"}},
    {"type": "config", "message": "Servicio 'oldservice' eliminado del monitoreo.",
     "timestamp": "2026-03-09T14:30:00.123456",
     "data": {"service_name": "oldservice", "action": "removed"}},
    {"type": "agent", "message": "Diagnosticando servicio postgresql",
     "timestamp": "2026-03-09T14:35:00.123456",
     "data": {"step": "diagnose", "service": "postgresql"}},
    {"type": "agent", "message": "Ejecutando remediacion: reiniciar servicio",
     "timestamp": "2026-03-09T14:40:00.123456",
     "data": {"step": "remediate", "action": "restart", "service": "postgresql"}},
    {"type": "monitor", "message": "Servicio nginx esta funcionando correctamente",
     "timestamp": "2026-03-09T14:45:00.123456",
     "data": {"service": "nginx", "status": "running"}},
    {"type": "monitor", "message": "Servicio redis no responde",
     "timestamp": "2026-03-09T14:50:00.123456",
     "data": {"service": "redis", "status": "stopped"}},
]


def ids_of(ack):
    """The ids an ingest answer acknowledged."""
    return list(range(ack["first_id"], ack["last_id"] + 1))


def with_id(event, event_id):
    out = {"id": event_id}
    out.update(event)
    return out
