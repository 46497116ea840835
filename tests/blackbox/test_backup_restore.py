#!/usr/bin/python3
"""Backups, restores, and copies of a store put back in its place.

A copy of the store (sqlite3 .backup, VACUUM INTO, a copied file) keeps
the epoch but not the ids committed after it was taken. Restoring one used
to make new events reuse those ids, and a client resuming with the newest
id it had and the same epoch silently missed them. Now the store's mark
(STORE.mark) remembers the highest id committed: a store that ends below
it, or that has events but no mark, gets a new epoch, so that resuming
clients get `reset` and start over. `sentinel-logd backup` copies a live
store consistently; `sentinel-logd restore` puts a backup in place under a
new epoch, and is refused while a server runs on the store.
"""

import json
import os
import sqlite3
import subprocess
import threading

from harness import (BINARY, Server, Subscriber, expect, expect_eq, expect_in, ids_of, run)


def events(n, tag):
    return [{"type": "system", "message": f"{tag} {i}", "data": {"i": i}} for i in range(n)]


def post_each(srv, n, tag):
    """n requests of one event each; returns the ids acknowledged."""
    ids = []
    for e in events(n, tag):
        status, ack = srv.post([e])
        expect_eq(status, 200, "post")
        ids += ids_of(ack)
    return ids


def epoch_of(srv):
    status, stats = srv.request("GET", "/api/stats")
    expect_eq(status, 200, "GET /api/stats")
    return stats["epoch"]


def copy_with_backup_api(db, to):
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(to)
    src.backup(dst)
    dst.close()
    src.close()


def copy_with_vacuum_into(db, to):
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    src.execute("VACUUM INTO ?", (to,))
    src.close()


def put_back(copy, db):
    """Restore by hand: the copy replaces the store file, as an operator would."""
    for side in ("-wal", "-shm"):
        if os.path.exists(db + side):
            os.remove(db + side)
    os.replace(copy, db)


def resume(srv, after_id, epoch, n):
    sub = Subscriber(srv.ws_url() + f"?after_id={after_id}&epoch={epoch}&control=1")
    msgs = sub.wait_for(n)
    sub.close()
    return msgs


def test_restored_copy_gets_a_new_epoch():
    for how, copy in (("the backup API", copy_with_backup_api),
                      ("VACUUM INTO", copy_with_vacuum_into)):
        srv = Server().start()
        expect_eq(post_each(srv, 11, "antes"), list(range(1, 12)), f"{how}: ids 1 to 11")
        old_epoch = epoch_of(srv)
        saved = os.path.join(srv.dir, "copy.db")
        copy(srv.db_path, saved)  # taken while the server runs, at id 11
        expect_eq(post_each(srv, 3, "perdido"), [12, 13, 14], f"{how}: ids after the copy")
        srv.stop()

        put_back(saved, srv.db_path)
        srv.restart()
        new_epoch = epoch_of(srv)
        expect(new_epoch != old_epoch, f"{how}: the restored store keeps epoch {old_epoch}")
        expect_in("older copy", srv.stderr_text(), f"{how}: the server says why")
        expect_eq(post_each(srv, 3, "nuevo"), [12, 13, 14], f"{how}: ids 12 to 14 again")

        # The client had id 14 of the old epoch: it must start over, and
        # receive the new 12 to 14 rather than skip them.
        msgs = resume(srv, 14, old_epoch, 2 + 14 + 1)
        expect_eq(msgs[0]["control"], "hello", f"{how}: hello")
        expect_eq(msgs[0]["epoch"], new_epoch, f"{how}: hello's epoch")
        expect_eq(msgs[1], {"control": "reset", "epoch": new_epoch}, f"{how}: reset")
        got = [m for m in msgs[2:] if "id" in m]
        expect_eq([m["id"] for m in got], list(range(1, 15)), f"{how}: every event, once")
        expect_eq([m["message"] for m in got[11:]], ["nuevo 0", "nuevo 1", "nuevo 2"],
                  f"{how}: the new events behind the reused ids")
        srv.stop()


def test_restart_keeps_the_epoch():
    srv = Server().start()
    post_each(srv, 3, "uno")
    epoch = epoch_of(srv)
    srv.stop()
    srv.restart()
    expect_eq(epoch_of(srv), epoch, "epoch after a clean restart")
    post_each(srv, 2, "dos")
    srv.kill9()
    srv.restart()
    expect_eq(epoch_of(srv), epoch, "epoch after kill -9 and a restart")
    msgs = resume(srv, 5, epoch, 2)
    expect_eq([m.get("control") for m in msgs], ["hello", "live"], "a resuming client goes on")
    with open(srv.db_path + ".mark") as f:
        text = f.read()
    expect_in(f"epoch {epoch}", text, "the mark names the epoch")
    expect_in("last_id 00000000000000000005", text, "the mark holds the last id")
    srv.stop()


def test_copy_without_its_mark_gets_a_new_epoch():
    srv = Server().start()
    post_each(srv, 4, "original")
    old_epoch = epoch_of(srv)
    other = Server()
    os.makedirs(os.path.dirname(other.db_path))
    copy_with_vacuum_into(srv.db_path, other.db_path)
    srv.stop()
    other.start()
    expect(epoch_of(other) != old_epoch, "a copy started elsewhere keeps the epoch")
    expect_in(f"has no {other.db_path}.mark", other.stderr_text(), "the server says why")
    msgs = resume(other, 4, old_epoch, 2 + 4)
    expect_eq(msgs[1]["control"], "reset", "a client of the original starts over")
    other.stop()


def cli(*args, timeout=60):
    p = subprocess.run([BINARY, *args], capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_backup_while_ingesting():
    srv = Server().start()
    stop = threading.Event()
    posted = []

    def producer():
        client = srv.client()
        i = 0
        while not stop.is_set():
            status, ack = client.post(events(50, f"lote {i}"))
            if status == 200:
                posted.append(ack["last_id"])
            i += 1
        client.close()

    t = threading.Thread(target=producer)
    t.start()
    try:
        while len(posted) < 20:
            threading.Event().wait(0.01)
        to = os.path.join(srv.dir, "backups", "b.db")
        code, out, err = cli("backup", "--db", srv.db_path, "--to", to)
        expect_eq(code, 0, f"backup of a live store: {err}")
        n_after = len(posted)
    finally:
        stop.set()
        t.join()
    expect_in(f"backed up to {to}", out, "the report")
    copy = sqlite3.connect(f"file:{to}?mode=ro", uri=True)
    try:
        expect_eq(copy.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
        expect_eq(copy.execute("PRAGMA journal_mode").fetchone()[0], "wal", "journal_mode")
        rows = copy.execute("SELECT id, body FROM journal ORDER BY id").fetchall()
    finally:
        copy.close()
    expect(len(rows) >= 20 * 50, f"the copy has {len(rows)} events, fewer than were acked")
    expect_eq([r[0] for r in rows], list(range(1, len(rows) + 1)),
              "the copy is a prefix of the commits: no id missing")
    expect_eq(len(rows) % 50, 0, "whole batches only")
    live = {r[0]: r[2] for r in srv.rows()}
    expect(all(live[i] == b for i, b in rows), "the copy's events are the store's")
    expect_in(f"{len(rows)} events, last id {len(rows)}", out, "the report's counts")
    expect(n_after > 20, "ingest went on during the backup")

    # A second backup replaces the first, whole.
    code, out, err = cli("backup", "--db", srv.db_path, "--to", to)
    expect_eq(code, 0, f"a second backup: {err}")
    copy = sqlite3.connect(f"file:{to}?mode=ro", uri=True)
    expect_eq(copy.execute("SELECT count(*) FROM journal").fetchone()[0], srv.store_state()[0],
              "the second backup has every event")
    copy.close()
    expect(not os.path.exists(to + ".tmp"), "no temporary file is left")

    # Never over a store a server is writing, nor over the store itself.
    other = Server().start()
    code, _, err = cli("backup", "--db", srv.db_path, "--to", other.db_path)
    expect(code != 0, "a backup over a served store is refused")
    expect_in(f"pid {other.proc.pid}", err, "the message names the server")
    expect_eq(other.store_state(), (0, 0), "the served store was not touched")
    code, _, err = cli("backup", "--db", srv.db_path, "--to", srv.db_path)
    expect(code != 0, "a backup onto itself is refused")
    expect_in("same file", err, "the message says why")
    other.stop()
    srv.stop()


def test_restore_command():
    srv = Server().start()
    post_each(srv, 6, "respaldo")
    old_epoch = epoch_of(srv)
    backup = os.path.join(srv.dir, "b.db")
    code, _, err = cli("backup", "--db", srv.db_path, "--to", backup)
    expect_eq(code, 0, f"backup: {err}")
    post_each(srv, 3, "después")

    code, _, err = cli("restore", "--db", srv.db_path, "--from", backup)
    expect(code != 0, "restore under a running server is refused")
    expect_in(f"pid {srv.proc.pid}", err, "the message names the server")
    expect_in("in use by another writer", err, "the message says why")
    expect_eq(srv.store_state(), (9, 9), "the store was not touched")
    srv.stop()

    code, out, err = cli("restore", "--db", srv.db_path, "--from", backup)
    expect_eq(code, 0, f"restore: {err}")
    expect_in("6 events, last id 6, new epoch", out, "the report")
    new_epoch = out.split("new epoch ")[1].split()[0]
    expect(new_epoch != old_epoch, "restore gives a new epoch")
    srv.restart()
    expect_eq(epoch_of(srv), new_epoch, "the server serves the restored epoch")
    expect_eq(srv.store_state(), (6, 6), "the backup's events")
    expect_eq(post_each(srv, 1, "otra vez"), [7], "ids go on from the backup")
    msgs = resume(srv, 9, old_epoch, 2 + 7)
    expect_eq(msgs[1], {"control": "reset", "epoch": new_epoch}, "reset for an old client")
    expect_eq([m["id"] for m in msgs[2:9]], list(range(1, 8)), "then every event")
    srv.stop()
    code, _, err = cli("restore", "--db", srv.db_path)
    expect_eq(code, 2, "restore without --from")
    expect_in("--from", err, "the message names the missing flag")


if __name__ == "__main__":
    run(test_restored_copy_gets_a_new_epoch, test_restart_keeps_the_epoch,
        test_copy_without_its_mark_gets_a_new_epoch, test_backup_while_ingesting,
        test_restore_command)
