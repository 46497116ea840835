#!/usr/bin/python3
"""POST /api/sql and GET /api/verify against the real server.

- A query's result comes as JSON, JSON lines or CSV as Accept asks,
  streamed (chunked), with the same rows as the sqlite3 module reads from
  the file; the body may also be {"sql": "..."}.
- Every kind of statement that is not a read is refused with 400 and the
  reason, and the store is unchanged.
- The time limit stops a runaway query with 400; meanwhile the event loop
  answers everything else at once.
- The row limit: refused whole when nothing was sent yet; past the first
  chunk, JSON ends with "complete": false and CSV is cut short (no final
  chunk), so a client cannot take a part for the whole.
- A client that reads slowly is streamed to at its pace, while the server's
  memory stays bounded and other requests are answered; one that goes away
  frees its reader thread.
- Roles: audit and admin tokens may query and verify, others may not.
"""

import http.client
import json
import os
import socket
import tempfile
import threading
import time

from harness import HOST, Server, TestFailure, expect, expect_eq, expect_in, rss_kib, run

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "sentinel_events.jsonl")
SCALE = float(os.environ.get("SENTINEL_TEST_SCALE", "1"))

QUERY = ("SELECT id, type, json_extract(data, '$.service') AS service, message "
         "FROM events WHERE type IN ('error', 'security') ORDER BY id")

# Rows of about 20 KB each, as many as asked for: a large result.
BIG = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
       "SELECT i, hex(zeroblob(10000)) AS filler FROM n")


def load_fixture(srv):
    with open(FIXTURE, encoding="utf-8") as f:
        body = f.read().encode()
    status, ack = srv.post(body, content_type="application/x-ndjson")
    expect_eq((status, ack["accepted"]), (200, 42), "the fixture is stored")


def sql(srv, query, accept=None, headers=None, timeout=30):
    """POST /api/sql: (status, headers, body bytes)."""
    conn = http.client.HTTPConnection(HOST, srv.port, timeout=timeout)
    try:
        h = dict(headers or {})
        if accept:
            h["Accept"] = accept
        conn.request("POST", "/api/sql", body=query.encode(), headers=h)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_formats():
    srv = Server().start()
    load_fixture(srv)
    want = [list(r) for r in srv.db().execute(QUERY).fetchall()]
    expect_eq(len(want), 10, "rows of the query, read from the file")

    status, headers, body = sql(srv, QUERY)
    expect_eq(status, 200, f"POST /api/sql {body[:300]!r}")
    expect_eq(headers.get("content-type"), "application/json", "content type (default)")
    expect_eq(headers.get("transfer-encoding"), "chunked", "streamed")
    result = json.loads(body)
    expect_eq(result, {"columns": ["id", "type", "service", "message"], "rows": want,
                       "row_count": 10, "complete": True}, "the JSON result")

    status, headers, body = sql(srv, QUERY, accept="application/x-ndjson")
    expect_eq(headers.get("content-type"), "application/x-ndjson", "content type (NDJSON)")
    rows = [json.loads(line) for line in body.decode().splitlines()]
    expect_eq(rows, [dict(zip(["id", "type", "service", "message"], r)) for r in want],
              "the JSON lines result")

    status, headers, body = sql(srv, QUERY, accept="text/csv, application/json;q=0.5")
    expect_eq(headers.get("content-type"), "text/csv; charset=utf-8", "content type (CSV)")
    lines = body.decode().split("\r\n")
    expect_eq(lines[0], "id,type,service,message", "the CSV header")
    expect_eq(lines[1], f"5,error,postgresql,{want[0][3]}", "the first CSV row")
    expect_eq((len(lines), lines[-1]), (12, ""), "CSV rows, each ended by CRLF")

    # {"sql": ...} with Content-Type application/json works the same.
    status, headers, body = sql(srv, json.dumps({"sql": QUERY}),
                                headers={"Content-Type": "application/json"})
    expect_eq((status, json.loads(body)["rows"]), (200, want), "a JSON body")
    status, headers, body = sql(srv, '{"query": 1}', headers={"Content-Type": "application/json"})
    expect_eq((status, json.loads(body)), (400, {"error": 'expected {"sql": "SELECT ..."}'}),
              "a JSON body without sql")

    # Keep-alive: several queries on one connection.
    conn = http.client.HTTPConnection(HOST, srv.port, timeout=30)
    for i in range(3):
        conn.request("POST", "/api/sql", body=f"SELECT {i} AS n".encode())
        resp = conn.getresponse()
        expect_eq((resp.status, json.loads(resp.read())["rows"]), (200, [[i]]),
                  f"query {i} on one connection")
    conn.close()
    status, body = srv.request("GET", "/api/sql")
    expect_eq(status, 405, "GET /api/sql")


REFUSED = [
    ("INSERT INTO journal (ts_us, type, body) VALUES (1, 'x', '{}')", "writing (INSERT)"),
    ("UPDATE journal SET body = '{}'", "is not allowed"),
    ("DELETE FROM journal", "writing (DELETE)"),
    ("DROP TABLE journal", "changing the schema"),
    ("CREATE TABLE t (x)", "changing the schema"),
    ("ATTACH DATABASE '/tmp/other.db' AS other", "ATTACH and DETACH are not allowed"),
    ("PRAGMA query_only = 0", "PRAGMA query_only with a value is not allowed"),
    ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode with a value is not allowed"),
    ("SELECT load_extension('/tmp/evil.so')", "the function load_extension is not allowed"),
    ("SELECT * FROM dbstat", "reading the table dbstat is not allowed"),
    ("BEGIN", "transactions are not allowed"),
    ("VACUUM", "the statement would write"),
    ("SELECT 1; DELETE FROM journal", "one SQL statement at a time"),
    ("SELEC 1", "syntax error"),
    ("", "no SQL statement"),
]


def test_refused():
    srv = Server().start()
    load_fixture(srv)
    for query, why in REFUSED:
        status, headers, body = sql(srv, query)
        expect_eq(status, 400, f"{query!r}: status ({body!r})")
        expect_in(why, json.loads(body)["error"], f"{query!r}: the reason")
    expect_eq(srv.store_state(), (42, 42), "the store is unchanged")
    status, report = srv.request("GET", "/api/verify")
    expect_eq(report["intact"], True, "the chain is intact")


def timed_get(srv, path):
    t0 = time.monotonic()
    status, _ = srv.request("GET", path, timeout=10)
    return status, time.monotonic() - t0


def test_time_limit():
    srv = Server("--sql-timeout", "2s").start()
    load_fixture(srv)
    result = {}

    def runaway():
        t0 = time.monotonic()
        result["answer"] = sql(srv, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                                    "FROM c) SELECT count(*) FROM c")
        result["seconds"] = time.monotonic() - t0
    t = threading.Thread(target=runaway)
    t.start()
    time.sleep(0.3)
    # The loop is free meanwhile: ingest, reads and health answer at once.
    worst = 0.0
    while t.is_alive():
        t0 = time.monotonic()
        status, ack = srv.post({"type": "system", "message": "mientras tanto"})
        expect_eq(status, 200, "POST while a query runs")
        for path in ("/healthz", "/api/stats", "/api/events?limit=5"):
            status, secs = timed_get(srv, path)
            expect_eq(status, 200, f"GET {path} while a query runs")
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.05)
    t.join()
    status, headers, body = result["answer"]
    expect_eq((status, json.loads(body)), (400, {
        "error": "the query ran past the time limit of 2 s (--sql-timeout)"}), "the answer")
    expect(2.0 <= result["seconds"] < 10, f"stopped after {result['seconds']:.2f} s")
    expect(worst < 1.0, f"requests beside the query took up to {worst:.2f} s")


def raw_query(srv, query, accept):
    """Send a query on a raw socket; return the socket after the request."""
    s = socket.create_connection((HOST, srv.port), timeout=30)
    body = query.encode()
    s.sendall(b"POST /api/sql HTTP/1.1\r\nHost: x\r\nAccept: " + accept.encode() +
              b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return s


def read_all(s, data=b""):
    """Read until the server closes or the final chunk came."""
    parts = [data]
    tail = data[-7:]
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        tail = (tail + chunk)[-7:]
        if tail == b"\r\n0\r\n\r\n":
            return b"".join(parts)


def dechunk(data):
    """The body of a chunked response (data: what followed the head)."""
    out, at = [], 0
    while True:
        end = data.index(b"\r\n", at)
        n = int(data[at:end], 16)
        if n == 0:
            return b"".join(out)
        out.append(data[end + 2:end + 2 + n])
        at = end + 2 + n + 2


def test_row_limit():
    srv = Server("--sql-max-rows", "40").start()
    load_fixture(srv)
    status, headers, body = sql(srv, "SELECT id FROM events")
    expect_eq((status, json.loads(body)), (400, {
        "error": "the result has more than 40 rows (--sql-max-rows): narrow the query or add "
                 "a LIMIT"}), "a small result over the limit")
    status, headers, body = sql(srv, "SELECT id FROM events LIMIT 40")
    expect_eq((status, json.loads(body)["row_count"]), (200, 40), "a result at the limit")

    # Past the first chunk: JSON says so at its end...
    status, headers, body = sql(srv, BIG.format(rows=100))
    result = json.loads(body)
    expect_eq((status, result["row_count"], result["complete"], len(result["rows"])),
              (200, 40, False, 40), "a large result over the limit, as JSON")
    expect_in("more than 40 rows", result["error"], "the reason")
    # ... CSV and JSON lines end without the final chunk.
    for accept in ("text/csv", "application/x-ndjson"):
        s = raw_query(srv, BIG.format(rows=100), accept)
        data = read_all(s)
        s.close()
        expect(data.startswith(b"HTTP/1.1 200"), f"{accept}: {data[:100]!r}")
        expect(not data.endswith(b"\r\n0\r\n\r\n"), f"{accept}: the answer is cut short")
        conn = http.client.HTTPConnection(HOST, srv.port, timeout=30)
        conn.request("POST", "/api/sql", body=BIG.format(rows=100).encode(),
                     headers={"Accept": accept})
        try:
            conn.getresponse().read()
            raise TestFailure(f"{accept}: a cut answer read as complete")
        except http.client.IncompleteRead:
            pass
        conn.close()


def test_slow_and_vanishing_clients():
    srv = Server("--sql-timeout", "120s", "--sql-max-rows", "1000000", "--readers", "2").start()
    load_fixture(srv)
    rows = int(5000 * max(SCALE, 0.2))  # about 100 MB of JSON at full scale
    base = rss_kib(srv.proc.pid)
    s = raw_query(srv, BIG.format(rows=rows), "application/json")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    time.sleep(2)  # the client reads nothing meanwhile
    grown = rss_kib(srv.proc.pid) - base
    expect(grown < 64 * 1024, f"the server grew by {grown} KiB for one slow client")
    status, secs = timed_get(srv, "/healthz")
    expect(status == 200 and secs < 1, f"GET /healthz beside a slow client: {secs:.2f} s")
    # The other reader thread still answers queries.
    status, headers, body = sql(srv, "SELECT count(*) AS n FROM events")
    expect_eq((status, json.loads(body)["rows"]), (200, [[42]]), "a query beside it")
    # Now read it all, slowly at first: it is whole and in order.
    start = []
    for _ in range(20):
        start.append(s.recv(4096))
        time.sleep(0.01)
    data = read_all(s, b"".join(start))
    s.close()
    head, _, chunked = data.partition(b"\r\n\r\n")
    expect_in(b"transfer-encoding: chunked", head.lower(), "chunked")
    body = dechunk(chunked)
    result = json.loads(body)
    expect_eq((result["row_count"], result["complete"]), (rows, True), "the whole result")
    expect_eq([r[0] for r in result["rows"][:3]] + [result["rows"][-1][0]], [1, 2, 3, rows],
              "rows in order")
    print(f"streamed {len(body) / 1e6:.1f} MB to a slow client; the server grew by "
          f"{grown} KiB while it did not read")

    # Clients that go away free their reader threads: both threads, three
    # times over, then a query is answered at once.
    for _ in range(3):
        socks = [raw_query(srv, BIG.format(rows=rows), "text/csv") for _ in range(2)]
        for s in socks:
            s.recv(1024)
            s.close()
    t0 = time.monotonic()
    status, headers, body = sql(srv, "SELECT 1 AS one", timeout=10)
    expect_eq(status, 200, "a query after clients went away")
    expect(time.monotonic() - t0 < 5, f"it waited {time.monotonic() - t0:.2f} s for a thread")


def test_roles():
    tokens = os.path.join(tempfile.mkdtemp(prefix="sentinel-sql-tokens-"), "tokens")
    with open(tokens, "w") as f:
        f.write("auditor-t0ken audit\nreader-t0ken subscribe\nboss-t0ken-01 admin\n"
                "writer-t0ken publish\nreader-auditor subscribe,audit\n")
    srv = Server("--token-file", tokens).start()
    load_fixture_as = srv.request("POST", "/api/events", body=open(FIXTURE, "rb").read(),
                                  headers={"Content-Type": "application/x-ndjson",
                                           "Authorization": "Bearer writer-t0ken"})
    expect_eq(load_fixture_as[0], 200, "POST with the publish token")
    for token, query_status, events_status in (
            (None, 401, 401), ("auditor-t0ken", 200, 403), ("reader-t0ken", 403, 200),
            ("boss-t0ken-01", 200, 200), ("writer-t0ken", 403, 403),
            ("reader-auditor", 200, 200), ("wrong-t0ken", 401, 401)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, _, body = sql(srv, "SELECT count(*) FROM events", headers=headers)
        expect_eq(status, query_status, f"POST /api/sql with {token} ({body!r})")
        status, report = srv.request("GET", "/api/verify", headers=headers)
        expect_eq(status, query_status, f"GET /api/verify with {token}")
        if status == 200:
            expect_eq(report["intact"], True, "the report")
        status, _ = srv.request("GET", "/api/events", headers=headers)
        expect_eq(status, events_status, f"GET /api/events with {token}")
    # Browsers send ?token= too.
    status, report = srv.request("GET", "/api/verify?token=auditor-t0ken")
    expect_eq(status, 200, "GET /api/verify?token=")


if __name__ == "__main__":
    run(test_formats, test_refused, test_time_limit, test_row_limit,
        test_slow_and_vanishing_clients, test_roles)
