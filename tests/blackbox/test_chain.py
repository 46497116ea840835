#!/usr/bin/python3
"""The hash chain, from the outside: the real server, its store file, the
sqlite3 shell, sentinel-logd verify, GET /api/verify, sentinel-export
--with-hash, sentinel-verify and the README's bash recipe.

- The links in the file are SHA-256(previous hash || id as 8 bytes
  big-endian || body), computed here with hashlib from the stored bodies,
  and /api/stats shows the head.
- Every kind of tampering, made with the sqlite3 shell on a copy of a store
  (a changed body, a changed id, a deleted middle row, an inserted row, two
  rows swapped, the newest rows deleted), is found by `verify` and by
  GET /api/verify, which name the first bad id.
- An export with hashes checks out offline (sentinel-verify, and the
  README's recipe with bash and sha256sum), also from an id on, and any
  changed or missing line of it is found.
- Retention, deleting between kept events (per-type ages) and the oldest
  (a count bound), keeps the chain checkable, online and in an export.
- A store made before the chain (the first migration only, written by the
  sqlite3 shell) gets its links when the server opens it.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import (BINARY, Server, TestFailure, expect, expect_eq, expect_in, run)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
FIXTURE = os.path.join(HERE, "fixtures", "sentinel_events.jsonl")
EXPORT = os.environ.get("SENTINEL_EXPORT", "")
VERIFY = os.environ.get("SENTINEL_VERIFY", "")
SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"
ZERO = "0" * 64


def fixture_events():
    with open(FIXTURE, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def link(prev_hex, event_id, body):
    """The chain's link, computed independently of the server."""
    data = bytes.fromhex(prev_hex) + event_id.to_bytes(8, "big") + body.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def verify_cli(db_path, *args):
    """sentinel-logd verify --json: (exit code, report or None, stderr)."""
    proc = subprocess.run([BINARY, "verify", "--db", db_path, "--json", *args],
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, report, proc.stderr


def sqlite(db_path, sql):
    proc = subprocess.run([SQLITE3, db_path, sql], capture_output=True, text=True, timeout=60)
    expect_eq(proc.returncode, 0, f"sqlite3 {sql!r}: {proc.stderr}")
    return proc.stdout


def stopped_store():
    """A store of the 42 fixture events, written by the server, which is stopped."""
    srv = Server().start()
    events = fixture_events()
    for i in range(0, len(events), 10):
        status, ack = srv.post(events[i:i + 10])
        expect_eq(status, 200, f"POST answer {ack!r}")
    srv.stop()
    return srv


def copy_store(db_path, name):
    folder = tempfile.mkdtemp(prefix=f"sentinel-chain-{name}-")
    copy = os.path.join(folder, "sentinel.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            shutil.copy(db_path + suffix, copy + suffix)
    return copy


def test_links_and_head():
    srv = stopped_store()
    # The links, recomputed here from the stored bodies.
    prev = ZERO
    for event_id, body, stored in srv.db().execute(
            "SELECT id, body, lower(hex(hash)) FROM journal ORDER BY id"):
        prev = link(prev, event_id, body)
        expect_eq(stored, prev, f"the hash of event {event_id}")
    code, report, err = verify_cli(srv.db_path)
    expect_eq(code, 0, f"verify exit code ({err})")
    expect_eq((report["intact"], report["events"], report["first_id"], report["last_id"]),
              (True, 42, 1, 42), "verify report")
    expect_eq((report["head_id"], report["head_hash"]), (42, prev), "the head")
    expect_eq((report["anchor_id"], report["anchor_hash"]), (0, ZERO), "no anchor yet")

    # The text report says the same.
    proc = subprocess.run([BINARY, "verify", "--db", srv.db_path], capture_output=True,
                          text=True, timeout=60)
    expect_eq(proc.returncode, 0, "verify exit code (text)")
    expect_in("the hash chain is intact: 42 events (ids 1 to 42)", proc.stdout, "text report")
    expect_in(f"head: id 42 hash {prev}", proc.stdout, "text report's head")

    # Online, also while events arrive: /api/stats and /api/verify agree.
    srv.restart()
    status, stats = srv.request("GET", "/api/stats")
    expect_eq(stats["chain"], {"head_id": 42, "head_hash": prev, "anchor_id": 0,
                               "anchor_hash": ZERO}, "/api/stats chain")
    status, ack = srv.post({"type": "system", "message": "uno más"})
    body = srv.db().execute("SELECT body FROM journal WHERE id = 43").fetchone()[0]
    head = link(prev, 43, body)
    status, online = srv.request("GET", "/api/verify")
    expect_eq(status, 200, "GET /api/verify")
    expect_eq((online["intact"], online["events"], online["head_id"], online["head_hash"]),
              (True, 43, 43, head), "/api/verify")
    status, stats = srv.request("GET", "/api/stats")
    expect_eq((stats["chain"]["head_id"], stats["chain"]["head_hash"]), (43, head),
              "/api/stats head after one more event")
    # The verify command on the store the server is writing.
    code, report, err = verify_cli(srv.db_path)
    expect_eq((code, report["head_hash"]), (0, head), f"verify while the server runs ({err})")


# (what, the sqlite3 shell's SQL, the first bad id, the last good id)
TAMPERING = [
    ("a changed body",
     "UPDATE journal SET body = replace(body, 'postgresql', 'mysql') WHERE id = 8", 8, 7),
    ("a changed id", "UPDATE journal SET id = 100 WHERE id = 20", 20, 19),
    ("a deleted middle row", "DELETE FROM journal WHERE id = 10", 10, 9),
    ("an inserted row",
     "INSERT INTO journal (ts_us, type, body, hash) SELECT ts_us, type, "
     "replace(body, 'redis', 'REDIS'), hash FROM journal WHERE id = 42", 43, 42),
    ("two bodies swapped",
     "UPDATE journal SET body = CASE id WHEN 5 THEN (SELECT body FROM journal WHERE id = 9) "
     "ELSE (SELECT body FROM journal WHERE id = 5) END WHERE id IN (5, 9)", 5, 4),
    ("two rows swapped",
     "UPDATE journal SET id = -12 WHERE id = 12; UPDATE journal SET id = 12 WHERE id = 30; "
     "UPDATE journal SET id = 30 WHERE id = -12", 12, 11),
    ("the newest rows deleted", "DELETE FROM journal WHERE id > 39", 40, 39),
]


def test_every_tampering_is_found():
    srv = stopped_store()
    for what, sql, bad, good in TAMPERING:
        copy = copy_store(srv.db_path, "tamper")
        try:
            sqlite(copy, sql)
            code, report, err = verify_cli(copy)
            expect_eq(code, 1, f"{what}: verify exit code ({err})")
            expect_eq((report["intact"], report["bad_id"], report["after_id"]),
                      (False, bad, good), f"{what}: the first bad id ({report['reason']})")
            proc = subprocess.run([BINARY, "verify", "--db", copy], capture_output=True,
                                  text=True, timeout=60)
            expect_in(f"broken at id {bad} ", proc.stdout, f"{what}: the text report")
            # The server finds the same, and tells who asks.
            tampered = Server(db=copy).start()
            status, online = tampered.request("GET", "/api/verify")
            expect_eq((status, online["intact"], online["bad_id"]), (200, False, bad),
                      f"{what}: GET /api/verify")
            tampered.stop()
        finally:
            shutil.rmtree(os.path.dirname(copy), ignore_errors=True)


def export(db_path, *args):
    proc = subprocess.run([EXPORT, "--db", db_path, "--with-hash", *args], capture_output=True,
                          timeout=60)
    expect_eq(proc.returncode, 0, f"sentinel-export --with-hash {args}: {proc.stderr!r}")
    return proc.stdout


def verify_export(data, *args):
    proc = subprocess.run([VERIFY, *args], input=data, capture_output=True, timeout=60)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode()


def readme_recipe():
    """The README's bash function that checks an export, verbatim."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"```sh\n(# Check an export of sentinel-export --with-hash.*?\n)```", text,
                  re.S)
    expect(m, "the README shows the bash recipe that checks an export")
    return m.group(1)


def recipe(data):
    proc = subprocess.run(["bash", "-c", readme_recipe() + "\nverify_chain"], input=data,
                          capture_output=True, timeout=300)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def test_export_checks_out_offline():
    srv = stopped_store()
    data = export(srv.db_path)
    lines = data.decode("utf-8").splitlines()
    expect_eq(lines[0], f'{{"chain":"anchor","id":0,"hash":"{ZERO}"}}', "the anchor line")
    expect_eq(len(lines), 43, "the anchor and 42 events")
    head = json.loads(lines[-1])["hash"]
    first = json.loads(lines[1])
    expect_eq(list(first)[:3], ["id", "hash", "type"], "an event line's first members")

    code, out, err = verify_export(data)
    expect_eq(code, 0, f"sentinel-verify ({out} {err})")
    expect_in("intact: 42 events (ids 1 to 42)", out, "sentinel-verify")
    code, out, err = verify_export(data, "--head", head, "--head-id", "42")
    expect_eq(code, 0, f"sentinel-verify --head ({out})")
    expect_in("passes through the head given (id 42)", out, "sentinel-verify --head")
    code, out, err = verify_export(data, "--head", ZERO)
    expect_eq(code, 1, f"sentinel-verify with another head ({out})")
    # A head written down earlier, at id 20: the chain must pass through it.
    at20 = json.loads(lines[20])["hash"]
    code, out, err = verify_export(data, "--head-id", "20", "--head", at20)
    expect_eq(code, 0, f"sentinel-verify through id 20 ({out})")
    code, out, err = verify_export(data, "--head-id", "21", "--head", at20)
    expect_eq(code, 1, f"sentinel-verify with the head at the wrong id ({out})")
    expect_in("not the head given", out, "sentinel-verify with a wrong head")
    code, out = recipe(data)
    expect_eq((code, out.strip()), (0, f"intact up to id 42, hash {head}"), "the README recipe")

    # A changed line, a missing line, two lines swapped: each is found.
    for what, changed, bad in (
            ("a changed message", [lines[0]] + [
                line.replace("Servicio redis", "Servicio REDIS") for line in lines[1:]], 11),
            ("a missing line", lines[:15] + lines[16:], 15),
            ("two lines swapped", lines[:6] + [lines[7], lines[6]] + lines[8:], 6)):
        blob = ("\n".join(changed) + "\n").encode()
        code, out, err = verify_export(blob)
        expect_eq(code, 1, f"{what}: sentinel-verify exit code ({out} {err})")
        expect_in(f"broken at id {bad} ", out, f"{what}: sentinel-verify")
        code, out = recipe(blob)
        expect_eq(code, 1, f"{what}: the README recipe ({out})")
        expect_in("broken at id", out, f"{what}: the README recipe")

    # From an id on: the anchor is that event's link.
    tail = export(srv.db_path, "--after-id", "30").decode().splitlines()
    expect_eq(json.loads(tail[0]), {"chain": "anchor", "id": 30,
                                    "hash": json.loads(lines[30])["hash"]}, "the anchor line")
    expect_eq(len(tail), 13, "the anchor and events 31 to 42")
    code, out, err = verify_export(("\n".join(tail) + "\n").encode(), "--head", head)
    expect_eq(code, 0, f"sentinel-verify from id 30 ({out} {err})")

    # Only a whole range can be checked.
    proc = subprocess.run([EXPORT, "--db", srv.db_path, "--with-hash", "--type", "error"],
                          capture_output=True, text=True, timeout=60)
    expect_eq(proc.returncode, 2, "--with-hash with --type")
    expect_in("cannot be combined", proc.stderr, "--with-hash with --type")


def test_retention_keeps_the_chain_checkable():
    old = "2020-01-01T00:00:00.000000Z"
    srv = Server("--retain-age", "1d", "--retain", "security=3650d",
                 "--retention-interval", "1s").start()
    # Old events, security and not interleaved, then new ones: retention
    # deletes the old non-security ones, between kept events.
    events = []
    for i in range(60):
        kind = "security" if i % 3 == 0 else ("agent" if i % 3 == 1 else "monitor")
        events.append({"type": kind, "message": f"viejo {i}", "timestamp": old})
    events += [{"type": "system", "message": f"nuevo {i}"} for i in range(10)]
    status, ack = srv.post(events)
    expect_eq(status, 200, "POST")
    deadline = time.monotonic() + 30
    while srv.store_state()[0] > 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    expect_eq(srv.store_state()[0], 30, "events kept: 20 old security and 10 new")
    status, online = srv.request("GET", "/api/verify")
    expect_eq((online["intact"], online["events"]), (True, 30), f"/api/verify {online}")
    expect(online["deleted"] >= 19, f"deleted links kept for the walk: {online}")
    data = export(srv.db_path)
    code, out, err = verify_export(data)
    expect_eq(code, 0, f"sentinel-verify of the export after retention ({out} {err})")
    expect_in("links of events deleted by retention", out, "sentinel-verify")
    expect(b'"chain":"deleted"' in data, "the export carries deleted links")
    code, out = recipe(data)
    expect_eq(code, 0, f"the README recipe after retention ({out})")
    srv.stop()
    code, report, err = verify_cli(srv.db_path)
    expect_eq((code, report["intact"]), (0, True), f"verify after retention ({err})")

    # A count bound deletes the oldest: the anchor moves, the chain holds.
    srv = Server("--retain-events", "10", "--retention-interval", "1s").start()
    for i in range(5):
        srv.post([{"type": "agent", "message": f"lote {i} evento {j}"} for j in range(10)])
    deadline = time.monotonic() + 30
    while srv.store_state()[0] > 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    status, online = srv.request("GET", "/api/verify")
    expect_eq((online["intact"], online["events"], online["anchor_id"], online["head_id"]),
              (True, 10, 40, 50), f"/api/verify after a count bound {online}")
    status, stats = srv.request("GET", "/api/stats")
    expect_eq(stats["chain"]["anchor_id"], 40, "/api/stats anchor")
    code, out, err = verify_export(export(srv.db_path))
    expect_eq(code, 0, f"sentinel-verify after a count bound ({out} {err})")


def test_old_store_is_linked_on_upgrade():
    folder = tempfile.mkdtemp(prefix="sentinel-chain-old-")
    db_path = os.path.join(folder, "old.db")
    try:
        # A store as the first release made it: its schema and 3,000 events.
        with open(os.path.join(ROOT, "migrations", "0001_journal.sql"), encoding="utf-8") as f:
            schema = f.read()
        sqlite(db_path, "PRAGMA journal_mode = WAL; PRAGMA auto_vacuum = INCREMENTAL;" + schema +
               "PRAGMA user_version = 1;"
               "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
               "INSERT INTO journal (ts_us, type, body) SELECT 1773064800000000 + i, 'agent', "
               "json_object('type', 'agent', 'message', 'evento ' || i || ' ñ', "
               "'timestamp', '2026-03-09T14:00:00.000000Z') FROM n;"
               "DELETE FROM journal WHERE id <= 100;")
        code, report, err = verify_cli(db_path)
        expect_eq(code, 3, f"verify of a store without the chain ({report})")
        expect_in("no hash chain yet", err, "verify's reason")

        srv = Server(db=db_path).start()
        expect_in("linking 2900 stored events into the hash chain", srv.stderr_text(),
                  "the server says what it does")
        status, online = srv.request("GET", "/api/verify")
        expect_eq((online["intact"], online["events"], online["first_id"], online["head_id"]),
                  (True, 2900, 101, 3000), f"/api/verify after the upgrade {online}")
        status, ack = srv.post({"type": "system", "message": "después"})
        expect_eq(ack["first_id"], 3001, "ids go on")
        srv.stop()
        prev = ZERO
        conn = srv.db()
        for event_id, body, stored in conn.execute(
                "SELECT id, body, lower(hex(hash)) FROM journal ORDER BY id"):
            prev = link(prev, event_id, body)
            if stored != prev:
                raise TestFailure(f"event {event_id}: stored {stored}, computed {prev}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.close()
        migrations = [n for n in os.listdir(os.path.join(ROOT, "migrations"))
                      if re.fullmatch(r"\d{4}_.*\.sql", n)]
        expect_eq(version, len(migrations), "the schema version after the upgrade")
        code, report, err = verify_cli(db_path)
        expect_eq((code, report["events"], report["head_hash"]), (0, 2901, prev),
                  f"verify after the upgrade ({err})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for name, path in (("SENTINEL_EXPORT", EXPORT), ("SENTINEL_VERIFY", VERIFY)):
        if not path or not os.access(path, os.X_OK):
            print(f"{name} must name the tool's binary (got {path!r})")
            raise SystemExit(2)
    run(test_links_and_head, test_every_tampering_is_found, test_export_checks_out_offline,
        test_retention_keeps_the_chain_checkable, test_old_store_is_linked_on_upgrade)
