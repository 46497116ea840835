#!/usr/bin/python3
"""One writer per store.

Two servers on one store used to both serve it, each with its own idea of
the next id, so a subscriber of one silently missed what the other
committed; `compact`, `migrate` and `sentinel-import --db` also ran on a
live store. Every writer now takes the store's lock: a second one is
refused at start, naming the store and the pid and command of the holder,
and changes nothing. Readers (sentinel-export, sqlite3) are not refused.
The lock dies with its process: after kill -9 the store opens at once.
"""

import json
import os
import subprocess

from harness import (BINARY, HOST, Server, Subscriber, expect, expect_eq, expect_in, free_port,
                     ids_of, run)

EXPORT = os.environ.get("SENTINEL_EXPORT", "")
IMPORT = os.environ.get("SENTINEL_IMPORT", "")


def events(n, tag):
    return [{"type": "system", "message": f"{tag} {i}"} for i in range(n)]


def refused(cmd, what, srv, timeout=30):
    """Run cmd; it must fail naming the store and the server's pid."""
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    err = p.stderr.decode("utf-8", "replace")
    expect(p.returncode != 0, f"{what}: exit code {p.returncode}, expected non-zero ({err!r})")
    expect_in(srv.db_path, err, f"{what}: the message names the store")
    expect_in("in use by another writer", err, f"{what}: the message says why")
    expect_in(f"pid {srv.proc.pid}", err, f"{what}: the message names the holder")
    expect_in("sentinel-logd", err, f"{what}: the message names the holder's command")
    return err


def test_second_server_on_one_store_is_refused():
    srv = Server().start()
    sub = Subscriber(srv.ws_url() + "?control=1&after_id=0")
    status, first = srv.post(events(3, "a"))
    expect_eq(status, 200, "post to the first server")
    other_port = free_port()
    refused([BINARY, "--listen", f"{HOST}:{other_port}", "--db", srv.db_path],
            "a second server on the same store", srv)
    # The refused server left nothing behind: the first one goes on alone,
    # with ids in order and no event missing for its subscriber.
    status, second = srv.post(events(3, "b"))
    expect_eq(status, 200, "post after the refusal")
    got = [m["id"] for m in sub.wait_for(2 + 6) if "id" in m]
    expect_eq(got, ids_of(first) + ids_of(second), "the subscriber's ids")
    expect_eq(srv.store_state(), (6, 6), "rows and max id")
    sub.close()
    srv.stop()


def test_offline_commands_refused_on_a_live_store():
    srv = Server().start()
    status, _ = srv.post(events(5, "vivo"))
    expect_eq(status, 200, "post")
    refused([BINARY, "compact", "--db", srv.db_path], "compact on a live store", srv)
    refused([BINARY, "migrate", "--db", srv.db_path], "migrate on a live store", srv)
    lines = "\n".join(json.dumps(e) for e in events(4, "importado")) + "\n"
    p = subprocess.run([IMPORT, "--db", srv.db_path], input=lines.encode(),
                       capture_output=True, timeout=30)
    err = p.stderr.decode("utf-8", "replace")
    expect(p.returncode != 0, f"sentinel-import --db on a live store: exit {p.returncode}")
    expect_in(srv.db_path, err, "import: the message names the store")
    expect_in(f"pid {srv.proc.pid}", err, "import: the message names the holder")
    expect_eq(srv.store_state(), (5, 5), "nothing was imported")

    # Readers are welcome while the server runs.
    p = subprocess.run([EXPORT, "--db", srv.db_path], capture_output=True, timeout=30)
    expect_eq(p.returncode, 0, f"sentinel-export on a live store: {p.stderr!r}")
    expect_eq([json.loads(line)["id"] for line in p.stdout.splitlines()], [1, 2, 3, 4, 5],
              "sentinel-export reads every event")
    expect_eq(srv.store_state(), (5, 5), "sqlite3 reads the live store")

    # Once the server is gone, the offline commands run.
    srv.stop()
    p = subprocess.run([BINARY, "compact", "--db", srv.db_path], capture_output=True,
                       timeout=60)
    expect_eq(p.returncode, 0, f"compact once the server stopped: {p.stderr!r}")
    p = subprocess.run([IMPORT, "--db", srv.db_path], input=lines.encode(),
                       capture_output=True, timeout=30)
    expect_eq(p.returncode, 0, f"import once the server stopped: {p.stderr!r}")
    expect_eq(srv.store_state(), (9, 9), "rows after the import")


def test_lock_dies_with_its_process():
    srv = Server().start()
    expect_eq(srv.post(events(2, "antes"))[0], 200, "post")
    lock = srv.db_path + ".lock"
    with open(lock) as f:
        expect_eq(f.readline().strip(), str(srv.proc.pid), "the lock file names its holder")
    srv.kill9()
    # The file is still there, but no process holds its lock any more.
    expect(os.path.exists(lock), "the lock file stays")
    srv.restart()
    status, ack = srv.post(events(1, "después"))
    expect_eq(status, 200, "post after kill -9 and restart")
    expect_eq(ack["first_id"], 3, "ids go on")
    srv.stop()


if __name__ == "__main__":
    run(test_second_server_on_one_store_is_refused, test_offline_commands_refused_on_a_live_store,
        test_lock_dies_with_its_process)
