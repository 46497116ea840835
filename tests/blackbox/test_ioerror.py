#!/usr/bin/python3
"""I/O errors other than a full disk, injected by crashvfs (crashsim.py).

Each case runs sentinel-logd-crashtest with a subscriber on the live feed,
posts batches, then makes one operation fail with an I/O error: a write to
the WAL (a commit), a write that grows the WAL, an fsync of the WAL (a
commit under --sync full; the id reservation or a checkpoint under --sync
normal), a write or fsync of the database file (a checkpoint), a WAL
truncation (compaction). Producers post until a POST is refused. Then:
  - the refused POST answers 503 with a JSON error, and so does every later
    one: the server never retries a failed write or fsync and reports
    success (it stops acknowledging until it is restarted);
  - GET /healthz answers 503, and the log says why;
  - reads go on: GET /api/events returns the newest acknowledged events, a
    new subscriber replays them, and the live feed carried exactly the
    acknowledged events, in order, and is still open;
  - after a restart (the production binary): every acknowledged event is
    there with its id and body, integrity_check is ok, and no refused batch
    is there, but for the first refused batch when an fsync failed (its
    data was written before the fsync failed, so whether it was stored is
    unknown until the restart): that one is there whole or not at all;
    ingest works again, with ids above every id acknowledged.

Reads that fail (any file, for a while): GET answers 503 or correct data,
never wrong data; once reads work again, so do the API and replays.

A store file deleted or replaced while the server runs: the next POST is
refused (it would be committed to a file nobody will open again), /healthz
says so, reads and the live feed go on.
"""

import json
import os
import random
import shutil
import time

from crashsim import CRASHTEST, Control, Ledger, need_crashtest, post_batch, read_store
from harness import BINARY, Server, Subscriber, expect, expect_eq, expect_in, run

MAX_POSTS = 400      # bound on the posts that find the fault
PAD = 3000           # bytes of padding an event: 60 KB a batch of 20


def post_until_refused(srv, cli, rng, ledger, tag, batch=20):
    """Post batches until one is refused; returns (uids, status, answer)."""
    for n in range(MAX_POSTS):
        uids, ack = post_batch(cli, rng, ledger, f"{tag}-b{n}", batch, PAD)
        if ack is None:
            raise AssertionError(f"{tag}: the server did not answer (did it die?)")
        if isinstance(ack, tuple):
            return uids, ack[0], ack[1]
        ledger.answered(uids, ack, tag)
    raise AssertionError(f"{tag}: no POST was refused in {MAX_POSTS} posts")


def acked_ids(ledger):
    return sorted(ledger.acked)


def check_reads_go_on(srv, ledger, live, tag):
    """The API, a replay and the live feed, while the writer is stopped."""
    ids = acked_ids(ledger)
    last = ids[-1]
    status, page = srv.request("GET", f"/api/events?after_id={last - 5}")
    expect_eq(status, 200, f"{tag}: GET /api/events after the failure")
    expect_eq([e["id"] for e in page["events"]], ids[-5:],
              f"{tag}: GET /api/events: the newest acknowledged events")
    replay = Subscriber(srv.ws_url(f"/ws/logs?after_id={ids[-11]}"))
    got = replay.wait_for(10)
    expect_eq([e["id"] for e in got], ids[-10:], f"{tag}: a new subscriber replays")
    replay.close()
    got = live.wait_for(len(ids) + 2)  # hello, the events, and live
    expect_eq([m["id"] for m in got if "id" in m], ids,
              f"{tag}: the live feed carried every acknowledged event and nothing else")
    expect(all(m.get("reason") == "retention" for m in got if m.get("control") == "gap"),
           f"{tag}: the live feed's gaps: {[m for m in got if m.get('control') == 'gap']}")
    expect(not live.closed.is_set(), f"{tag}: the live feed was closed")


def check_after_restart(srv, ledger, refused, first_in_doubt, tag):
    srv.binary, srv.env = BINARY, {}
    srv.start()
    rows, check, _ = read_store(srv)
    expect_eq(check, "ok", f"{tag}: integrity_check after the restart")
    stored = {uid: event_id for event_id, (uid, _) in rows.items()}
    floor = min(rows)  # retention, when on, removed the oldest
    for event_id, uid in ledger.acked.items():
        if event_id < floor:
            continue
        expect_eq(stored.get(uid), event_id, f"{tag}: acknowledged event {uid}")
        expect_eq(rows[event_id][1], ledger.text[uid], f"{tag}: the body of {uid}")
    for k, batch in enumerate(refused):
        present = [u in stored for u in batch]
        if k == 0 and first_in_doubt:
            expect(all(present) or not any(present),
                   f"{tag}: the batch refused when the fsync failed is partly stored")
        else:
            expect(not any(present), f"{tag}: refused batch {k} is stored: {present}")
    status, ack = srv.post([{"type": "system", "message": "otra vez", "data": {"uid": "again"}}])
    expect_eq(status, 200, f"{tag}: a POST after the restart")
    expect(ack["first_id"] > max(ledger.acked),
           f"{tag}: id after the restart {ack['first_id']} <= {max(ledger.acked)}")
    return sum(present.count(True) for present in
               ([u in stored for u in b] for b in refused))


def fault_case(sync, fault, *args, in_doubt=False, at_start=False):
    """One injected failure, from ingest to restart.

    at_start: arm the failure when the server starts (on a store that a first
    run created and stopped), not while it runs.
    """
    need_crashtest()
    tag = f"--sync {sync}, {fault}" + (", armed at start" if at_start else "")
    rng = random.Random(7)
    srv = Server(*args, sync=sync, binary=CRASHTEST)
    ctl = Control(srv)
    srv.env = ctl.env("nosync")
    srv.start()
    ledger = Ledger()
    cli = srv.client()
    for n in range(3):
        uids, ack = post_batch(cli, rng, ledger, f"warm{n}", 20, PAD)
        ledger.answered(uids, ack, "warm")
    if at_start:
        cli.close()
        srv.stop()
        srv.env = ctl.env(f"nosync; {fault}")
        srv.start()
        cli = srv.client()
        live = Subscriber(srv.ws_url("/ws/logs?control=1&after_id=0"))
    else:
        live = Subscriber(srv.ws_url("/ws/logs?control=1&after_id=0"))
        ctl.send(fault)
    uids, status, answer = post_until_refused(srv, cli, rng, ledger, "load")
    expect_eq(status, 503, f"{tag}: status of the refused POST")
    expect(isinstance(answer, dict) and isinstance(answer.get("error"), str),
           f"{tag}: the refusal is a JSON error: {answer!r}")
    refused = [uids]
    # Never a silent retry: every later POST is refused too.
    for n in range(3):
        more, ack = post_batch(cli, rng, ledger, f"after{n}", 2, 10)
        expect(isinstance(ack, tuple) and ack[0] == 503,
               f"{tag}: a POST after the failure: {ack!r}")
        refused.append(more)
    cli.close()
    status, body = srv.request("GET", "/healthz")
    expect_eq(status, 503, f"{tag}: GET /healthz after the failure")
    log = srv.stderr_text()
    expect_in("crashvfs: failing", log, f"{tag}: the failure was injected")
    expect_in("no further events will be accepted until restart", log, f"{tag}: the log")
    if len(ledger.acked) > 10:
        check_reads_go_on(srv, ledger, live, tag)
    live.close()
    srv.stop()
    kept = check_after_restart(srv, ledger, refused, in_doubt, tag)
    srv.stop()
    print(f"  {tag}: {len(ledger.acked)} events acknowledged, then refused with "
          f"{answer['error']!r}; after the restart all there, "
          f"{kept} events of refused batches stored")


def test_commit_write_fails():
    fault_case("full", "fail write wal")


def test_wal_growth_fails():
    fault_case("normal", "fail grow wal")


def test_commit_fsync_fails():
    fault_case("full", "fail sync wal", in_doubt=True)


def test_id_reservation_fsync_fails():
    # The first commit after a start reserves a block of ids with an fsync
    # of its own: the batch is refused, never written.
    fault_case("normal", "fail sync wal", at_start=True)


def test_checkpoint_wal_fsync_fails():
    # Under --sync normal the WAL is synced when a checkpoint starts.
    fault_case("normal", "fail sync wal")


def test_checkpoint_write_fails():
    fault_case("normal", "fail write db")


def test_checkpoint_fsync_fails():
    fault_case("full", "fail sync db")


def test_wal_truncate_fails():
    # Retention's compaction checkpoints and truncates the WAL.
    fault_case("normal", "fail truncate wal", "--retain-events", "300")


def test_reads_fail_for_a_while():
    need_crashtest()
    rng = random.Random(11)
    srv = Server(sync="normal", binary=CRASHTEST)
    ctl = Control(srv)
    srv.env = ctl.env("nosync")
    srv.start()
    ledger = Ledger()
    cli = srv.client()
    for n in range(20):
        uids, ack = post_batch(cli, rng, ledger, f"warm{n}", 20, PAD)
        ledger.answered(uids, ack, "warm")
    ctl.send("fail read any 0")
    time.sleep(0.1)
    answers = []
    for n in range(5):
        uids, ack = post_batch(cli, rng, ledger, f"during{n}", 5, 10)
        if isinstance(ack, dict):
            ledger.answered(uids, ack, "during")
            answers.append(200)
        else:
            answers.append(ack[0])
            expect_eq(ack[0], 503, "a POST refused while reads fail")
        status, page = srv.request("GET", "/api/events?order=desc&limit=5")
        answers.append(status)
        if status == 200:
            expect_eq([e["id"] for e in page["events"]], acked_ids(ledger)[::-1][:5],
                      "GET /api/events while reads fail: right or refused, never wrong")
        else:
            expect_eq(status, 503, "GET /api/events while reads fail")
    expect_in("crashvfs: failing read", srv.stderr_text(), "the failure was injected")
    ctl.send("heal")
    time.sleep(0.1)
    status, page = srv.request("GET", "/api/events?order=desc&limit=5")
    expect_eq(status, 200, "GET /api/events once reads work again")
    expect_eq([e["id"] for e in page["events"]], acked_ids(ledger)[::-1][:5],
              "GET /api/events once reads work again")
    ids = acked_ids(ledger)
    replay = Subscriber(srv.ws_url(f"/ws/logs?after_id={ids[-21]}"))
    expect_eq([e["id"] for e in replay.wait_for(20)], ids[-20:], "a replay once reads work")
    replay.close()
    writer_hit = 503 in answers[0::2]
    status, _ = srv.request("GET", "/healthz")
    expect_eq(status, 503 if writer_hit else 200,
              "GET /healthz: 503 only if a commit hit the failure (then until restart)")
    cli.close()
    srv.stop()
    srv.binary, srv.env = BINARY, {}
    srv.start()
    rows, check, _ = read_store(srv)
    expect_eq(check, "ok", "integrity_check")
    stored = {uid for uid, _ in rows.values()}
    expect(all(uid in stored for uid in ledger.acked.values()), "acknowledged events kept")
    srv.stop()
    print(f"  answers while every read failed (POST, GET, ...): {answers}")


def store_moved(how):
    srv = Server(sync="normal").start()
    live = Subscriber(srv.ws_url("/ws/logs?control=1"))
    acked = []
    for n in range(5):
        status, ack = srv.post([{"type": "agent", "message": f"antes {n}.{i}"} for i in range(20)])
        expect_eq(status, 200, "post")
        acked += list(range(ack["first_id"], ack["last_id"] + 1))
    if how == "deleted":
        for suffix in ("", "-wal"):
            os.unlink(srv.db_path + suffix)
    else:
        other = Server(sync="normal").start()  # a store of its own
        other.post([{"type": "agent", "message": "otro"}])
        other.stop()
        shutil.copy(other.db_path, srv.db_path + ".new")
        os.replace(srv.db_path + ".new", srv.db_path)
    status, answer = srv.post([{"type": "agent", "message": "después"}])
    expect_eq(status, 503, f"a POST after the store file was {how}")
    expect_in("deleted or replaced", answer.get("error", ""), "the refusal says why")
    status, _ = srv.post([{"type": "agent", "message": "después 2"}])
    expect_eq(status, 503, "the next POST too")
    status, _ = srv.request("GET", "/healthz")
    expect_eq(status, 503, "GET /healthz")
    expect_in("deleted or replaced", srv.stderr_text(), "the log says why")
    status, page = srv.request("GET", f"/api/events?after_id={acked[-5] - 1}")
    expect_eq((status, [e["id"] for e in page["events"]]), (200, acked[-5:]),
              "reads go on from the file the server has open")
    got = live.wait_for(len(acked) + 2)
    expect_eq([m["id"] for m in got if "id" in m], acked, "the live feed: acknowledged only")
    expect(not live.closed.is_set(), "the live feed stays open")
    live.close()
    srv.stop()


def test_store_file_deleted():
    store_moved("deleted")


def test_store_file_replaced():
    store_moved("replaced")


if __name__ == "__main__":
    run(test_commit_write_fails, test_wal_growth_fails, test_commit_fsync_fails,
        test_id_reservation_fsync_fails, test_checkpoint_wal_fsync_fails,
        test_checkpoint_write_fails, test_checkpoint_fsync_fails, test_wal_truncate_fails,
        test_reads_fail_for_a_while, test_store_file_deleted, test_store_file_replaced)
