#!/usr/bin/python3
"""sentinel-export and sentinel-import on store files.

Export writes each event as the server sends it, {"id":N, then the stored
members, byte for byte; import takes those lines back (dropping the old
id) and export of the new store gives the same lines but for the ids.
Filters select exactly the events they name; -o writes the file only when
the export is complete; errors (a missing store, a file that is not a
store, a full disk, a closed pipe, a bad input line) exit non-zero and say
what is wrong, and a bad line stores nothing of its batch.
"""

import calendar
import datetime
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile

from harness import expect, expect_eq, expect_in, run

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "sentinel_events.jsonl")
EXPORT = os.environ.get("SENTINEL_EXPORT", "")
IMPORT = os.environ.get("SENTINEL_IMPORT", "")

ID_PREFIX = re.compile(rb'^\{"id":([0-9]+),')

# Hand-written compact event texts whose every byte must survive export and
# import: escapes, numbers spelt unusually, non-ASCII text, extra fields.
TRICKY = [
    '{"type":"config","message":"acentos: é ñ ü Ñ ¿qué? — «ok» 日本語 🇪🇸",'
    '"timestamp":"2026-03-09T14:00:00Z","data":{"ciudad":"Peñalolén",'
    '"nested":{"list":[1,2,{"deep":[true,false,null]}],"empty":{},"emptylist":[]}}}',
    '{"type":"monitor","message":"números","timestamp":"2026-03-09T14:00:01.5+01:00",'
    '"data":{"ratio":0.10,"big":12345678901234567890123,"exp":1e5,"neg":-0.0,"E":2.5E-3},'
    '"host":"db-1","tags":["a","b"],"severity":3,"ok":true,"nothing":null}',
    '{"type":"error","message":"quote \\" backslash \\\\ slash \\/ newline \\n tab \\t '
    'escaped \\u00e9 \\ud83d\\ude80 end","timestamp":"2026-03-09T14:00:02.000001",'
    '"data":{"k\\"ey":"v\\\\al","id":7}}',
    '{"message":"type last, id-like text {\\"id\\":1,","timestamp":"2026-03-09T14:00:03",'
    '"type":"a.b:c-d_E9"}',
]


# ---------------------------------------------------------------- helpers

def tool(binary, *args, stdin=None, check_rc=None):
    """Run a tool; returns (exit code, stdout bytes, stderr text)."""
    proc = subprocess.run([binary, *args], input=stdin, capture_output=True, timeout=120)
    err = proc.stderr.decode("utf-8", "replace")
    expect("Sanitizer" not in err, f"sanitizer report: {err}")
    if check_rc is not None:
        expect_eq(proc.returncode, check_rc,
                  f"exit code of {os.path.basename(binary)} {' '.join(args)} (stderr: {err})")
    return proc.returncode, proc.stdout, err


def export(db, *args):
    """Export a store to stdout; returns the lines (bytes, without newlines)."""
    _, out, _ = tool(EXPORT, "--db", db, *args, check_rc=0)
    expect(out == b"" or out.endswith(b"\n"), "export output ends with a newline")
    return out.split(b"\n")[:-1]


def import_db(db, *args, stdin=None):
    """Import into a store file; returns the summary line."""
    _, out, _ = tool(IMPORT, "--db", db, *args, stdin=stdin, check_rc=0)
    return out.decode().strip()


def ids(lines):
    return [int(ID_PREFIX.match(line).group(1)) for line in lines]


def strip_id(line):
    """The line without its {"id":N, prefix: "{" + the stored members."""
    m = ID_PREFIX.match(line)
    expect(m, f"line starts with {{\"id\":N,: {line[:60]!r}")
    return b"{" + line[m.end():]


def journal(db):
    """Every (id, body bytes) of a store, in id order."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.text_factory = bytes
    try:
        return conn.execute("SELECT id, body FROM journal ORDER BY id").fetchall()
    finally:
        conn.close()


def fixture_lines():
    with open(FIXTURE, "rb") as f:
        return f.read().split(b"\n")[:-1]


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


class Tmp:
    """A temporary folder, removed when the test ends."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sentinel-export-")

    def path(self, name):
        return os.path.join(self.dir, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- tests

def test_export_writes_the_wire_form():
    with Tmp() as t:
        db = t.path("a.db")
        expect_eq(import_db(db, FIXTURE), "imported 42 events (ids 1 to 42)", "import summary")
        lines = export(db)
        src = fixture_lines()
        expect_eq(len(lines), len(src), "one line per event")
        for i, (line, given) in enumerate(zip(lines, src), start=1):
            # The fixture is compact JSON: the stored body is the line itself.
            expect_eq(line, b'{"id":%d,' % i + given[1:], f"line {i}")
        expect_eq([strip_id(line) for line in lines], [b for _, b in journal(db)],
                  "export equals the journal's bodies")
        first = json.loads(lines[0])
        expect_eq(first, {"id": 1, "type": "system",
                          "message": "Sentinel AI Iniciado (Modo API) 🚀",
                          "timestamp": "2026-03-09T14:00:00.123456"}, "first event")
        expect_in("Sentinel AI Iniciado (Modo API) 🚀".encode(), lines[0], "emoji bytes")
        expect_in("Aprobación concedida por la operadora maría.garcía".encode(), lines[31],
                  "Spanish text bytes")


def test_round_trip_keeps_everything_but_ids():
    with Tmp() as t:
        a, b = t.path("a.db"), t.path("b.db")
        tricky = "".join(line + "\n" for line in TRICKY).encode()
        import_db(a, FIXTURE)
        import_db(a, "-", stdin=tricky)
        first = export(a)
        expect_eq(len(first), 42 + len(TRICKY), "events in the first store")
        expect_eq([strip_id(line) for line in first[42:]], [x.encode() for x in TRICKY],
                  "hand-written events stored and exported byte for byte")

        # The second store already holds events: the imported ones get new ids.
        import_db(b, "-", stdin=b'{"type":"system","message":"otro","timestamp":"2026-01-01T00:00:00"}\n' * 3)
        out = t.path("first.jsonl")
        with open(out, "wb") as f:
            f.write(b"".join(line + b"\n" for line in first))
        expect_eq(import_db(b, out), f"imported {len(first)} events (ids 4 to {len(first) + 3})",
                  "import summary of the export")
        second = export(b, "--after-id", "3")
        expect_eq(ids(second), list(range(4, len(first) + 4)), "new ids, in the same order")
        expect_eq([strip_id(x) for x in second], [strip_id(x) for x in first],
                  "export → import → export: identical but for the ids")

        # And once more through standard input, in small batches.
        c = t.path("c.db")
        import_db(c, "--batch", "7", stdin=b"".join(line + b"\n" for line in second))
        expect_eq(export(c), first, "a second round trip gives the first export again")


def test_filters():
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    hours_ago = [5, 3, 1.5, 0.75, 0.25]  # one "recent" event per entry, oldest first
    recent = [{"type": "agent" if i % 2 else "monitor", "message": f"hace {h} h",
               "timestamp": iso(now - datetime.timedelta(hours=h)) + "Z"}
              for i, h in enumerate(hours_ago)]
    with Tmp() as t:
        db = t.path("f.db")
        import_db(db, FIXTURE)
        import_db(db, "-", stdin="".join(json.dumps(e) + "\n" for e in recent).encode())
        everything = export(db)
        events = [json.loads(line) for line in everything]
        expect_eq(len(events), 47, "events stored")
        by_id = dict(zip(ids(everything), everything))

        def selected(pred):
            return [by_id[e["id"]] for e in events if pred(e)]

        def ts_us(e):
            t = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
            if t.tzinfo is None:
                t = t.replace(tzinfo=datetime.timezone.utc)
            return calendar.timegm(t.utctimetuple()) * 1_000_000 + t.microsecond

        def us(text):
            return ts_us({"timestamp": text})

        cases = [
            # since is inclusive, until exclusive: the event at 14:45:00.123456
            # (id 10) is in the first range and not in the second.
            (["--since", "2026-03-09T14:45:00.123456"],
             lambda e: ts_us(e) >= us("2026-03-09T14:45:00.123456")),
            (["--until", "2026-03-09T14:45:00.123456"],
             lambda e: ts_us(e) < us("2026-03-09T14:45:00.123456")),
            # An offset is the same instant: 18:05+01:00 is 17:05Z.
            (["--since", "2026-03-09T17:05:00Z", "--until", "2026-03-09T17:30:00"],
             lambda e: us("2026-03-09T17:05:00") <= ts_us(e) < us("2026-03-09T17:30:00")),
            (["--since", "2026-03-09T19:05:00+02:00", "--until", "2026-03-09T17:05:00.000001Z"],
             lambda e: e["id"] == 38),
            (["--after-id", "40"], lambda e: e["id"] > 40),
            (["--after-id", "0"], lambda e: True),
            (["--after-id", "1000"], lambda e: False),
            (["--type", "security"], lambda e: e["type"] == "security"),
            (["--type", "config,error"], lambda e: e["type"] in ("config", "error")),
            (["--type", "nothing-of-this-type"], lambda e: False),
            (["--type", "error", "--since", "2026-03-09T15:00:00", "--after-id", "30"],
             lambda e: e["type"] == "error" and ts_us(e) >= us("2026-03-09T15:00:00")
             and e["id"] > 30),
            # Durations count back from now.
            (["--since", "2h"], lambda e: e["message"] in ("hace 1.5 h", "hace 0.75 h",
                                                            "hace 0.25 h")),
            (["--since", "4h", "--until", "30m"],
             lambda e: e["message"] in ("hace 3 h", "hace 1.5 h", "hace 0.75 h")),
            (["--until", "7d", "--type", "monitor,agent"],
             lambda e: e["type"] in ("monitor", "agent") and not e["message"].startswith("hace")),
            (["--since", "2026-03-10T00:00:00", "--until", "2026-03-09T00:00:00"],
             lambda e: False),
        ]
        for args, pred in cases:
            want = selected(pred)
            got = export(db, *args)
            expect_eq(got, want, f"export {' '.join(args)}")
        expect(any(selected(c[1]) for c in cases[:3]), "filters select something")


def test_output_file():
    with Tmp() as t:
        db = t.path("o.db")
        import_db(db, FIXTURE)
        want = b"".join(line + b"\n" for line in export(db))
        out = t.path("out.jsonl")
        rc, stdout, _ = tool(EXPORT, "--db", db, "-o", out, check_rc=0)
        expect_eq(stdout, b"", "nothing on standard output with -o")
        with open(out, "rb") as f:
            expect_eq(f.read(), want, "contents of the -o file")
        expect_eq([n for n in os.listdir(t.dir) if n.endswith(".tmp")], [],
                  "no temporary file left")
        # Overwriting a file replaces it whole.
        tool(EXPORT, "--db", db, "--type", "security", "--output", out, check_rc=0)
        with open(out, "rb") as f:
            expect_eq(len(f.read().split(b"\n")) - 1, 5, "lines after overwriting")
        # A failed export leaves the old file as it was and no temporary file.
        rc, _, err = tool(EXPORT, "--db", t.path("missing.db"), "-o", out)
        expect(rc != 0, "export of a missing store fails")
        with open(out, "rb") as f:
            expect_eq(len(f.read().split(b"\n")) - 1, 5, "old file kept after a failure")
        expect(not os.path.exists(out + ".tmp"), "no temporary file after a failure")
        rc, _, err = tool(EXPORT, "--db", db, "-o", t.path("no/such/folder/x.jsonl"))
        expect(rc != 0 and "cannot create" in err, f"unwritable destination: {rc} {err!r}")


def test_errors_are_reported():
    with Tmp() as t:
        missing = t.path("missing.db")
        rc, out, err = tool(EXPORT, "--db", missing)
        expect_eq(rc, 1, "exit code for a missing store")
        expect_in(missing, err, "the message names the store")
        expect_in("No such file or directory", err, "the message says why")
        expect_eq(out, b"", "nothing written")
        expect(not os.path.exists(missing), "a missing store is not created")

        garbage = t.path("garbage.db")
        with open(garbage, "wb") as f:
            f.write(b"this is not an SQLite database, just some text\n" * 100)
        rc, _, err = tool(EXPORT, "--db", garbage)
        expect_eq(rc, 1, "exit code for a file that is not a database")
        expect_in("not a database", err, "message for a file that is not a database")

        other = t.path("other.db")
        conn = sqlite3.connect(other)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
        rc, _, err = tool(EXPORT, "--db", other)
        expect_eq(rc, 1, "exit code for an SQLite file that is not a store")
        expect_in("not a sentinel-logd store", err, "message for a foreign database")

        db = t.path("e.db")
        import_db(db, FIXTURE)
        for args, what in [(["--since", "yesterday"], "--since"),
                           (["--until", "2026-13-01T00:00:00"], "--until"),
                           (["--after-id", "-1"], "--after-id"),
                           (["--type", "bad type"], "--type"),
                           (["--type", "a,,b"], "--type"),
                           (["--bogus"], "--bogus"),
                           (["extra"], "extra")]:
            rc, out, err = tool(EXPORT, "--db", db, *args)
            expect_eq(rc, 2, f"exit code for {args}")
            expect_in(what, err, f"message for {args}")
            expect_eq(out, b"", f"nothing written for {args}")

        rc, out, _ = tool(EXPORT, "--help", check_rc=0)
        expect_in(b"--since", out, "export --help")
        rc, out, _ = tool(IMPORT, "--help", check_rc=0)
        expect_in(b"--batch", out, "import --help")
        for binary, name in [(EXPORT, b"sentinel-export"), (IMPORT, b"sentinel-import")]:
            rc, out, _ = tool(binary, "--version", check_rc=0)
            expect(out.startswith(name + b" "), f"--version: {out!r}")
        rc, _, err = tool(IMPORT, FIXTURE)
        expect_eq(rc, 2, "import without a destination")
        expect_in("--db", err, "import without a destination: message")


def test_write_errors():
    with Tmp() as t:
        db = t.path("w.db")
        # Enough events to fill any pipe buffer and the 1 MiB output buffer.
        line = ('{"type":"agent","message":"%s","timestamp":"2026-03-09T14:00:00Z"}\n'
                % ("x" * 200)).encode()
        import_db(db, stdin=line * 20000)

        # A full disk.
        with open("/dev/full", "wb") as full:
            proc = subprocess.run([EXPORT, "--db", db], stdout=full, stderr=subprocess.PIPE,
                                  timeout=60)
        expect_eq(proc.returncode, 1, "exit code when the disk is full")
        expect_in(b"No space left on device", proc.stderr, "message when the disk is full")
        rc, _, err = tool(EXPORT, "--db", db, "-o", "/dev/full")
        expect_eq(rc, 1, "exit code for -o on a full disk")
        expect_in("No space left on device", err, "message for -o on a full disk")

        # A reader that goes away.
        proc = subprocess.Popen([EXPORT, "--db", db], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.stdout.read(100)
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(60)
        expect_eq(proc.returncode, 1, "exit code when the reader closes the pipe")
        expect_in(b"Broken pipe", err, "message when the reader closes the pipe")

        # /dev/null is written as it is, never replaced by a renamed file.
        rc, _, _ = tool(EXPORT, "--db", db, "-o", "/dev/null", check_rc=0)
        expect(os.path.exists("/dev/null") and not os.path.isfile("/dev/null"),
               "/dev/null is still a device")


def test_bad_line_stores_nothing_of_its_batch():
    good = fixture_lines()
    with Tmp() as t:
        # Lines 1-4 and 6-11 are the first batch of 10 events (line 5 is
        # blank); line 17 is bad, so the batch of lines 12-21 is refused.
        lines = good[:4] + [b"   "] + good[4:15] + [b'{"type":"agent"}'] + good[15:30]
        path = t.path("bad.jsonl")
        with open(path, "wb") as f:
            f.write(b"\n".join(lines) + b"\n")
        db = t.path("b.db")
        rc, out, err = tool(IMPORT, "--db", db, "--batch", "10", path)
        expect_eq(rc, 1, "exit code of an import with a bad line")
        expect_in(f"{path}: line 17: missing required field 'message'", err,
                  "the bad line's number and what is wrong")
        expect_in("lines 12 to 21", err, "the batch that was not stored")
        stored = [body for _, body in journal(db)]
        expect_eq(stored, good[:10], "only the batch before the bad line is stored")

        # One batch: nothing at all is stored.
        db2 = t.path("b2.db")
        rc, _, err = tool(IMPORT, "--db", db2, path)
        expect_eq(rc, 1, "exit code with one batch")
        expect_eq(journal(db2), [], "nothing stored when the only batch has a bad line")

        # From standard input the message has the line number too.
        rc, _, err = tool(IMPORT, "--db", db2, stdin=b"\n".join(lines[:20]) + b"\n")
        expect_in("line 17: missing required field 'message'", err, "stdin: line number")

        # An id anywhere but first, as export writes it, is refused clearly.
        for text, why in [
                (b'{"type":"agent","message":"m","id":3}', "accepted only as the first member"),
                (b'{"id":"3","type":"agent","message":"m"}', "accepted only as sentinel-export"),
                (b'{"id":3}', "accepted only as sentinel-export"),
                (b'{"id":3,"type":"agent","message":"m","id":4}', "accepted only as the first")]:
            rc, _, err = tool(IMPORT, "--db", db2, stdin=good[0] + b"\n" + text + b"\n")
            expect_eq(rc, 1, f"exit code for {text!r}")
            expect_in("line 2: ", err, f"line number for {text!r}")
            expect_in(why, err, f"message for {text!r}")
        expect_eq(journal(db2), [], "nothing stored by the refused imports")


if __name__ == "__main__":
    for name, value in [("SENTINEL_EXPORT", EXPORT), ("SENTINEL_IMPORT", IMPORT)]:
        if not value or not os.access(value, os.X_OK):
            print(f"{name} must name the tool's binary (got {value!r})")
            raise SystemExit(2)
    run(test_export_writes_the_wire_form, test_round_trip_keeps_everything_but_ids,
        test_filters, test_output_file, test_errors_are_reported, test_write_errors,
        test_bad_line_stores_nothing_of_its_batch)
