"""The server as a service: systemd notifications, log formats and /metrics.

Type=notify is checked without systemd: the test binds the datagram socket
that NOTIFY_SOCKET names, as systemd does, and reads READY=1 (sent only once
the server answers) and STOPPING=1. Journal lines are checked by pointing
JOURNAL_STREAM at the file the server's standard error goes to.
"""

import json
import os
import re
import socket
import time

from harness import (Server, Subscriber, expect, expect_eq, expect_in, free_port, run,
                     scratch_dir)

DEFAULT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (debug|info|warn|error) \S")


def notify_socket():
    d = scratch_dir("sentinel-notify-")
    path = os.path.join(d, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(30)
    return s, path


def receive(sock):
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)


def test_notify_ready_and_stopping():
    sock, path = notify_socket()
    srv = Server(env={"NOTIFY_SOCKET": path})
    srv.start()
    msg = receive(sock)
    expect_eq(msg.get("READY"), "1", f"the first notification: {msg}")
    expect_eq(msg.get("STATUS"), f"listening on http://127.0.0.1:{srv.port}", "the status line")
    srv.stop()
    msg = receive(sock)
    expect_eq(msg, {"STOPPING": "1"}, "the notification at stop")
    sock.close()


def test_ready_only_once_listening():
    # READY=1 must come after the server can answer: a request sent right
    # when it arrives is answered.
    sock, path = notify_socket()
    srv = Server(env={"NOTIFY_SOCKET": path}, port=free_port())
    srv._spawn()
    msg = receive(sock)
    expect_eq(msg.get("READY"), "1", "READY=1")
    status, body = srv.request("GET", "/healthz", timeout=5)
    expect_eq(status, 200, "healthz right after READY=1")
    srv.stop()
    # A server that cannot start never says READY.
    sock2, path2 = notify_socket()
    bad = Server("--retain-age", "1d", env={"NOTIFY_SOCKET": path2}, port=free_port())
    os.makedirs(os.path.dirname(bad.db_path))
    with open(bad.db_path, "wb") as f:
        f.write(os.urandom(4096))
    bad._spawn()
    expect(bad.proc.wait(30) != 0, "a garbage store stops the start")
    sock2.settimeout(0.5)
    try:
        data = sock2.recv(4096)
    except socket.timeout:
        data = b""
    expect(b"READY=1" not in data, f"no READY=1 from a failed start: {data!r}")


def journal_env(srv):
    """JOURNAL_STREAM naming the file the server's standard error goes to."""
    open(srv.stderr_path, "ab").close()
    st = os.stat(srv.stderr_path)
    return {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}


def harness_free(text):
    """The server's own lines of a stderr log: not the harness's notes on each run."""
    return [l for l in text.splitlines() if not l.startswith(("--- run", "    with "))]


def test_journal_lines():
    srv = Server("-v")
    srv.env.update(journal_env(srv))
    srv.start()
    srv.stop()
    lines = harness_free(srv.stderr_text())
    expect(len(lines) >= 3, f"lines: {lines}")
    for line in lines:
        expect(re.match(r"^<[3467]>\S", line), f"a priority and no timestamp: {line!r}")
    listening = f"<6>sentinel-logd listening on http://127.0.0.1:{srv.port} "
    expect(any(l.startswith(listening) for l in lines), f"the listening line at info: {lines}")
    expect("<6>stopped cleanly" in lines, f"stop line: {lines}")
    expect(any(l.startswith("<7>") for l in lines), "debug lines at priority 7")

    # An error goes out at priority 3.
    bad = Server(port=free_port())
    bad.env.update(journal_env(bad))
    os.makedirs(os.path.dirname(bad.db_path))
    with open(bad.db_path, "wb") as f:
        f.write(os.urandom(4096))
    bad._spawn()
    expect(bad.proc.wait(30) != 0, "a garbage store stops the start")
    expect(re.search(r"^<3>cannot open the store: ", bad.stderr_text(), re.M),
           f"an error at priority 3: {bad.stderr_text()}")

    # JOURNAL_STREAM that names another stream: the default lines.
    other = Server(env={"JOURNAL_STREAM": "1:2"})
    other.start()
    other.stop()
    lines = harness_free(other.stderr_text())
    for line in lines:
        expect(DEFAULT_LINE.match(line), f"a default line: {line!r}")


def test_json_lines():
    srv = Server("--log-format", "json")
    srv.start()
    srv.stop()
    lines = harness_free(srv.stderr_text())
    expect(len(lines) >= 3, f"lines: {lines}")
    for line in lines:
        obj = json.loads(line)
        expect_eq(sorted(obj), ["level", "msg", "ts"], f"the keys of {line}")
        expect(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", obj["ts"]), obj["ts"])
        expect(obj["level"] in ("debug", "info", "warn", "error"), obj["level"])
    msgs = [json.loads(l)["msg"] for l in lines]
    expect_in(f"sentinel-logd listening on http://127.0.0.1:{srv.port} "
              f"(live feed: ws://127.0.0.1:{srv.port}/ws/logs)", msgs, "the listening line")

    # Under the journal, JSON lines carry the priority too.
    j = Server("--log-format", "json")
    j.env.update(journal_env(j))
    j.start()
    j.stop()
    lines = harness_free(j.stderr_text())
    for line in lines:
        expect(line.startswith("<6>{"), f"priority, then JSON: {line!r}")
        json.loads(line[3:])

    # The default stays "TIMESTAMP level message".
    plain = Server()
    plain.start()
    plain.stop()
    lines = harness_free(plain.stderr_text())
    for line in lines:
        expect(DEFAULT_LINE.match(line), f"a default line: {line!r}")


def metrics(srv):
    status, text = srv.request("GET", "/metrics")
    expect_eq(status, 200, "GET /metrics")
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples, text


def wait_metric(srv, name, want, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        samples, _ = metrics(srv)
        if samples.get(name) == want or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_metrics():
    started = time.time()
    srv = Server("--retain-events", "5", "--retention-interval", "1s")
    srv.start()
    samples, text = metrics(srv)
    version = open(os.path.join(os.path.dirname(__file__), "..", "..", "CMakeLists.txt")).read()
    version = re.search(r"project\(sentinel-logd VERSION (\S+)", version).group(1)
    expect_eq(samples.get(f'sentinel_build_info{{version="{version}"}}'), 1.0, "build info")
    for family, kind in (("process_cpu_seconds_total", "counter"),
                         ("process_resident_memory_bytes", "gauge"),
                         ("process_start_time_seconds", "gauge"),
                         ("sentinel_events_stored", "gauge"),
                         ("sentinel_ingest_connections", "gauge")):
        expect_in(f"# TYPE {family} {kind}\n", text, f"{family}'s TYPE")
    pid = srv.proc.pid
    with open(f"/proc/{pid}/limits") as f:
        soft = int(re.search(r"^Max open files\s+(\d+)", f.read(), re.M).group(1))
    expect_eq(samples["process_max_fds"], float(soft), "process_max_fds is the soft limit")
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    expect(abs(samples["process_open_fds"] - fds) <= 3,
           f"process_open_fds {samples['process_open_fds']} vs {fds} in /proc")
    with open(f"/proc/{pid}/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    expect(0.5 * rss < samples["process_resident_memory_bytes"] < 2 * rss,
           f"resident memory {samples['process_resident_memory_bytes']} vs {rss}")
    expect(started - 5 <= samples["process_start_time_seconds"] <= time.time() + 1,
           f"start time {samples['process_start_time_seconds']} vs {started}")
    expect(samples["process_cpu_seconds_total"] > 0, "CPU time")
    expect("sentinel_oldest_event_timestamp_seconds" not in samples, "no oldest event yet")
    samples = wait_metric(srv, "sentinel_events_stored", 0.0)
    expect_eq(samples.get("sentinel_events_stored"), 0.0, "an empty store")

    # Events with their own timestamps: the oldest is the smallest, not the first.
    events = [{"type": "system", "message": f"e{i}", "timestamp": ts}
              for i, ts in enumerate(["2026-03-09T14:10:00Z", "2026-03-09T14:00:00.5Z",
                                      "2026-03-09T17:00:00+02:00"])]
    expect_eq(srv.post(events)[0], 200, "post three")
    samples = wait_metric(srv, "sentinel_events_stored", 3.0)
    expect_eq(samples.get("sentinel_events_stored"), 3.0, "three stored")
    expect_eq(samples.get("sentinel_oldest_event_timestamp_seconds"), 1773064800.5,
              "the oldest timestamp, 2026-03-09T14:00:00.5Z")

    # Retention keeps the count: --retain-events 5 of 9.
    expect_eq(srv.post([{"type": "agent", "message": f"m{i}"} for i in range(6)])[0], 200,
              "post six")
    samples = wait_metric(srv, "sentinel_retention_deleted_total", 4.0)
    expect_eq(samples.get("sentinel_retention_deleted_total"), 4.0, "four deleted")
    expect_eq(samples.get("sentinel_events_stored"), 5.0, "retention lowered the count")
    expect_eq(srv.store_state()[0], 5, "rows in the store")

    # /ws/ingest producers.
    producers = [Subscriber(srv.ws_url("/ws/ingest")) for _ in range(2)]
    samples = wait_metric(srv, "sentinel_ingest_connections", 2.0)
    expect_eq(samples.get("sentinel_ingest_connections"), 2.0, "two producers")
    for p in producers:
        p.close()
    samples = wait_metric(srv, "sentinel_ingest_connections", 0.0)
    expect_eq(samples.get("sentinel_ingest_connections"), 0.0, "none left")

    # The count survives a restart: counted once at start.
    srv.stop()
    srv.restart()
    samples = wait_metric(srv, "sentinel_events_stored", 5.0)
    expect_eq(samples.get("sentinel_events_stored"), 5.0, "counted at start")
    srv.stop()


if __name__ == "__main__":
    run(test_notify_ready_and_stopping, test_ready_only_once_listening, test_journal_lines,
        test_json_lines, test_metrics)
