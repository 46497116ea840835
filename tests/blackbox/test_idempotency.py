#!/usr/bin/python3
"""Idempotency-Key on POST /api/events, Loki pushes and /ws/ingest.

A retry with the same key and body stores nothing and gets the first
answer again (same status, same ids) with Idempotent-Replayed: true; the
same key with another request gets 422; concurrent requests with one key
store once; a request whose answer was lost to kill -9 or to a power cut
(--sync full, the crash test build) is stored once when retried; keys
expire with --idempotency-window; 0 turns them off.

Set POWERLOSS_SEED to replay the power cuts.
"""

import http.client
import json
import os
import random
import socket
import subprocess
import threading
import time

from crashsim import CRASHTEST, Control, expect_cut, need_crashtest
from harness import (HOST, Server, Subscriber, expect, expect_eq, expect_in, raw_http, run)


def events(n, tag="e"):
    return [{"type": "agent", "message": f"{tag} {i}", "data": {"n": i}} for i in range(n)]


def post(srv, body, key=None, path="/api/events", headers=None, timeout=30):
    """POST with an Idempotency-Key: (status, parsed body, headers as a dict)."""
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Idempotency-Key"] = key
    h.update(headers or {})
    conn = http.client.HTTPConnection(HOST, srv.port, timeout=timeout)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode()
        return resp.status, parsed, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def keys_in_store(srv):
    conn = srv.db()
    try:
        return conn.execute("SELECT key, status, first_id, last_id FROM idempotency_keys"
                            " ORDER BY key").fetchall()
    finally:
        conn.close()


def metric(srv, name):
    status, text = srv.request("GET", "/metrics")
    expect_eq(status, 200, "GET /metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_retry_is_answered_again():
    srv = Server().start()
    body = events(5)
    status, first, h1 = post(srv, body, "order-42")
    expect_eq(status, 200, "first request")
    expect_eq(first["accepted"], 5, "first request stored 5")
    expect("idempotent-replayed" not in h1, "the first answer is no replay")
    for attempt in range(3):
        status, again, h2 = post(srv, body, "order-42")
        expect_eq((status, again), (200, first), f"retry {attempt}: the first answer")
        expect_eq(h2.get("idempotent-replayed"), "true", f"retry {attempt}: said to be a replay")
    # Quotes around the key (a structured-field string) name the same key.
    status, again, h3 = post(srv, body, '"order-42"')
    expect_eq((status, again, h3.get("idempotent-replayed")), (200, first, "true"),
              "the quoted key is the same key")
    expect_eq(srv.store_state(), (5, first["last_id"]), "stored once")
    expect_eq(keys_in_store(srv), [("order-42", 200, first["first_id"], first["last_id"])],
              "the key's row")
    # Another key, same body: another request.
    status, other, _ = post(srv, body, "order-43")
    expect_eq((status, other["first_id"]), (200, first["last_id"] + 1), "another key stores")
    # No key: stored as always.
    status, plain, h4 = post(srv, body)
    expect_eq((status, plain["accepted"]), (200, 5), "without a key")
    expect("idempotent-replayed" not in h4, "no replay without a key")
    expect_eq(srv.store_state()[0], 15, "rows")
    expect_eq(metric(srv, "sentinel_idempotent_replays_total"), 4.0, "replays counted")
    srv.stop()


def test_conflicts_and_bad_keys():
    srv = Server().start()
    status, first, _ = post(srv, events(2), "k1")
    expect_eq(status, 200, "first request")
    # The same key with another body, other parameters, another endpoint.
    status, body, h = post(srv, events(3), "k1")
    expect_eq(status, 422, "same key, another body")
    expect_in("Idempotency-Key", body["error"], "the refusal names the header")
    expect("idempotent-replayed" not in h, "a conflict is no replay")
    status, _, _ = post(srv, events(2), "k1", path="/api/events?partial=1")
    expect_eq(status, 422, "same key, other parameters")
    loki = json.dumps({"streams": [{"stream": {"job": "x"},
                                    "values": [["1773064800000000000", "m"]]}]}).encode()
    status, _, _ = post(srv, loki, "k1", path="/loki/api/v1/push")
    expect_eq(status, 422, "same key on a Loki push")
    expect_eq(srv.store_state(), (2, first["last_id"]), "conflicts store nothing")
    expect_eq(metric(srv, "sentinel_idempotency_conflicts_total"), 3.0, "conflicts counted")
    # Keys that are not keys.
    for bad, what in (("", "empty"), ("x" * 129, "129 characters"), ("caf\u00e9", "not ASCII"),
                      ("a b\tc", "a tab")):
        raw = (b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Idempotency-Key: " + bad.encode() + b"\r\nContent-Length: 2\r\n"
               b"Connection: close\r\n\r\n[]")
        status, answer = raw_http(srv.port, raw)
        expect_eq(status, 400, f"a key that is {what}")
        expect_in("Idempotency-Key", answer["error"], f"the refusal of a key that is {what}")
    status, _, _ = post(srv, events(1), "x" * 128)
    expect_eq(status, 200, "128 characters are fine")
    # A refused first request leaves the key unused.
    status, _, _ = post(srv, b"[{\"type\":\"\"}]", "k2")
    expect_eq(status, 400, "a bad batch with a key")
    status, ok, h = post(srv, events(1), "k2")
    expect_eq((status, "idempotent-replayed" in h), (200, False),
              "the key of a refused request is free")
    srv.stop()


def test_loki_push_replay():
    srv = Server().start()
    body = json.dumps({"streams": [{"stream": {"job": "cron"},
                                    "values": [["1773064800000000000", "nightly"]]}]}).encode()
    s1, _, h1 = post(srv, body, "push-1", path="/loki/api/v1/push")
    s2, b2, h2 = post(srv, body, "push-1", path="/loki/api/v1/push")
    expect_eq((s1, s2, b2), (204, 204, ""), "a push and its retry: 204")
    expect_eq((h1.get("idempotent-replayed"), h2.get("idempotent-replayed")), (None, "true"),
              "the retry is a replay")
    expect_eq(srv.store_state()[0], 1, "stored once")
    srv.stop()


def test_concurrent_requests_with_one_key():
    srv = Server("--sync", "full").start()
    body = events(200, "big")
    results = [None] * 10
    start = threading.Event()

    def worker(i):
        start.wait()
        results[i] = post(srv, body, "same-time")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    start.set()
    for t in threads:
        t.join()
    stored = [r for r in results if r[0] == 200 and "idempotent-replayed" not in r[2]]
    replays = [r for r in results if r[0] == 200 and r[2].get("idempotent-replayed") == "true"]
    busy = [r for r in results if r[0] == 409]
    expect_eq(len(stored), 1, "exactly one request stored")
    expect_eq(len(stored) + len(replays) + len(busy), len(results), "200 or 409, nothing else")
    for r in replays:
        expect_eq(r[1], stored[0][1], "every replay has the first answer")
    expect_eq(srv.store_state(), (200, stored[0][1]["last_id"]), "200 rows, once")
    srv.stop()


def send_request(port, key, body):
    """Send a keyed POST and return the socket, its answer unread."""
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall(b"POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Idempotency-Key: " + key.encode() + b"\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    return s


def test_retry_after_kill9():
    """An answer lost to kill -9 (before or after the commit): the retry stores once."""
    srv = Server("--sync", "full").start()
    total = 0
    for i, delay in enumerate((0.0, 0.002, 0.01, 0.05, None)):
        body = json.dumps(events(50, f"round {i}")).encode()
        key = f"round-{i}"
        s = send_request(srv.port, key, body)
        if delay is None:
            # Wait until the rows are committed, then lose the answer.
            deadline = time.monotonic() + 10
            while srv.store_state()[0] < total + 50 and time.monotonic() < deadline:
                time.sleep(0.005)
            expect_eq(srv.store_state()[0], total + 50, "committed before the kill")
        else:
            time.sleep(delay)
        srv.kill9()
        s.close()
        srv.restart()
        status, ack, h = post(srv, json.loads(body), key)
        expect_eq((status, ack["accepted"]), (200, 50), f"round {i}: the retry's answer")
        total += 50
        expect_eq(srv.store_state()[0], total, f"round {i}: stored once")
        texts = [json.loads(b)["message"] for _, _, b in srv.rows()[-50:]]
        expect_eq(texts, [f"round {i} {n}" for n in range(50)], f"round {i}: the events")
        # Asked once more: a replay, with the same ids.
        status, again, h2 = post(srv, json.loads(body), key)
        expect_eq((status, again, h2.get("idempotent-replayed")), (200, ack, "true"),
                  f"round {i}: asked again")
    srv.stop()


def uids_in_store(srv):
    """{uid: [ids]} of every stored event."""
    conn = srv.db()
    try:
        out = {}
        for event_id, body in conn.execute("SELECT id, body FROM journal ORDER BY id"):
            out.setdefault(json.loads(body)["data"]["uid"], []).append(event_id)
        return out
    finally:
        conn.close()


def test_retry_after_power_cuts():
    """Producers post keyed batches until a power cut (--sync full); after the
    restart every batch is retried with its key: each event is stored once,
    an acknowledged answer is given again as it was, and every id matches."""
    need_crashtest()
    seed = int(os.environ.get("POWERLOSS_SEED", time.time_ns() % 1000000))
    print(f"POWERLOSS_SEED={seed}")
    rng = random.Random(seed)
    srv = Server(sync="full", binary=CRASHTEST)
    ctl = Control(srv)
    sent, acked = {}, {}  # key: the batch; key: its first answer
    lock = threading.Lock()
    lost_answers = 0  # committed before a cut, answer never received
    for no in range(9):
        srv.env = ctl.env(f"nosync; seed {rng.randrange(1 << 30)}")
        srv.start()
        for key, batch in sent.items():
            status, ack, h = post(srv, batch, key)
            expect_eq(status, 200, f"round {no}: the retry of {key}: {ack}")
            if key in acked:
                expect_eq((ack, h.get("idempotent-replayed")), (acked[key], "true"),
                          f"round {no}: {key} was acknowledged: the same answer again")
            else:
                lost_answers += h.get("idempotent-replayed") == "true"
            acked[key] = ack
        stored = uids_in_store(srv)
        for key, batch in sent.items():
            ids = [stored.get(e["data"]["uid"], []) for e in batch]
            expect_eq(ids, [[i] for i in range(acked[key]["first_id"], acked[key]["last_id"] + 1)],
                      f"round {no}: {key} stored once, with the ids of its answer")
        expect_eq(sum(len(v) for v in stored.values()), sum(len(b) for b in sent.values()),
                  f"round {no}: nothing else stored")
        if no == 8:
            break
        mode = rng.choice(["drop", "torn", "partial"])
        ctl.send(f"cut-after {rng.randint(1, 400)} {mode}")

        def producer(p, seed):
            prng = random.Random(seed)
            for n in range(100000):
                key = f"r{no}-p{p}-b{n}"
                batch = [{"type": "agent", "message": f"{key} {i}",
                          "data": {"uid": f"{key}-{i}"}} for i in range(prng.randint(1, 30))]
                with lock:
                    sent[key] = batch
                try:
                    status, ack, _ = post(srv, batch, key, timeout=10)
                except OSError:
                    return  # the power went
                if status != 200:
                    return
                with lock:
                    acked[key] = ack

        threads = [threading.Thread(target=producer, args=(p, rng.randrange(1 << 30)))
                   for p in range(rng.randint(1, 3))]
        for t in threads:
            t.start()
        try:
            srv.proc.wait(5)
        except subprocess.TimeoutExpired:
            ctl.send(f"cut {mode}")  # no cut after so few writes: cut now
        expect_cut(srv)
        for t in threads:
            t.join(30)
    srv.stop()
    print(f"{len(sent)} batches stored once each; {lost_answers} committed with their "
          "answer lost to a cut, replayed when retried")


def test_expiry():
    srv = Server("--idempotency-window", "2s", "--retention-interval", "1s").start()
    s1, first, _ = post(srv, events(1), "short-lived")
    s2, again, h = post(srv, events(1), "short-lived")
    expect_eq((s1, s2, again, h.get("idempotent-replayed")), (200, 200, first, "true"),
              "within the window: a replay")
    expect_eq(len(keys_in_store(srv)), 1, "one key kept")
    deadline = time.monotonic() + 15
    while keys_in_store(srv) and time.monotonic() < deadline:
        time.sleep(0.1)
    expect_eq(keys_in_store(srv), [], "the key expired (deleted by the writer)")
    expect(metric(srv, "sentinel_idempotency_keys_expired_total") >= 1, "expiry counted")
    s3, later, h3 = post(srv, events(1), "short-lived")
    expect_eq((s3, "idempotent-replayed" in h3), (200, False), "past the window: a new request")
    expect_eq(later["first_id"], first["last_id"] + 1, "stored again")
    srv.stop()
    # The offline compact removes keys past the window too.
    srv2 = Server("--idempotency-window", "1s").start()
    post(srv2, events(1), "offline")
    srv2.stop()
    time.sleep(1.2)
    out = subprocess.run([srv2.binary, "compact", "--db", srv2.db_path, "--idempotency-window",
                          "1s"], capture_output=True, text=True, timeout=60)
    expect_eq(out.returncode, 0, f"compact: {out.stderr}")
    expect_in("removed 1 idempotency keys", out.stdout, "compact says so")
    expect_eq(keys_in_store(srv2), [], "compact removed the key")


def test_window_zero_turns_keys_off():
    srv = Server("--idempotency-window", "0").start()
    s1, a1, _ = post(srv, events(2), "ignored")
    s2, a2, h = post(srv, events(2), "ignored")
    expect_eq((s1, s2, "idempotent-replayed" in h), (200, 200, False), "both stored")
    expect_eq(a2["first_id"], a1["last_id"] + 1, "stored twice")
    expect_eq(keys_in_store(srv), [], "no key recorded")
    srv.stop()


def test_ws_ingest_envelope():
    srv = Server().start()
    ingest = Subscriber(srv.ws_url("/ws/ingest"))
    env = {"idempotency_key": "ws-1", "events": events(3)}
    ingest.send(json.dumps(env))
    ingest.send(json.dumps(env))
    ingest.send(json.dumps({"idempotency_key": "ws-1", "events": events(4)}))
    ingest.send(json.dumps({"idempotency_key": "ws-2", "events": events(1)[0]}))
    ingest.send(json.dumps({"idempotency_key": "ws-3", "events": [], "x": 1}))
    ingest.send(json.dumps({"idempotency_key": 7, "events": []}))
    answers = ingest.wait_for(6)
    first = answers[0]
    expect_eq(first["accepted"], 3, "the first envelope")
    expect_eq(answers[1], dict(first, replayed=True), "its retry: the first answer, replayed")
    expect_in("Idempotency-Key", answers[2]["error"], "another request with the key")
    expect_eq((answers[3]["accepted"], answers[3]["first_id"]), (1, first["last_id"] + 1),
              "an envelope around one event")
    expect_in("error", answers[4], "an envelope with more members")
    expect_in("error", answers[5], "a key that is no string")
    # The key is shared with HTTP: a POST of the same request replays it.
    status, ack, h = post(srv, events(3), "ws-1")
    expect_eq((status, ack, h.get("idempotent-replayed")), (200, first, "true"),
              "the same request over HTTP")
    # An object with a "type" is an event, whatever other members it has.
    ingest.send(json.dumps({"type": "t", "message": "m", "idempotency_key": "no", "events": 1}))
    expect_eq(ingest.wait_for(7)[6]["accepted"], 1, "an event with such members is an event")
    expect_eq(srv.store_state()[0], 5, "stored once each")
    expect_eq([k for k, *_ in keys_in_store(srv)], ["ws-1", "ws-2"], "the keys recorded")
    ingest.close()
    srv.stop()


if __name__ == "__main__":
    run(test_retry_is_answered_again, test_conflicts_and_bad_keys, test_loki_push_replay,
        test_concurrent_requests_with_one_key, test_retry_after_kill9,
        test_retry_after_power_cuts, test_expiry,
        test_window_zero_turns_keys_off, test_ws_ingest_envelope)
