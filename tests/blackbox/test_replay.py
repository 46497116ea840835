"""Replay and resume on /ws/logs: after_id, since, type, control messages,
gap, reset, the handoff from replay to live, churn, and bad parameters."""

import json
import os
import subprocess
import sys
import time

from harness import (Server, Subscriber, TestFailure, expect, expect_eq, expect_in,
                     ids_of, raw_http, run)

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")


def post_ok(srv, events):
    status, ack = srv.post(events)
    expect_eq(status, 200, f"POST answer {ack}")
    return ack


def seed_events(srv):
    """Six events: agent/error alternating, errors with fixed old timestamps."""
    events = []
    for i in range(1, 4):
        events.append({"type": "agent", "message": f"m{i}"})
        events.append({"type": "error", "message": f"e{i}",
                       "timestamp": f"2026-03-09T14:0{i}:00.123456"})
    return post_ok(srv, events)


def events_only(msgs):
    return [m for m in msgs if "control" not in m]


def test_after_id_replays_then_goes_live():
    srv = Server().start()
    seed_events(srv)
    sub = Subscriber(srv.ws_url() + "?after_id=2")
    got = sub.wait_for(4)
    expect_eq([m["id"] for m in got], [3, 4, 5, 6], "replayed ids after 2")
    post_ok(srv, [{"type": "agent", "message": "live one"}])
    got = sub.wait_for(5)
    expect_eq(got[4]["id"], 7, "first live id follows the replay")
    expect_eq(got[4]["message"], "live one", "live event")
    sub.close()


def test_since_forms():
    srv = Server().start()
    seed_events(srv)
    cases = {
        # the seed's own form (no zone: UTC), Z, an offset, and 'all'
        "2026-03-09T14:02:00.123456": {1, 3, 4, 5, 6},
        "2026-03-09T14:02:00.123456Z": {1, 3, 4, 5, 6},
        "2026-03-09T16:02:00.123457%2B02:00": {1, 3, 5, 6},
        "all": {1, 2, 3, 4, 5, 6},
        "1h": {1, 3, 5},  # the agent events carry ingest time, i.e. now
    }
    for since, want in cases.items():
        sub = Subscriber(srv.ws_url() + f"?since={since}&control=1")
        msgs = sub.wait_for(2 + len(want))
        expect_eq(msgs[0]["control"], "hello", f"since={since}: first message")
        expect_eq({m["id"] for m in events_only(msgs)}, want, f"since={since}: replayed ids")
        expect_eq(msgs[-1], {"control": "live", "last_id": 6}, f"since={since}: live marker")
        sub.close()


def test_type_filter_in_replay_and_live():
    srv = Server().start()
    seed_events(srv)
    sub = Subscriber(srv.ws_url() + "?since=all&type=error,config")
    got = sub.wait_for(3)
    expect_eq([m["id"] for m in got], [2, 4, 6], "replayed errors")
    post_ok(srv, [{"type": "agent", "message": "no"}, {"type": "config", "message": "yes"},
                  {"type": "security", "message": "no"}])
    got = sub.wait_for(4)
    expect_eq([m["type"] for m in got], ["error", "error", "error", "config"], "types")
    time.sleep(0.3)
    expect_eq(len(sub.messages()), 4, "nothing of other types arrives")
    sub.close()


def test_hello_and_live_control_messages():
    srv = Server().start()
    seed_events(srv)
    status, stats = srv.request("GET", "/api/stats")
    sub = Subscriber(srv.ws_url() + "?after_id=4&control=1")
    msgs = sub.wait_for(4)
    expect_eq(msgs[0], {"control": "hello", "epoch": stats["epoch"], "first_id": 1, "last_id": 6},
              "hello")
    expect_eq([m.get("id") for m in msgs[1:3]], [5, 6], "replay")
    expect_eq(msgs[3], {"control": "live", "last_id": 6}, "live")
    for m in msgs:
        expect("type" not in m or "control" not in m, f"control messages carry no type: {m}")
    # Without control=1 a client sees events only, as in the seed.
    plain = Subscriber(srv.ws_url() + "?after_id=4")
    expect_eq([m["id"] for m in plain.wait_for(2)], [5, 6], "events only")
    sub.close()
    plain.close()


def test_gap_when_asked_for_events_are_gone():
    srv = Server().start()
    seed_events(srv)
    srv.stop()
    # Retention's effect, made by hand: the oldest events are deleted.
    conn = __import__("sqlite3").connect(srv.db_path)
    conn.execute("DELETE FROM journal WHERE id <= 3")
    conn.commit()
    conn.close()
    srv.start()
    sub = Subscriber(srv.ws_url() + "?after_id=1&control=1")
    msgs = sub.wait_for(5)
    expect_eq(msgs[0]["first_id"], 4, "hello names the oldest kept id")
    expect_eq(msgs[1], {"control": "gap", "from_id": 2, "to_id": 3, "reason": "retention"}, "gap")
    expect_eq([m["id"] for m in msgs[2:5]], [4, 5, 6], "every later event, in order")
    post_ok(srv, [{"type": "agent", "message": "after the gap"}])
    expect_eq(sub.wait_for(7)[6]["id"], 7, "then live")
    sub.close()


def test_reset_on_epoch_mismatch():
    srv = Server().start()
    seed_events(srv)
    status, stats = srv.request("GET", "/api/stats")
    sub = Subscriber(srv.ws_url() + "?after_id=5&epoch=0123456789abcdef&control=1")
    msgs = sub.wait_for(9)
    expect_eq(msgs[1], {"control": "reset", "epoch": stats["epoch"]}, "reset")
    expect_eq([m["id"] for m in msgs[2:8]], [1, 2, 3, 4, 5, 6], "restarts from the oldest event")
    sub.close()
    same = Subscriber(srv.ws_url() + f"?after_id=5&epoch={stats['epoch']}&control=1")
    msgs = same.wait_for(3)
    expect_eq([m.get("control", m.get("id")) for m in msgs], ["hello", 6, "live"],
              "a matching epoch trusts the id")
    same.close()


def test_bad_parameters_refuse_the_handshake():
    srv = Server().start()
    cases = {
        "after_id=x": "after_id",
        "after_id=-1": "after_id",
        "since=yesterday": "since",
        "since=2026-13-01T00:00:00": "since",
        "type=bad%20type": "type",
        "control=maybe": "control",
        "epoch=XYZ": "epoch",
        "afterid=5": "unknown parameter 'afterid'",
    }
    for query, reason in cases.items():
        request = (f"GET /ws/logs?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode()
        status, body = raw_http(srv.port, request)
        expect_eq(status, 400, f"{query}: status")
        expect_in(reason, body["error"], f"{query}: the reason names the parameter")
    expect_eq(srv.request("GET", "/healthz")[0], 200, "still serving")


def node(script, *args, timeout=240):
    env = dict(os.environ, NODE_PATH=os.path.join(JS, "node_modules"))
    proc = subprocess.run(["node", os.path.join(JS, script), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    print(proc.stdout, end="")
    if proc.returncode != 0:
        raise TestFailure(f"{script} failed ({proc.returncode}): {proc.stdout[-2000:]}"
                          f"{proc.stderr[-2000:]}")


def test_churn_resume_with_after_id():
    """20 subscribers drop and resume at random moments while 100,000 events
    are posted: each one's concatenated stream is exactly ids 1..100000."""
    srv = Server("--cache-events", "4096").start()
    node("churn.js", srv.port, 20, 100000, 4)


def test_handoff_from_replay_to_live():
    """1,000 connects with after_id or since under full-rate ingest: the first
    live event follows the last replayed one."""
    srv = Server("--cache-events", "2048").start()
    node("handoff.js", srv.port, 1000)


if __name__ == "__main__":
    run(test_after_id_replays_then_goes_live, test_since_forms,
        test_type_filter_in_replay_and_live, test_hello_and_live_control_messages,
        test_gap_when_asked_for_events_are_gone, test_reset_on_epoch_mismatch,
        test_bad_parameters_refuse_the_handshake, test_churn_resume_with_after_id,
        test_handoff_from_replay_to_live)
