#!/usr/bin/python3
"""Power loss: simulated power cuts under concurrent ingest, retention and
checkpoints, and clients resuming across them.

The server under test is sentinel-logd-crashtest (crashsim.py): a power cut
leaves each store file as it was at its last fsync, with what was written
since dropped, torn at a sector, or kept in part, and ends the process.

Rounds (test_power_cuts_*): on one store, with --retain-events so that
retention and its checkpoints run at random points, 1 to 3 producers post
batches until a cut lands, after a random number of writes or a random
time. The next start is the restart after the cut; then, before new
ingest: PRAGMA integrity_check is ok; every row is an event a producer
sent, with its exact body and the id it was acknowledged with; a batch in
flight at the cut is stored whole or not at all; and ids acknowledged
later are above every id ever acknowledged (never handed out twice).
  --sync full:   every acknowledged event (at or above the oldest id that
                 retention kept) is there.
  --sync normal: what a round kept of its acknowledged events is a prefix
                 in id order (no hole); the rest is counted as lost.
The counts are printed; the README's figures come from this test.

Resuming (test_resume_across_cuts_*): a control=1 subscriber follows the
live feed until a cut right after an acknowledgement; the server restarts
(the production binary) and the subscriber resumes with after_id = the last
id it received. It gets the stored events it missed, then, under --sync
normal, {"control":"gap","reason":"lost"} naming every id that may have
been handed out and is gone, then "live", then every new event; a seed
client (control=0) resuming the same way gets the same events. New ids are
above every id the subscriber ever saw.

A kill -9 of the production binary in the same boot of the machine loses
nothing: ids go on (test_kill9_loses_no_ids). Gaps by reason
(test_gaps_name_their_reason): an unclean stop followed by another boot
records the rest of the reserved block as lost; after retention removed
events on both sides of it, a subscriber resuming from before gets one gap
per reason, and one resuming above every id gets "reset".

Set POWERLOSS_SEED to replay a run.
"""

import os
import random
import subprocess
import threading
import time

from crashsim import (CRASHTEST, CUT_EXIT, SCALE, Control, Ledger, expect_cut, need_crashtest,
                      post_batch, read_store)
from harness import BINARY, Server, Subscriber, TestFailure, expect, expect_eq, run

FULL_CUTS = max(12, int(200 * SCALE))
NORMAL_CUTS = max(8, int(60 * SCALE))
RESUME_CUTS = 3
RETAIN = "3000"
ROUND_SECONDS = 3.0  # a cut not due by then is made by signal
MODES = ["drop", "torn", "partial"]


def seed_of(name):
    seed = int(os.environ.get("POWERLOSS_SEED", time.time_ns() % 1000000))
    print(f"{name}: POWERLOSS_SEED={seed}")
    return seed


class Round:
    """Producers posting until the server dies under them."""

    def __init__(self, srv, ledger, no, rng):
        self.srv, self.ledger, self.no = srv, ledger, no
        self.producers = rng.randint(1, 3)
        self.seeds = [rng.randrange(1 << 30) for _ in range(self.producers)]
        self.pad_max = rng.choice([200, 200, 2000])  # bigger events: checkpoints sooner
        self.errors = []
        self.acked = 0

    def producer(self, p):
        rng = random.Random(self.seeds[p])
        cli = self.srv.client()
        try:
            for n in range(100000):
                size = rng.choice([1, 1, 2, 5, 10, 25, 40])
                uids, ack = post_batch(cli, rng, self.ledger, f"r{self.no}-p{p}-b{n}", size,
                                       self.pad_max)
                if ack is None:
                    return  # the server is gone
                if isinstance(ack, tuple):
                    self.errors.append(f"round {self.no} p{p}: answer {ack}")
                    return
                self.ledger.answered(uids, ack, self.no)
                self.acked += size
        except TestFailure as e:
            self.errors.append(str(e))
        finally:
            cli.close()

    def start(self):
        self.threads = [threading.Thread(target=self.producer, args=(p,))
                        for p in range(self.producers)]
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join(60)
            expect(not t.is_alive(), f"round {self.no}: a producer is stuck")
        expect_eq(self.errors, [], f"round {self.no}: producer errors")


class Stats:
    def __init__(self):
        self.cuts = self.at_start = self.by_writes = self.acked = self.lost = 0
        self.lost_rounds = self.lost_max = 0
        self.modes = {m: 0 for m in MODES}


def verify(srv, ledger, sync, stats, known_lost):
    """Compare the store, after a restart, with what the producers were told."""
    rows, check, _ = read_store(srv)
    expect_eq(check, "ok", "PRAGMA integrity_check after a power cut")
    acked_id_of = {uid: event_id for event_id, uid in ledger.acked.items()}
    stored_id_of = {}
    for event_id, (uid, body) in rows.items():
        expect(uid in ledger.text, f"row {event_id} holds {uid}, which nobody sent")
        expect_eq(body, ledger.text[uid], f"row {event_id}: the body of {uid}")
        if uid in acked_id_of:
            expect_eq(event_id, acked_id_of[uid], f"the id of acknowledged event {uid}")
        expect(uid not in stored_id_of, f"{uid} stored twice")
        stored_id_of[uid] = event_id
    floor = min(rows) if rows else 0
    for batch in ledger.unanswered:
        present = [u in stored_id_of for u in batch]
        if any(present):
            # Whole, but for the head retention may have deleted since.
            head = present.index(True)
            expect(all(present[head:]) and (head == 0 or stored_id_of[batch[head]] == floor),
                   f"a batch in flight at a cut is partly stored: {present} "
                   f"(the oldest id kept is {floor})")
            ids = [stored_id_of[u] for u in batch[head:]]
            expect_eq(ids, list(range(ids[0], ids[0] + len(ids))),
                      "ids of a stored in-flight batch")
    missing = sorted(i for i in ledger.acked if i >= floor and i not in rows)
    if sync == "full":
        expect_eq(missing[:10], [], "acknowledged events missing after a power cut "
                  "under --sync full (first ten ids)")
        return
    # --sync normal: per round, the kept part is a prefix of its acknowledged ids.
    by_round = {}
    for event_id in sorted(i for i in ledger.acked if i >= floor):
        by_round.setdefault(ledger.acked_at[event_id], []).append(event_id)
    for no, ids in by_round.items():
        present = [i in rows for i in ids]
        if False in present and any(present[present.index(False):]):
            raise TestFailure(f"round {no}: a hole in what was kept: id "
                              f"{ids[present.index(False)]} is gone but a later id of the "
                              "round is there")
    new = set(missing) - known_lost
    if new:
        stats.lost_rounds += 1
        stats.lost_max = max(stats.lost_max, len(new))
    stats.lost += len(new)
    known_lost |= new


def power_cut_rounds(sync, cuts):
    need_crashtest()
    seed = seed_of(f"--sync {sync}")
    rng = random.Random(seed)
    srv = Server("--retain-events", RETAIN, "--retention-interval", "1s", sync=sync,
                 binary=CRASHTEST)
    ctl = Control(srv)
    ledger, stats, known_lost = Ledger(), Stats(), set()
    t0 = time.monotonic()
    for no in range(cuts):
        mode = rng.choice(MODES)
        how = rng.choices(["writes", "time", "restart"], [45, 45, 10])[0]
        commands = f"nosync; seed {rng.randrange(1 << 30)}"
        if how == "restart":
            # Armed from the start: the cut may land in the restart itself
            # (recovery, the first retention pass) or early in the round.
            commands += f"; cut-after {rng.randint(1, 8)} {mode}"
        srv.env = ctl.env(commands)
        stats.cuts += 1
        stats.modes[mode] += 1
        stats.by_writes += how != "time"
        try:
            srv.start()
        except TestFailure:
            if srv.proc is None or srv.proc.poll() != CUT_EXIT:
                raise
            stats.at_start += 1
            continue
        if how != "restart":
            # Checked before any cut is armed, so that no cut rewrites the
            # files while they are read.
            verify(srv, ledger, sync, stats, known_lost)
        if how == "writes":
            ctl.send(f"cut-after {rng.randint(1, 1500)} {mode}")
        r = Round(srv, ledger, no, rng)
        r.start()
        if how == "time":
            time.sleep(rng.uniform(0.01, 0.25))
            ctl.send(f"cut {mode}")
        else:
            try:
                srv.proc.wait(ROUND_SECONDS)
            except Exception:  # noqa: BLE001 - not due yet: cut now
                ctl.send(f"cut {mode}")
        expect_cut(srv)
        r.join()
        stats.acked += r.acked
        ledger.close_round()
    # The production binary on the same store: the last check, and new ids.
    srv.binary, srv.env = BINARY, {}
    srv.start()
    verify(srv, ledger, sync, stats, known_lost)
    status, ack = srv.post([{"type": "system", "message": "después", "data": {"uid": "end"}}])
    expect_eq(status, 200, "a post after the last restart")
    expect(ack["first_id"] > ledger.max_acked,
           f"id after the last restart {ack['first_id']} <= {ledger.max_acked}")
    srv.stop()
    inflight = len(ledger.unanswered)
    print(f"  --sync {sync}: {stats.cuts} cuts ({stats.by_writes} after a random number of "
          f"writes, the rest at a random time; {stats.at_start} landed in a restart; "
          f"drop/torn/partial {stats.modes['drop']}/{stats.modes['torn']}/"
          f"{stats.modes['partial']}) in {time.monotonic() - t0:.1f} s; "
          f"{stats.acked} events acknowledged, {stats.lost} of them lost "
          f"(in {stats.lost_rounds} cuts, at most {stats.lost_max} in one); "
          f"{inflight} batches were in flight at a cut")


def test_power_cuts_sync_full():
    power_cut_rounds("full", FULL_CUTS)


def test_power_cuts_sync_normal():
    power_cut_rounds("normal", NORMAL_CUTS)


# ---------------------------------------------------------------- resuming

def ids_and_controls(msgs):
    """Events as their ids, control messages as tuples (live: with its last_id)."""
    return [m["id"] if "id" in m else
            ("live", m["last_id"], None, None) if m["control"] == "live" else
            (m["control"], m.get("from_id"), m.get("to_id"), m.get("reason"))
            for m in msgs]


def resume_across_cuts(sync):
    need_crashtest()
    rng = random.Random(seed_of(f"resume --sync {sync}"))
    srv = Server(sync=sync, binary=CRASHTEST)
    ctl = Control(srv)
    ledger = Ledger()
    seen_max = 0
    # A store that is on the disk before the first cut, as after any clean stop.
    srv.start()
    uids, ack = post_batch(srv.client(), rng, ledger, "base", 3)
    ledger.answered(uids, ack, "base")
    ledger.close_round()
    srv.stop()
    for no in range(RESUME_CUTS):
        srv.binary, srv.env = CRASHTEST, ctl.env()
        srv.start()
        live = Subscriber(srv.ws_url("/ws/logs?control=1"))
        hello = live.wait_for(1)[0]
        expect_eq(hello["control"], "hello", "first message")
        epoch = hello["epoch"]
        # Batches one after the other; the cut comes right after the k-th answer.
        cli = srv.client()
        cut_after = rng.randint(5, 30)
        for n in range(cut_after):
            uids, ack = post_batch(cli, rng, ledger, f"s{no}-b{n}", rng.randint(1, 10))
            expect(isinstance(ack, dict), f"round {no}: answer {ack}")
            ledger.answered(uids, ack, no)
        last_ack = ack["last_id"]
        # The answer is out, and so is the broadcast: the subscriber holds it.
        got = live.wait_for(2 + sum(1 for i in ledger.acked if ledger.acked_at[i] == no))
        ctl.cut("drop")
        cli.close()
        live.wait_closed()
        ids = [m["id"] for m in got if "id" in m]
        expect_eq(ids, sorted(i for i in ledger.acked if ledger.acked_at[i] == no),
                  f"round {no}: the live feed before the cut")
        x = ids[-1]
        expect_eq(x, last_ack, "the last id the subscriber received")
        seen_max = max(seen_max, x)
        ledger.close_round()

        # Restart with the production binary on the same store.
        srv.binary, srv.env = BINARY, {}
        srv.start()
        rows, check, lost = read_store(srv)
        expect_eq(check, "ok", "integrity_check")
        kept = max(rows) if rows else 0
        acked_round = sorted(i for i in ledger.acked if ledger.acked_at[i] == no)
        if sync == "full":
            expect(all(i in rows for i in acked_round), "--sync full lost an acknowledged event")
        resume = Subscriber(srv.ws_url(f"/ws/logs?control=1&after_id={x}&epoch={epoch}"))
        plain = Subscriber(srv.ws_url(f"/ws/logs?after_id={x}"))
        head = resume.wait_for(1)
        expect_eq(head[0]["control"], "hello", "first message after the restart")
        expect_eq(head[0]["last_id"], kept, "hello's last_id: the newest event's")
        # Under --sync normal the ids up to the reserved mark are lost.
        top = lost[-1][1] if sync == "normal" and lost else kept
        # Everything up to "live" comes before any new event is posted.
        deadline = time.monotonic() + 30
        while not any(m.get("control") == "live" for m in resume.messages()):
            expect(time.monotonic() < deadline, f"no 'live' after the restart: "
                   f"{ids_and_controls(resume.messages())}")
            time.sleep(0.01)
        before_live = resume.messages()
        # New events first: their ids must be above all the subscriber saw,
        # or it would never be sent them.
        cli = srv.client()
        new_ids = []
        for n in range(3):
            uids, ack = post_batch(cli, rng, ledger, f"s{no}-after{n}", 4)
            expect(isinstance(ack, dict), f"answer after the restart: {ack}")
            ledger.answered(uids, ack, f"{no}-after")
            new_ids += list(range(ack["first_id"], ack["last_id"] + 1))
        cli.close()
        ledger.close_round()
        expect(new_ids[0] > seen_max, f"new id {new_ids[0]} is not above every id a "
               f"subscriber received ({seen_max}): handed out again")
        expected = [("hello", None, None, None)]
        expected += [i for i in sorted(rows) if i > x]
        if sync == "normal":
            # The reserved ids above the last one kept may all have been handed out.
            expect(lost, "no lost range recorded after a power cut under --sync normal")
            expect_eq(lost[-1][0], kept + 1, "the lost range starts after the last id kept")
            expect(top >= last_ack, f"the lost range ends at {top}, below an acknowledged id "
                   f"({last_ack})")
            expected.append(("gap", kept + 1, top, "lost"))
        expected.append(("live", top, None, None))
        expect_eq(ids_and_controls(before_live), expected,
                  f"round {no}: what a subscriber resuming after id {x} gets before 'live' "
                  f"(the store kept up to {kept} of {last_ack})")
        got = resume.wait_for(len(before_live) + len(new_ids))
        expect_eq(ids_and_controls(got[len(before_live):]), new_ids,
                  f"round {no}: the new events after 'live'")
        want_plain = [i for i in sorted(rows) if i > x] + new_ids
        got = plain.wait_for(len(want_plain))
        expect_eq([m.get("id") for m in got], want_plain,
                  f"round {no}: a seed client resuming after id {x}")
        resume.close()
        plain.close()
        print(f"  round {no}: {len(acked_round)} events acknowledged up to id {last_ack}, "
              f"kept up to {kept}; resumed after {x}: "
              f"{ids_and_controls([m for m in before_live if 'control' in m])}")
        srv.stop()


def test_kill9_loses_no_ids():
    # Only a restart of the machine can take back commits: after a kill -9
    # in the same boot, the reserved ids are given back and ids go on.
    srv = Server(sync="normal").start()
    status, a = srv.post([{"type": "agent", "message": "a", "data": {"uid": f"a{i}"}}
                          for i in range(10)])
    expect_eq((status, a["first_id"], a["last_id"]), (200, 1, 10), "first batch")
    srv.kill9()
    srv.restart()
    _, _, lost = read_store(srv)
    expect_eq(lost, [], "lost ranges after a kill -9 in the same boot")
    status, b = srv.post({"type": "agent", "message": "b", "data": {"uid": "b"}})
    expect_eq((status, b["first_id"]), (200, 11), "ids go on after a kill -9")
    srv.stop()


def test_gaps_name_their_reason():
    # An unclean stop followed by another boot of the machine (the crash
    # test build is a new boot in every process) may have lost commits: the
    # rest of the reserved block is recorded as lost. Then retention removes
    # events on both sides of it; a gap is reported per reason.
    need_crashtest()
    srv = Server(sync="normal", binary=CRASHTEST).start()
    status, a = srv.post([{"type": "agent", "message": "a", "data": {"uid": f"a{i}"}}
                          for i in range(10)])
    expect_eq((status, a["first_id"], a["last_id"]), (200, 1, 10), "first batch")
    srv.kill9()
    srv.restart()
    _, _, lost = read_store(srv)
    expect_eq(len(lost), 1, f"lost ranges after the kill: {lost}")
    lo, hi = lost[0]
    expect_eq(lo, 11, "the lost range starts after the last id stored")
    status, b = srv.post([{"type": "agent", "message": "b", "data": {"uid": f"b{i}"}}
                          for i in range(10)])
    expect_eq((status, b["first_id"]), (200, hi + 1), "new ids start above the lost range")
    srv.stop()
    r = subprocess.run([CRASHTEST, "compact", "--db", srv.db_path, "--retain-events", "5"],
                       capture_output=True, timeout=60)
    expect_eq(r.returncode, 0, f"sentinel-logd compact: {r.stderr!r}")
    srv.restart()
    sub = Subscriber(srv.ws_url("/ws/logs?after_id=3&control=1"))
    plain = Subscriber(srv.ws_url("/ws/logs?after_id=3"))
    got = sub.wait_for(10)
    expect_eq(ids_and_controls(got),
              [("hello", None, None, None), ("gap", 4, 10, "retention"),
               ("gap", 11, hi, "lost"), ("gap", hi + 1, hi + 5, "retention"),
               *range(hi + 6, hi + 11), ("live", hi + 10, None, None)],
              "a subscriber resuming after id 3")
    expect_eq(got[0]["last_id"], hi + 10, "hello's last_id")
    expect_eq([m["id"] for m in plain.wait_for(5)], list(range(hi + 6, hi + 11)),
              "a seed client resuming after id 3: events only")
    # An id above every id the store handed out is not from this store.
    above = Subscriber(srv.ws_url(f"/ws/logs?after_id={hi + 11}&control=1"))
    expect_eq(ids_and_controls(above.wait_for(8))[1:],
              [("reset", None, None, None), *range(hi + 6, hi + 11),
               ("live", hi + 10, None, None)],
              f"a subscriber resuming after id {hi + 11}, above all: reset, from the oldest")
    srv.stop()


def test_resume_across_cuts_sync_normal():
    resume_across_cuts("normal")


def test_resume_across_cuts_sync_full():
    resume_across_cuts("full")


if __name__ == "__main__":
    run(test_kill9_loses_no_ids, test_gaps_name_their_reason, test_resume_across_cuts_sync_normal,
        test_resume_across_cuts_sync_full, test_power_cuts_sync_full,
        test_power_cuts_sync_normal)
