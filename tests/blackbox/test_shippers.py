#!/usr/bin/python3
"""Log shippers feed the server unchanged, through the README's recipes.

The payloads are the ones Vector's http sink, Fluent Bit's http output and
syslog-ng's http() destination send by default; the mapping parameters are
read from the README's recipes, so the documentation is what is tested.
syslog-ng itself runs with the README's configuration. Each case checks
what is stored, byte for byte: the producer's object as sent plus the
members the mapping added, and ts_us from the mapped time. Strictness stays
the default: the same payloads without parameters are refused.
"""

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import zlib

from harness import Server, expect, expect_eq, expect_in, free_port, run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Vector's http sink, codec json: an array of its events.
VECTOR_EVENTS = [
    {"file": "/var/log/app/app.log", "host": "web-1", "message": "GET /checkout 200 12ms",
     "source_type": "file", "timestamp": "2025-11-30T05:40:00.123456789Z"},
    {"file": "/var/log/app/app.log", "host": "web-1", "message": "pago rechazado: tarjeta ❌",
     "source_type": "file", "timestamp": "2025-11-30T05:40:01.000000001Z"},
]
# Fluent Bit's http output, format json (json_date_key date, double).
FLUENTBIT_EVENTS = [
    {"date": 1764481200.123456, "log": "nginx: connect() failed (111: Connection refused)"},
    {"date": 1764481201.5, "log": "nginx: upstream timed out"},
]


def readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def recipe_path(pattern):
    """The /api/events?... path of a README recipe line matching pattern."""
    m = re.search(pattern, readme())
    expect(m, f"README recipe not found: {pattern}")
    return m.group(1)


def vector_path():
    return recipe_path(r'uri = "http://127\.0\.0\.1:8000(/api/events\?[^"]*)"')


def fluentbit_path():
    return recipe_path(r"URI\s+(/api/events\?\S*)")


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def stored(srv):
    """(ts_us, body) of every event, in id order."""
    conn = srv.db()
    try:
        return conn.execute("SELECT ts_us, body FROM journal ORDER BY id").fetchall()
    finally:
        conn.close()


def post(srv, path, body, content_type="application/json", headers=None):
    h = {"Content-Type": content_type}
    h.update(headers or {})
    return srv.request("POST", path, body=body, headers=h)


def test_vector_default_payload():
    srv = Server().start()
    body = json.dumps(VECTOR_EVENTS, ensure_ascii=False).encode()
    status, answer = post(srv, "/api/events", body)
    expect_eq((status, answer["error"]), (400, "missing required field 'type'"),
              "strict by default")
    path = vector_path()
    expect_eq(path, "/api/events?type=vector", "the README's Vector uri")
    status, answer = post(srv, path, body)
    expect_eq((status, answer["accepted"]), (200, 2), f"Vector's batch: {answer}")
    rows = stored(srv)
    for (ts_us, text), event in zip(rows, VECTOR_EVENTS):
        # The object as sent, "type" appended; the nanosecond timestamp verbatim.
        expect_eq(text, compact(event)[:-1] + ',"type":"vector"}', "stored body")
    expect_eq([r[0] for r in rows], [1764481200123456, 1764481201000000], "ts_us")
    status, page = srv.request("GET", "/api/events")
    expect_eq(page["events"][0], dict({"id": 1}, **VECTOR_EVENTS[0], type="vector"),
              "read back")


def test_vector_gzip():
    srv = Server("--max-body-bytes", "64KiB").start()
    path = vector_path()
    for encoding, packed in (("gzip", gzip.compress(json.dumps(VECTOR_EVENTS).encode())),
                             ("deflate", zlib.compress(json.dumps(VECTOR_EVENTS).encode()))):
        status, answer = post(srv, path, packed, headers={"Content-Encoding": encoding})
        expect_eq((status, answer.get("accepted")), (200, 2), f"{encoding} body: {answer}")
    expect_eq(len(stored(srv)), 4, "both batches stored")
    expect_eq(stored(srv)[2][1], stored(srv)[0][1], "gzip and plain bodies store the same")
    # Not a gzip stream, a truncated one, and one inflating past the limit.
    good = gzip.compress(json.dumps(VECTOR_EVENTS).encode())
    bomb = gzip.compress(json.dumps([{"message": "x" * (200 * 1024)}]).encode())
    for name, body, want in (("garbage", b"not gzip at all", 400),
                             ("truncated", good[:len(good) // 2], 400),
                             ("inflates past the limit", bomb, 413)):
        status, answer = post(srv, path, body, headers={"Content-Encoding": "gzip"})
        expect_eq(status, want, f"{name}: {answer}")
        expect("error" in answer, f"{name} answers an error object")
    status, answer = post(srv, path, good, headers={"Content-Encoding": "br"})
    expect_eq(status, 415, f"unknown encoding: {answer}")
    expect_eq(len(stored(srv)), 4, "nothing more stored")


def test_fluentbit_json_and_json_lines():
    srv = Server().start()
    body = json.dumps(FLUENTBIT_EVENTS).encode()
    status, answer = post(srv, "/api/events", body)
    expect_eq(status, 400, f"strict by default: {answer}")
    path = fluentbit_path()
    expect_eq(path, "/api/events?type=fluentbit&message_field=log&timestamp_field=date",
              "the README's Fluent Bit URI")
    status, answer = post(srv, path, body)
    expect_eq((status, answer.get("accepted")), (200, 2), f"format json: {answer}")
    # json_lines: one object a line, sent as application/json.
    lines = "\n".join(json.dumps(e) for e in FLUENTBIT_EVENTS).encode() + b"\n"
    status, answer = post(srv, path, lines)
    expect_eq(status, 400, f"json_lines without format=ndjson: {answer}")
    status, answer = post(srv, path + "&format=ndjson", lines)
    expect_eq((status, answer.get("accepted")), (200, 2), f"json_lines: {answer}")
    rows = stored(srv)
    expect_eq(rows[0][1],
              '{"date":1764481200.123456,"log":"nginx: connect() failed (111: Connection '
              'refused)","type":"fluentbit","message":"nginx: connect() failed (111: '
              'Connection refused)","timestamp":"2025-11-30T05:40:00.123456Z"}',
              "stored: as sent, plus type, message and timestamp")
    expect_eq([r[0] for r in rows], [1764481200123456, 1764481201500000] * 2, "ts_us")
    expect_eq(rows[2][1], rows[0][1], "json and json_lines store the same")


def test_epoch_units_and_fields():
    srv = Server().start()
    base = "/api/events?type=t&message_field=msg&timestamp_field=ts"
    cases = [
        (1764481200, "", "2025-11-30T05:40:00.000000Z"),
        (1764481200123, "", "2025-11-30T05:40:00.123000Z"),
        (1764481200123456, "", "2025-11-30T05:40:00.123456Z"),
        (1764481200123456789, "", "2025-11-30T05:40:00.123456Z"),
        ("2025-11-30T06:40:00.5+01:00", "", "2025-11-30T05:40:00.500000Z"),
        (1764481200, "&timestamp_unit=ms", "1970-01-21T10:08:01.200000Z"),
    ]
    for ts, extra, iso in cases:
        status, answer = post(srv, base + extra, json.dumps({"ts": ts, "msg": "m"}).encode())
        expect_eq(status, 200, f"ts {ts!r}: {answer}")
        event = json.loads(stored(srv)[-1][1])
        expect_eq((event["ts"], event["timestamp"]), (ts, iso), f"ts {ts!r}{extra}")
    # The producer's own members always win over the mapping.
    own = {"type": "own", "message": "mine", "timestamp": "2026-01-01T00:00:00Z",
           "msg": "other", "ts": 5}
    status, _ = post(srv, base, compact(own).encode())
    expect_eq(stored(srv)[-1][1], compact(own), "an event with every member is unchanged")
    # Without the timestamp field either: the ingest time, as for any event.
    status, _ = post(srv, base, b'{"msg":"no time"}')
    t = json.loads(stored(srv)[-1][1])["timestamp"]
    expect_eq((status, t[:2], t[-1]), (200, "20", "Z"), "no time field: ingest time")
    n = len(stored(srv))
    for body, why in (({"ts": -5, "msg": "m"}, "before 1970"),
                      ({"ts": "yesterday", "msg": "m"}, "not a time"),
                      ({"ts": 1, "msg": 42}, "message field not a string"),
                      ({"ts": 1}, "no message field")):
        status, answer = post(srv, base, json.dumps([{"ts": 1, "msg": "ok"}, body]).encode())
        expect_eq((status, answer.get("index")), (400, 1), f"{why}: {answer}")
    for bad in ("?timestamp_unit=days", "?type=bad%20type", "?message_field=", "?partial=maybe",
                "?format=xml", "?nope=1"):
        status, answer = post(srv, "/api/events" + bad, b'{"type":"x","message":"m"}')
        expect_eq(status, 400, f"parameter {bad}: {answer}")
        expect_in("parameter", answer["error"], "the error names the parameter")
    expect_eq(len(stored(srv)), n, "refusals store nothing")


def test_text_plain_lines():
    srv = Server().start()
    status, answer = post(srv, "/api/events", b"one\n", "text/plain")
    expect_eq(status, 415, f"text/plain without type=: {answer}")
    body = "first line\r\n\nsegunda línea 🚀\n   \nthird".encode()
    status, answer = post(srv, "/api/events?type=syslog", body, "text/plain; charset=utf-8")
    expect_eq((status, answer.get("accepted")), (200, 3), f"lines: {answer}")
    events = [json.loads(b) for _, b in stored(srv)]
    expect_eq([e["message"] for e in events], ["first line", "segunda línea 🚀", "third"],
              "one event a line")
    expect_eq({e["type"] for e in events}, {"syslog"}, "the type")
    expect(all(e["timestamp"].endswith("Z") for e in events), "ingest time added")
    status, answer = post(srv, "/api/events?type=syslog", b"ok\n\xff\xfe\n", "text/plain")
    expect_eq((status, answer.get("index")), (400, 1), f"invalid UTF-8: {answer}")
    status, answer = post(srv, "/api/events?type=x", b"\x82\xa4type", "application/msgpack")
    expect_eq(status, 415, f"msgpack: {answer}")
    expect_eq(len(stored(srv)), 3, "refusals store nothing")


def test_partial_batches():
    srv = Server().start()
    batch = [{"type": "a", "message": "one"}, {"message": "no type"},
             {"type": "a", "message": "two"}, "not an object", {"type": "a", "message": 3},
             {"type": "a", "message": "three"}]
    body = json.dumps(batch).encode()
    status, answer = post(srv, "/api/events", body)
    expect_eq((status, answer.get("index")), (400, 1), "strict: the whole batch refused")
    expect_eq(stored(srv), [], "nothing stored")
    status, answer = post(srv, "/api/events?partial=1", body)
    expect_eq(status, 200, f"partial: {answer}")
    expect_eq((answer["accepted"], answer["first_id"], answer["last_id"]), (3, 1, 3), "kept")
    expect_eq([r["index"] for r in answer["rejected"]], [1, 3, 4], "the bad ones, by index")
    expect_eq(answer["rejected_count"], 3, "rejected_count")
    expect_in("type", answer["rejected"][0]["error"], "why")
    expect_eq([json.loads(b)["message"] for _, b in stored(srv)], ["one", "two", "three"],
              "the good ones, in order")
    # Everything bad: still answered, nothing stored; a broken body is refused.
    status, answer = post(srv, "/api/events?partial=1", b'[{"a":1},{"b":2}]')
    expect_eq((status, answer["accepted"], answer["rejected_count"]), (200, 0, 2), "all bad")
    status, answer = post(srv, "/api/events?partial=1", b'[{"type":"a","message":"x"}')
    expect_eq(status, 400, f"an unterminated array: {answer}")
    # With a mapping: the shipper's batch with one record lacking its field.
    status, answer = post(srv, fluentbit_path() + "&partial=1",
                          json.dumps(FLUENTBIT_EVENTS + [{"date": 1}]).encode())
    expect_eq((status, answer["accepted"], [r["index"] for r in answer["rejected"]]),
              (200, 2, [2]), "partial with a mapping")
    expect_eq(len(stored(srv)), 5, "three, then two")


# ---------------------------------------------------------------- syslog-ng

SYSLOG_NG = shutil.which("syslog-ng") or "/usr/sbin/syslog-ng"


def syslog_ng_config(server_port, source_port):
    """The README's syslog-ng recipe, pointed at the test server, fed by a
    TCP source named s_src (Debian's name for its local source)."""
    m = re.search(r"```\n(options \{ frac-digits.*?log \{ source\(s_src\); "
                  r"destination\(d_sentinel\); \};)\n```", readme(), re.S)
    expect(m, "the README's syslog-ng recipe")
    recipe = m.group(1).replace("127.0.0.1:8000", f"127.0.0.1:{server_port}")
    return ("@version: 3.38\n"
            f'source s_src {{ network(ip("127.0.0.1") port({source_port}) transport("tcp") '
            "flags(no-parse)); };\n" + recipe + "\n")


def test_syslog_ng_recipe():
    expect(os.access(SYSLOG_NG, os.X_OK), "syslog-ng is installed (tools/setup/deps.sh test)")
    srv = Server().start()
    work = tempfile.mkdtemp(prefix="sentinel-syslog-ng-")
    source_port = free_port()
    conf = os.path.join(work, "syslog-ng.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(syslog_ng_config(srv.port, source_port))
    log = open(os.path.join(work, "syslog-ng.log"), "wb")
    proc = subprocess.Popen([SYSLOG_NG, "-F", "-f", conf, "-R", os.path.join(work, "persist"),
                             "-p", os.path.join(work, "pid"), "-c", os.path.join(work, "ctl")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        sock = None
        deadline = time.monotonic() + 20
        while sock is None:
            expect(proc.poll() is None, "syslog-ng exited at start: " + open(log.name).read())
            try:
                sock = socket.create_connection(("127.0.0.1", source_port), timeout=5)
            except OSError:
                expect(time.monotonic() < deadline, "syslog-ng did not listen")
                time.sleep(0.1)
        lines = [f"syslog line {i} ñandú" for i in range(120)]
        with sock:
            sock.sendall("".join(line + "\n" for line in lines).encode())
        deadline = time.monotonic() + 30
        while len(stored(srv)) < len(lines) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)  # anything sent twice would arrive by now
        events = [json.loads(b) for _, b in stored(srv)]
        expect_eq(sorted(e["message"] for e in events), sorted(lines),
                  "every line arrived exactly once")
        for e in events:
            expect_eq((e["type"], e["message"]), ("syslog", e["MESSAGE"]), "mapped fields")
            expect("HOST" in e and "ISODATE" in e, f"syslog-ng's fields kept: {e}")
            expect(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["timestamp"]),
                   f"timestamp from ISODATE: {e['timestamp']}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run(test_vector_default_payload, test_vector_gzip, test_fluentbit_json_and_json_lines,
        test_epoch_units_and_fields, test_text_plain_lines, test_partial_batches,
        test_syslog_ng_recipe)
