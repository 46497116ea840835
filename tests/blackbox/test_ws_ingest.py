#!/usr/bin/python3
"""Streaming ingest over ws://HOST:PORT/ws/ingest.

Messages sent back to back are answered in order, each with the same JSON
as the HTTP answer, with consecutive id ranges; an array message is one
atomic batch; a bad message gets an error answer, stores nothing, and the
connection keeps working; what is published there reaches /ws/logs.
"""

import json

from harness import Server, Subscriber, expect, expect_eq, ids_of, run, with_id


def event(n, **extra):
    out = {"type": "agent", "message": f"paso {n} ✓", "data": {"n": n}}
    out.update(extra)
    return out


def test_back_to_back_in_order():
    srv = Server().start()
    logs = Subscriber(srv.ws_url())
    ingest = Subscriber(srv.ws_url("/ws/ingest"))
    sizes = [1, 3, 1, 10, 2, 1, 25, 1, 5, 1, 50, 1]
    messages, n = [], 0
    for size in sizes:
        batch = [event(n + i) for i in range(size)]
        n += size
        messages.append(batch[0] if size == 1 else batch)  # objects and arrays
    for m in messages:  # all sent before any answer is read
        ingest.send(json.dumps(m, ensure_ascii=False))
    answers = ingest.wait_for(len(messages))
    expect_eq(len(ingest.raw), len(messages), "one answer per message")
    next_id = answers[0]["first_id"]
    for i, (size, answer) in enumerate(zip(sizes, answers)):
        expect_eq(answer, {"accepted": size, "first_id": next_id, "last_id": next_id + size - 1},
                  f"answer {i}")
        next_id += size

    sent = [e for m in messages for e in (m if isinstance(m, list) else [m])]
    ids = [i for a in answers for i in ids_of(a)]
    got = logs.wait_for(len(sent))
    expect_eq(len(logs.raw), len(sent), "events on /ws/logs")
    for i, (e, event_id) in enumerate(zip(sent, ids)):
        expect_eq(got[i], with_id(dict(e, timestamp=got[i].get("timestamp")), event_id),
                  f"event {i} on /ws/logs")
    expect_eq(srv.store_state(), (len(sent), ids[-1]), "rows and max id")
    ingest.close()
    srv.stop()


def test_same_answer_as_http():
    srv = Server().start()
    ingest = Subscriber(srv.ws_url("/ws/ingest"))
    status, http_ack = srv.post([event(1), event(2)])
    expect_eq(status, 200, "HTTP post")
    ingest.send(json.dumps([event(3), event(4)]))
    ws_ack = ingest.wait_for(1)[0]
    expect_eq(sorted(ws_ack), sorted(http_ack), "answer fields over /ws/ingest and HTTP")
    expect_eq(ws_ack, {"accepted": 2, "first_id": http_ack["last_id"] + 1,
                       "last_id": http_ack["last_id"] + 2}, "answer over /ws/ingest")

    bad = [event(5), {"type": "agent"}]
    status, http_err = srv.post(bad)
    ingest.send(json.dumps(bad))
    ws_err = ingest.wait_for(2)[1]
    expect_eq(status, 400, "HTTP status of a bad batch")
    expect_eq(ws_err, http_err, "error answer over /ws/ingest and HTTP")
    expect_eq(ws_err.get("index"), 1, "index of the bad event")
    ingest.close()
    srv.stop()


def test_array_is_atomic_and_errors_keep_the_connection():
    srv = Server().start()
    logs = Subscriber(srv.ws_url())
    ingest = Subscriber(srv.ws_url("/ws/ingest"))
    good = [event(i) for i in range(5)]
    sequence = [
        ("good", json.dumps(good[0])),
        ("array with a bad event at index 2",
         json.dumps([good[1], good[2], {"type": "agent", "message": 7}, good[3]])),
        ("not JSON", "{esto no es json"),
        ("an array of strings", '["a", "b"]'),
        ("id set by the producer", json.dumps(dict(good[1], id=99))),
        ("good array", json.dumps(good[1:5])),
    ]
    for _, text in sequence:  # back to back, errors among them
        ingest.send(text)
    answers = ingest.wait_for(len(sequence))
    first = answers[0]
    expect_eq(first["accepted"], 1, "first good message")
    for i in (1, 2, 3, 4):
        name = sequence[i][0]
        expect(isinstance(answers[i].get("error"), str) and "accepted" not in answers[i],
               f"{name}: error answer expected, got {answers[i]!r}")
    expect_eq(answers[1].get("index"), 2, "index of the bad event in the array")
    expect_eq(answers[5], {"accepted": 4, "first_id": first["last_id"] + 1,
                           "last_id": first["last_id"] + 4},
              "good array after the errors: consecutive ids")
    expect_eq(srv.store_state(), (5, answers[5]["last_id"]),
              "rows: only the good messages were stored")
    got = logs.wait_for(5)
    expect_eq([e["message"] for e in got], [e["message"] for e in good],
              "subscriber sees only the good events, in order")
    expect_eq([e["id"] for e in got], ids_of(first) + ids_of(answers[5]), "ids on /ws/logs")
    # Still usable after all that.
    ingest.send(json.dumps(event(9)))
    expect_eq(ingest.wait_for(7)[6]["accepted"], 1, "a message after the errors")
    ingest.close()
    srv.stop()


def test_several_ingest_connections_reach_subscribers():
    srv = Server().start()
    subs = [Subscriber(srv.ws_url()) for _ in range(3)]
    producers = [Subscriber(srv.ws_url("/ws/ingest")) for _ in range(4)]
    per_producer = 30
    for k in range(per_producer):
        for p, prod in enumerate(producers):
            prod.send(json.dumps({"type": "monitor", "message": f"p{p} n{k}",
                                  "data": {"p": p, "k": k}}))
    acked = {}
    for p, prod in enumerate(producers):
        answers = prod.wait_for(per_producer)
        for k, a in enumerate(answers):
            expect_eq(a["accepted"], 1, f"producer {p} message {k}")
            acked[a["first_id"]] = {"p": p, "k": k}
        ids = [a["first_id"] for a in answers]
        expect_eq(ids, sorted(ids), f"producer {p}: ids grow in send order")
    total = 4 * per_producer
    expect_eq(sorted(acked), list(range(min(acked), min(acked) + total)),
              "acknowledged ids: no gap, no duplicate")
    for s, sub in enumerate(subs):
        got = sub.wait_for(total)
        expect_eq([e["id"] for e in got], sorted(acked), f"subscriber {s}: ids")
        expect_eq([e["data"] for e in got], [acked[i] for i in sorted(acked)],
                  f"subscriber {s}: events match their acknowledged ids")
    for prod in producers:
        prod.close()
    srv.stop()


def test_limits():
    srv = Server("--max-body-bytes", "64KiB", "--max-event-bytes", "8KiB").start()
    ingest = Subscriber(srv.ws_url("/ws/ingest"))
    ingest.send(json.dumps([event(0), event(1, blob="z" * 9000)]))
    answer = ingest.wait_for(1)[0]
    expect(isinstance(answer.get("error"), str), f"event over the limit: answer {answer!r}")
    expect_eq(answer.get("index"), 1, "index of the event over the limit")
    expect_eq(srv.store_state(), (0, 0), "rows after an event over the limit")
    ingest.send(json.dumps(event(2)))
    expect_eq(ingest.wait_for(2)[1]["accepted"], 1, "a message after the refused one")

    # A message over the body limit closes the connection with 1009.
    ingest.send(json.dumps([event(i, blob="z" * 1000) for i in range(80)]))
    expect_eq(ingest.wait_closed(), 1009, "close code after a message over the limit")
    expect_eq(srv.store_state()[0], 1, "rows after a message over the limit")
    again = Subscriber(srv.ws_url("/ws/ingest"))
    again.send(json.dumps(event(3)))
    expect_eq(again.wait_for(1)[0]["accepted"], 1, "a new connection works")
    again.close()
    srv.stop()


if __name__ == "__main__":
    run(test_back_to_back_in_order, test_same_answer_as_http,
        test_array_is_atomic_and_errors_keep_the_connection,
        test_several_ingest_connections_reach_subscribers, test_limits)
