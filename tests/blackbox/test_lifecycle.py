#!/usr/bin/python3
"""Start, stop, restart and the command line.

SIGTERM drains subscribers, closes them with 1001, exits 0 and leaves the
WAL checkpointed; ids continue across restarts and are never reused, even
after every row was deleted; the command line answers --help, --version
and bad flags; the store's folders are created; a store that is not ours
is refused with a clear message.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

from harness import (BINARY, HOST, Server, Subscriber, expect, expect_eq, expect_in, free_port,
                     ids_of, run)


def events(n, tag):
    return [{"type": "system", "message": f"{tag} {i}", "data": {"i": i}} for i in range(n)]


def wal_size(srv):
    try:
        return os.path.getsize(srv.db_path + "-wal")
    except FileNotFoundError:
        return 0


def test_sigterm_closes_subscribers_and_checkpoints():
    srv = Server().start()
    subs = [Subscriber(srv.ws_url()) for _ in range(3)]
    ingest = Subscriber(srv.ws_url("/ws/ingest"))
    status, ack = srv.post(events(500, "antes de parar"))
    expect_eq(status, 200, "post")
    expect(wal_size(srv) > 0, "the WAL holds the new events while the server runs")
    srv.stop(expect_code=0)
    for n, sub in enumerate(subs):
        expect_eq(sub.wait_closed(), 1001, f"subscriber {n}: close code after SIGTERM")
        expect_eq([e["id"] for e in sub.messages()], ids_of(ack),
                  f"subscriber {n}: every committed event before the close")
    ingest.wait_closed()
    expect_eq(wal_size(srv), 0, "WAL bytes after a clean stop")
    conn = srv.db()
    try:
        expect_eq(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
        expect_eq(conn.execute("PRAGMA journal_mode").fetchone()[0], "wal", "journal_mode")
        expect_eq(conn.execute("SELECT count(*) FROM journal").fetchone()[0], 500, "rows")
    finally:
        conn.close()
    expect_in("stopped cleanly", srv.stderr_text(), "the server's last words")


def test_sigterm_closes_ingest_connections_with_1001():
    # A producer streaming over /ws/ingest is told the server is going away,
    # as subscribers are, whether or not it has just been answered.
    srv = Server().start()
    idle = Subscriber(srv.ws_url("/ws/ingest"))
    busy = Subscriber(srv.ws_url("/ws/ingest"))
    busy.send(json.dumps(events(2, "ingest")))
    expect_eq(busy.wait_for(1)[0]["accepted"], 2, "answer before the stop")
    srv.stop(expect_code=0)
    expect_eq(busy.wait_closed(), 1001, "close code of a /ws/ingest connection after SIGTERM")
    expect_eq(idle.wait_closed(), 1001,
              "close code of an idle /ws/ingest connection after SIGTERM")


def test_sigint_stops_cleanly():
    srv = Server().start()
    sub = Subscriber(srv.ws_url())
    srv.post(events(3, "x"))
    sub.wait_for(3)
    srv.proc.send_signal(signal.SIGINT)
    expect_eq(srv.proc.wait(30), 0, "exit code after SIGINT")
    expect_eq(sub.wait_closed(), 1001, "close code after SIGINT")


def test_ids_continue_across_restarts():
    srv = Server().start()
    _, a = srv.post(events(10, "uno"))
    srv.stop()
    srv.restart()
    sub = Subscriber(srv.ws_url())
    _, b = srv.post(events(5, "dos"))
    expect(b["first_id"] > a["last_id"],
           f"first id after a restart {b['first_id']} is not above {a['last_id']}")
    got = sub.wait_for(5)
    expect_eq([e["id"] for e in got], ids_of(b), "a new subscriber sees only new events")
    expect_eq(srv.store_state(), (15, b["last_id"]), "rows and max id")
    srv.stop()


def test_ids_never_reused_after_deleting_every_row():
    srv = Server().start()
    _, a = srv.post(events(20, "borrar"))
    srv.stop()
    conn = sqlite3.connect(srv.db_path)
    conn.execute("DELETE FROM journal")
    conn.commit()
    conn.close()
    expect_eq(srv.store_state(), (0, 0), "rows after DELETE")
    srv.restart()
    sub = Subscriber(srv.ws_url())
    status, b = srv.post(events(2, "nuevo"))
    expect_eq(status, 200, "post after deleting every row")
    expect(b["first_id"] > a["last_id"],
           f"id {b['first_id']} after deleting every row reuses an id (max was {a['last_id']})")
    expect_eq([e["id"] for e in sub.wait_for(2)], ids_of(b), "ids on /ws/logs")
    srv.stop()
    # Also when the rows are deleted while the server runs.
    srv.restart()
    conn = sqlite3.connect(srv.db_path, timeout=10)
    conn.execute("DELETE FROM journal")
    conn.commit()
    conn.close()
    _, c = srv.post(events(1, "otra vez"))
    expect(c["first_id"] > b["last_id"],
           f"id {c['first_id']} after a live DELETE reuses an id (max was {b['last_id']})")
    srv.stop()
    srv.restart()
    _, d = srv.post(events(1, "y otra"))
    expect(d["first_id"] > c["last_id"], f"id {d['first_id']} is not above {c['last_id']}")
    srv.stop()


def run_cli(*args, timeout=30):
    p = subprocess.run([BINARY, *args], capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_command_line():
    code, out, err = run_cli("--help")
    expect_eq(code, 0, "--help exit code")
    for flag in ("--listen", "--db", "--sync", "normal", "full"):
        expect_in(flag, out, "--help text")
    code, out, _ = run_cli("-h")
    expect_eq(code, 0, "-h exit code")
    code, out, _ = run_cli("--version")
    expect_eq(code, 0, "--version exit code")
    expect(out.startswith("sentinel-logd ") and any(c.isdigit() for c in out),
           f"--version prints the name and a version: {out!r}")
    for args, word in ((["--bogus"], "--bogus"), (["--sync", "sometimes"], "sometimes"),
                       (["--listen", "nowhere"], "nowhere"), (["--listen", "127.0.0.1:99999"], "99999"),
                       (["--sync"], "--sync"), (["--max-body-bytes", "lots"], "lots"),
                       (["frobnicate"], "frobnicate"), (["--db", ""], "--db")):
        code, out, err = run_cli(*args)
        expect(code != 0, f"{args}: exit code {code}, expected non-zero")
        expect_in(word, err, f"{args}: the message names what is wrong")


def test_store_folders_are_created():
    port = free_port()
    srv = Server(db=None)
    srv.db_path = os.path.join(srv.dir, "a", "b c", "ñ", "store.db")
    srv.port = port
    srv.start()
    status, ack = srv.post(events(1, "anidado"))
    expect_eq(status, 200, "post to a store in new folders")
    expect(os.path.isfile(srv.db_path), f"{srv.db_path} was created")
    srv.stop()
    expect_eq(srv.store_state(), (1, ack["last_id"]), "rows")


def expect_refused(srv, what, *words):
    srv.port = free_port()
    srv._spawn()
    try:
        code = srv.proc.wait(30)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        raise AssertionError(f"{what}: the server kept running")
    expect(code != 0, f"{what}: exit code {code}, expected non-zero")
    err = srv.stderr_text()
    for word in words:
        expect_in(word, err, f"{what}: stderr")


def test_bad_store_refused():
    srv = Server()
    os.makedirs(os.path.dirname(srv.db_path))
    garbage = os.urandom(8192)
    with open(srv.db_path, "wb") as f:
        f.write(garbage)
    expect_refused(srv, "garbage store", srv.db_path, "not a database")
    with open(srv.db_path, "rb") as f:
        expect(f.read() == garbage, "the garbage file was left as it was")

    newer = Server()
    os.makedirs(os.path.dirname(newer.db_path))
    conn = sqlite3.connect(newer.db_path)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    expect_refused(newer, "store from a newer version", newer.db_path, "999")


def test_port_in_use_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        s.listen()
        srv = Server()
        port = s.getsockname()[1]
        srv.port = port
        srv._spawn()
        try:
            code = srv.proc.wait(30)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            raise AssertionError("the server kept running on a port in use")
        expect(code != 0, f"port in use: exit code {code}")
        expect_in(str(port), srv.stderr_text(), "port in use: stderr names the address")


def test_default_store_path():
    # Without --db the store is data/sentinel.db under the working directory.
    with tempfile.TemporaryDirectory(prefix="sentinel-bb-cwd-") as cwd:
        port = free_port()
        log = open(os.path.join(cwd, "stderr.log"), "wb")
        proc = subprocess.Popen([BINARY, "--listen", f"{HOST}:{port}"], cwd=cwd,
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            srv = Server()
            srv.port, srv.proc = port, proc
            srv.db_path = os.path.join(cwd, "data", "sentinel.db")
            expect(srv._wait_healthy(), "server without --db did not start")
            status, _ = srv.post(json.dumps({"type": "system", "message": "por defecto"}))
            expect_eq(status, 200, "post")
            expect_eq(srv.stop(), 0, "exit code")
            expect_eq(srv.store_state()[0], 1, "rows in data/sentinel.db")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()


def test_threads_are_named():
    # top -H, ps -L and gdb tell the writer and the readers from the loop.
    srv = Server("--readers", "3").start()
    try:
        task = f"/proc/{srv.proc.pid}/task"
        deadline = time.monotonic() + 10
        while True:  # each thread names itself when it starts
            names = sorted(open(f"{task}/{t}/comm").read().strip() for t in os.listdir(task))
            ours = [n for n in names if n in ("reader", "writer")]
            if len(ours) == 4 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        expect_eq(ours, ["reader", "reader", "reader", "writer"], f"thread names {names}")
    finally:
        expect_eq(srv.stop(), 0, "exit code")


if __name__ == "__main__":
    run(test_sigterm_closes_subscribers_and_checkpoints,
        test_sigterm_closes_ingest_connections_with_1001, test_sigint_stops_cleanly,
        test_ids_continue_across_restarts, test_ids_never_reused_after_deleting_every_row,
        test_command_line, test_store_folders_are_created, test_bad_store_refused,
        test_port_in_use_refused, test_default_store_path, test_threads_are_named)
