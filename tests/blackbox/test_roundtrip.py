#!/usr/bin/python3
"""Events come back exactly as they were sent.

Every event read back over /ws/logs equals the sent object plus "id" (and
"timestamp" where none was sent); non-ASCII text and the spelling of
numbers come back byte for byte, over the wire and in the journal's body;
the seed's own example events round-trip with their timestamps; a missing
timestamp becomes the ingest time as YYYY-MM-DDTHH:MM:SS.ffffffZ.
"""

import datetime
import json
import re

from harness import (SEED_EVENTS, Server, Subscriber, expect, expect_eq, expect_in, ids_of, run,
                     with_id)

# Hand-written JSON texts, so that the spelling of every value is ours.
RAW_EVENTS = [
    '{"type":"system","message":"Sentinel AI Iniciado (Modo API) 🚀",'
    '"timestamp":"2026-03-09T14:00:00.123456"}',
    '{"type":"agent","message":"Diagnosticando servicio postgresql",'
    '"timestamp":"2026-03-09T14:35:00.123456","data":{"step":"diagnose","service":"postgresql"}}',
    '{"type":"config","message":"acentos: é ñ ü Ñ ¿qué? — «ok» 日本語 🇪🇸",'
    '"data":{"ciudad":"Peñalolén","nested":{"list":[1,2,{"deep":[true,false,null]}],'
    '"empty":{},"emptylist":[]}}}',
    '{"type":"monitor","message":"números","data":{"ratio":0.10,"big":12345678901234567890123,'
    '"exp":1e5,"neg":-0.0,"E":2.5E-3,"int":42,"negbig":-98765432109876543210},'
    '"host":"db-1","tags":["a","b"],"severity":3,"ok":true,"nothing":null}',
    '{"type":"error","message":"quote \\" backslash \\\\ slash \\/ newline \\n tab \\t cr \\r '
    'escaped \\u00e9 \\ud83d\\ude80 ctrl \\u001f end","data":{"k\\"ey":"v\\\\al"}}',
    '{"type":"a.b:c-d_E9","message":""}',
    '{"type":"' + "t" * 64 + '","message":"longest type"}',
    # Whitespace between tokens is not part of any value.
    '{ "type" : "security" ,\n\t"message" : "espacios  dentro ",\r\n "data" : { "n" : 7 } }',
]

# Values whose exact text must come back: (event index, key, JSON text of the value).
RAW_VALUES = [
    (0, "message", '"Sentinel AI Iniciado (Modo API) 🚀"'),
    (1, "message", '"Diagnosticando servicio postgresql"'),
    (2, "message", '"acentos: é ñ ü Ñ ¿qué? — «ok» 日本語 🇪🇸"'),
    (2, "ciudad", '"Peñalolén"'),
    (3, "message", '"números"'),
    (3, "ratio", "0.10"),
    (3, "big", "12345678901234567890123"),
    (3, "exp", "1e5"),
    (3, "neg", "-0.0"),
    (3, "E", "2.5E-3"),
    (3, "negbig", "-98765432109876543210"),
    (7, "message", '"espacios  dentro "'),
]


INGEST_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def micros(ts):
    """Microseconds since the epoch of an ISO 8601 text (no zone = UTC)."""
    t = datetime.datetime.fromisoformat(ts.replace("z", "Z"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    d = t - EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def value_re(key, text):
    """A regex for `"key": <text>` in JSON, spaces allowed around the colon."""
    return re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*' +
                      re.escape(text.encode("utf-8")) + rb"\s*[,}\]]")


def journal(srv):
    """{id: (ts_us, type, body bytes)} and {id: events-view row}."""
    conn = srv.db()
    conn.text_factory = bytes
    try:
        rows = {r[0]: r[1:] for r in conn.execute("SELECT id, ts_us, type, body FROM journal")}
        view = {r[0]: r[1:] for r in conn.execute(
            "SELECT id, type, message, timestamp, data FROM events")}
        return rows, view
    finally:
        conn.close()


def post_and_receive(srv, sub, bodies, content_type="application/json"):
    """Post each body; return [(sent object, received object, received raw text)]."""
    start = len(sub.raw)
    acks = []
    for body in bodies:
        status, ack = srv.post(body, content_type)
        expect_eq(status, 200, f"status of POST {repr(body)[:80]} (answer {ack!r})")
        acks.append(ack)
    ids = [i for a in acks for i in ids_of(a)]
    got = sub.wait_for(start + len(ids))[start:]
    expect_eq(len(sub.raw), start + len(ids), "messages received over /ws/logs")
    expect_eq([e["id"] for e in got], ids, "ids received, in order")
    return ids, got, list(sub.raw[start:])


def test_values_round_trip():
    srv = Server().start()
    sub = Subscriber(srv.ws_url())
    ids, got, raw = post_and_receive(srv, sub, RAW_EVENTS)
    rows, view = journal(srv)

    for i, text in enumerate(RAW_EVENTS):
        sent = json.loads(text)
        recv = got[i]
        if "timestamp" not in sent:
            expect(INGEST_TS.match(recv.get("timestamp", "")),
                   f"event {i}: ingest timestamp {recv.get('timestamp')!r} "
                   "is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
            sent["timestamp"] = recv["timestamp"]
        expect_eq(recv, with_id(sent, ids[i]), f"event {i} read back over /ws/logs")
        ts_us, typ, body = rows[ids[i]]
        expect_eq(json.loads(body), sent, f"event {i}: journal body")
        expect_eq(typ.decode(), sent["type"], f"event {i}: journal type")
        expect_eq(ts_us, micros(sent["timestamp"]), f"event {i}: journal ts_us")
        vtype, vmsg, vts, vdata = view[ids[i]]
        expect_eq((vtype.decode(), vmsg.decode(), vts.decode()),
                  (sent["type"], sent["message"], sent["timestamp"]),
                  f"event {i}: events view type/message/timestamp")
        expect_eq(json.loads(vdata) if vdata is not None else None, sent.get("data"),
                  f"event {i}: events view data")

    for i, key, text in RAW_VALUES:
        pattern = value_re(key, text)
        expect(pattern.search(raw[i].encode("utf-8")),
               f"event {i}: {key} = {text} not sent back verbatim over /ws/logs: {raw[i]!r}")
        expect(pattern.search(rows[ids[i]][2]),
               f"event {i}: {key} = {text} not stored verbatim: {rows[ids[i]][2]!r}")
    # The exact UTF-8 bytes of the seed's emoji message, stored and sent.
    rocket = "Sentinel AI Iniciado (Modo API) 🚀".encode("utf-8")
    expect_in(b"Sentinel AI Iniciado (Modo API) \xf0\x9f\x9a\x80", rocket, "encoding")
    expect_in(rocket, rows[ids[0]][2], "emoji message bytes in the journal")
    expect_in(rocket, raw[0].encode("utf-8"), "emoji message bytes over /ws/logs")
    srv.stop()


def test_seed_examples_round_trip():
    srv = Server().start()
    sub = Subscriber(srv.ws_url())
    ids, got, _ = post_and_receive(srv, sub, SEED_EVENTS)
    rows, _ = journal(srv)
    for i, event in enumerate(SEED_EVENTS):
        expect_eq(got[i], with_id(event, ids[i]), f"seed example {i} read back")
        expect_eq(got[i]["timestamp"], event["timestamp"], f"seed example {i}: timestamp verbatim")
        expect_eq(rows[ids[i]][0], micros(event["timestamp"]),
                  f"seed example {i}: ts_us (no zone means UTC)")

    # The same examples as one array and as NDJSON: one batch each.
    ndjson = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in SEED_EVENTS)
    more, got2, _ = post_and_receive(srv, sub, [SEED_EVENTS])
    more2, got3, _ = post_and_receive(srv, sub, [ndjson], "application/x-ndjson")
    expect_eq(got2, [with_id(e, i) for e, i in zip(SEED_EVENTS, more)],
              "seed examples posted as an array, read back")
    expect_eq(got3, [with_id(e, i) for e, i in zip(SEED_EVENTS, more2)],
              "seed examples posted as NDJSON, read back")
    expect_eq(srv.store_state()[0], 3 * len(SEED_EVENTS), "rows stored")
    srv.stop()


def test_timestamps():
    srv = Server().start()
    sub = Subscriber(srv.ws_url())
    given = ["2026-03-09T14:00:00.123456Z", "2026-03-09T16:00:00.5+02:00",
             "2026-03-09T09:30:00-04:30", "2026-03-09T14:00:00", "2024-02-29T23:59:59.999999"]
    events = [{"type": "system", "message": f"ts {t}", "timestamp": t} for t in given]
    events.append({"type": "system", "message": "sin timestamp"})
    before = datetime.datetime.now(datetime.timezone.utc)
    ids, got, _ = post_and_receive(srv, sub, events)
    after = datetime.datetime.now(datetime.timezone.utc)
    rows, _ = journal(srv)
    for i, t in enumerate(given):
        expect_eq(got[i]["timestamp"], t, "a given timestamp is kept verbatim")
        expect_eq(rows[ids[i]][0], micros(t), f"ts_us of {t}")
    ts = got[-1].get("timestamp", "")
    expect(INGEST_TS.match(ts), f"ingest timestamp {ts!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    when = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    slack = datetime.timedelta(seconds=5)
    expect(before - slack <= when <= after + slack,
           f"ingest timestamp {ts} is not between {before} and {after}")
    expect_eq(rows[ids[-1]][0], micros(ts), "ts_us of the ingest timestamp")
    expect_eq(got[-1], with_id({"type": "system", "message": "sin timestamp", "timestamp": ts},
                               ids[-1]), "event without timestamp read back")
    srv.stop()


def test_large_event_round_trips():
    srv = Server().start()
    sub = Subscriber(srv.ws_url())
    message = ("ñandú 🚀 " * 20000)[:60000]  # ~170 KB of UTF-8, under 256 KiB
    event = {"type": "agent", "message": message, "data": {"blob": "x" * 50000}}
    ids, got, raw = post_and_receive(srv, sub, [event])
    rows, _ = journal(srv)
    sent = dict(event, timestamp=got[0]["timestamp"])
    expect_eq(got[0], with_id(sent, ids[0]), "large event read back")
    expect_in(json.dumps(message, ensure_ascii=False).encode(), rows[ids[0]][2],
              "large message bytes in the journal")
    srv.stop()


def test_nul_escape_round_trips():
    # "\u0000" is valid JSON (RFC 8259 §7) and U+0000 is a valid character.
    srv = Server().start()
    sub = Subscriber(srv.ws_url())
    text = '{"type":"agent","message":"antes\\u0000despues","data":{"k":"\\u0000"}}'
    status, ack = srv.post(text)
    expect_eq(status, 200, f"status of an event with a \\u0000 escape (answer {ack!r})")
    got = sub.wait_for(1)
    expect_eq(got[0]["message"], "antes\x00despues", "message with U+0000 read back")
    expect_eq(got[0]["data"], {"k": "\x00"}, "data with U+0000 read back")
    srv.stop()


if __name__ == "__main__":
    run(test_values_round_trip, test_seed_examples_round_trip, test_timestamps,
        test_large_event_round_trips, test_nul_escape_round_trips)
