#!/usr/bin/python3
"""The audit queries of audit_queries.sql give the right answers.

A store is built from fixtures/sentinel_events.jsonl with
`sentinel-import --db` ($SENTINEL_IMPORT); every query of the file is run on
it with Python's sqlite3 module, read-only, and its rows are compared with
the rows written below, exactly. The time-range queries must use the
indexes on ts_us (EXPLAIN QUERY PLAN), and the file must run whole, as an
auditor would feed it to the sqlite3 shell. Every query also gives the
same rows through the server's POST /api/sql, unchanged, on the same store.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile

from harness import Server, expect, expect_eq, expect_in, run

HERE = os.path.dirname(os.path.abspath(__file__))
QUERIES = os.path.join(HERE, "audit_queries.sql")
FIXTURE = os.path.join(HERE, "fixtures", "sentinel_events.jsonl")
IMPORT = os.environ.get("SENTINEL_IMPORT", "")

ERR_TIMEOUT = "Error critico durante la ejecucion del agente: Connection timeout"
LOGIN_FAILED = "Intento de inicio de sesión fallido para el usuario admin"
RESTART = "Ejecutando remediacion: reiniciar servicio"

EXPECTED = {
    "errors_of_service": [
        (5, "2026-03-09T14:20:00.123456", "ConnectionTimeout", ERR_TIMEOUT),
        (36, "2026-03-09T16:45:00.123456", "ConnectionTimeout", ERR_TIMEOUT),
    ],
    "config_changes": [
        (6, "2026-03-09T14:25:00.123456", "mongodb", "added"),
        (7, "2026-03-09T14:30:00.123456", "oldservice", "removed"),
        (22, "2026-03-09T15:20:00.123456", "elasticsearch", "added"),
        (35, "2026-03-09T16:30:00.123456", "elasticsearch", "removed"),
    ],
    "events_per_type_per_hour": [
        ("2026-03-09T14:00Z", "agent", 2),
        ("2026-03-09T14:00Z", "config", 2),
        ("2026-03-09T14:00Z", "error", 2),
        ("2026-03-09T14:00Z", "monitor", 3),
        ("2026-03-09T14:00Z", "security", 1),
        ("2026-03-09T14:00Z", "system", 4),
        ("2026-03-09T15:00Z", "agent", 6),
        ("2026-03-09T15:00Z", "config", 1),
        ("2026-03-09T15:00Z", "error", 2),
        ("2026-03-09T15:00Z", "monitor", 3),
        ("2026-03-09T15:00Z", "security", 3),
        ("2026-03-09T15:00Z", "system", 1),
        ("2026-03-09T16:00Z", "agent", 2),
        ("2026-03-09T16:00Z", "config", 1),
        ("2026-03-09T16:00Z", "error", 1),
        ("2026-03-09T16:00Z", "monitor", 1),
        ("2026-03-09T16:00Z", "security", 1),
        ("2026-03-09T16:00Z", "system", 1),
        # 18:05+01:00 is 17:05 UTC: counted in the 17:00 hour.
        ("2026-03-09T17:00Z", "agent", 1),
        ("2026-03-09T17:00Z", "monitor", 2),
        ("2026-03-09T17:00Z", "system", 2),
    ],
    "security_events": [
        (12, "2026-03-09T14:52:10.500000Z", LOGIN_FAILED, None, "203.0.113.45"),
        (16, "2026-03-09T15:02:30.500000Z", LOGIN_FAILED, None, "203.0.113.45"),
        (17, "2026-03-09T15:03:00.000000Z",
         "IP 203.0.113.45 bloqueada tras 5 intentos fallidos 🔒", "blocked", "203.0.113.45"),
        (27, "2026-03-09T15:46:00.123456", "Credenciales de mongodb rotadas por el agente",
         "credentials_rotated", "sentinel-agent"),
        (32, "2026-03-09T16:10:00.123456",
         "Aprobación concedida por la operadora maría.garcía", "approval_granted",
         "maría.garcía"),
    ],
    "agent_timeline": [
        (8, "2026-03-09T14:35:00.123456", "diagnose", None, "Diagnosticando servicio postgresql"),
        (9, "2026-03-09T14:40:00.123456", "remediate", "restart", RESTART),
        (37, "2026-03-09T16:50:00.123456", "diagnose", None, "Diagnosticando servicio postgresql"),
        (39, "2026-03-09T17:10:00.123456", "remediate", "restart", RESTART),
    ],
    # redis (stopped 14:50, running 15:07) and nginx (stopped 15:50,
    # running 16:15) recovered; postgresql's last status came from +01:00.
    "services_down": [
        ("mongodb", "2026-03-09T17:30:00.000001"),
        ("postgresql", "2026-03-09T18:05:00.000000+01:00"),
    ],
    "last_events": [
        (42, "system", "2026-03-09T17:35:00.123456Z", "Reporte enviado al canal #operaciones 📨"),
        (41, "monitor", "2026-03-09T17:30:00.000001", "Servicio mongodb no responde"),
        (40, "system", "2026-03-09T17:15:00.123456", "Ejecutando ciclo de analisis bajo demanda..."),
        (39, "agent", "2026-03-09T17:10:00.123456", RESTART),
        (38, "monitor", "2026-03-09T18:05:00.000000+01:00", "Servicio postgresql no responde"),
    ],
    "events_per_service": [
        ("postgresql", 8),
        ("mongodb", 7),
        ("nginx", 6),
        ("redis", 6),
        ("elasticsearch", 2),
        ("oldservice", 1),
    ],
    "time_range": [
        (38, "monitor", "2026-03-09T18:05:00.000000+01:00", "Servicio postgresql no responde"),
        (39, "agent", "2026-03-09T17:10:00.123456", RESTART),
        (40, "system", "2026-03-09T17:15:00.123456", "Ejecutando ciclo de analisis bajo demanda..."),
        (41, "monitor", "2026-03-09T17:30:00.000001", "Servicio mongodb no responde"),
        (42, "system", "2026-03-09T17:35:00.123456Z", "Reporte enviado al canal #operaciones 📨"),
    ],
    "type_time_range": [
        (24, "2026-03-09T15:31:12.250000",
         "Error de autenticación en mongodb: credenciales inválidas"),
        (29, "2026-03-09T15:52:00.123456", "nginx: 502 Bad Gateway en /api/pedidos"),
        (36, "2026-03-09T16:45:00.123456", ERR_TIMEOUT),
    ],
    "events_from_ip": [
        (12, "security", "2026-03-09T14:52:10.500000Z", LOGIN_FAILED),
        (16, "security", "2026-03-09T15:02:30.500000Z", LOGIN_FAILED),
        (17, "security", "2026-03-09T15:03:00.000000Z",
         "IP 203.0.113.45 bloqueada tras 5 intentos fallidos 🔒"),
    ],
    "fields_beyond_the_usual": [
        (21, "host", "sentinel-01"),
        (38, "tags", '["db","madrid"]'),
    ],
}

# Queries that must be answered from an index on ts_us, and which one.
PLANS = {
    "time_range": "USING INDEX journal_ts (ts_us>? AND ts_us<?)",
    "type_time_range": "USING INDEX journal_type_ts (type=? AND ts_us>?)",
    "errors_of_service": "USING INDEX journal_type_ts (type=? AND ts_us>? AND ts_us<?)",
}


def parse_queries():
    """[(name, question, sql)] in file order."""
    with open(QUERIES, encoding="utf-8") as f:
        text = f.read()
    out = []
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, _, rest = block.partition("\n")
        question, _, sql = rest.partition("\n")
        expect(question.startswith("-- ") and len(question) > 10,
               f"query {name}: the line after '-- name:' must be '-- <question>'")
        out.append((name.strip(), question[3:].strip(), sql.strip()))
    return out


class Fixture:
    """A store made from the fixture by sentinel-import --db."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sentinel-audit-")
        self.db_path = os.path.join(self.dir, "audit.db")
        proc = subprocess.run([IMPORT, "--db", self.db_path, FIXTURE],
                              capture_output=True, text=True, timeout=60)
        expect_eq(proc.returncode, 0, f"sentinel-import exit code (stderr: {proc.stderr})")
        expect_eq(proc.stdout.strip(), "imported 42 events (ids 1 to 42)", "import summary")
        self.conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)

    def close(self):
        self.conn.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def with_fixture(test):
    def wrapper():
        fx = Fixture()
        try:
            test(fx)
        finally:
            fx.close()
    wrapper.__name__ = test.__name__
    return wrapper


def test_file_layout():
    queries = parse_queries()
    names = [q[0] for q in queries]
    expect(len(queries) >= 8, f"at least eight queries, got {len(queries)}")
    expect_eq(len(set(names)), len(names), "query names are unique")
    expect_eq(sorted(names), sorted(EXPECTED), "every query has expected rows, and only those")
    for name, question, sql in queries:
        expect(re.fullmatch(r"[a-z][a-z0-9_]*", name), f"short name: {name!r}")
        expect(question.endswith("?"), f"{name}: the description is an auditor's question")
        expect(sql.endswith(";"), f"{name}: the query ends with ';' for the sqlite3 shell")
        expect(sqlite3.complete_statement(sql), f"{name}: one complete statement")


def test_readme_shows_these_queries():
    """The README's "Auditing with SQL" queries are the tested ones, verbatim."""
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    for name, question, sql in parse_queries():
        expect_in(f"```sql\n{sql}\n```", text, f"README shows query {name}")
        expect_in(question, text, f"README asks the question of {name}")


@with_fixture
def test_queries_answer_exactly(fx):
    for name, _, sql in parse_queries():
        rows = fx.conn.execute(sql).fetchall()
        expect_eq(rows, EXPECTED[name], f"rows of query {name}")


@with_fixture
def test_time_ranges_use_the_indexes(fx):
    queries = {name: sql for name, _, sql in parse_queries()}
    for name, want in PLANS.items():
        plan = fx.conn.execute("EXPLAIN QUERY PLAN " + queries[name]).fetchall()
        details = [row[3] for row in plan]
        expect_eq(len(details), 1, f"{name}: a single search, no sort ({details})")
        expect_in(want, details[0], f"{name}: query plan")
        expect(details[0].startswith("SEARCH journal"), f"{name}: a SEARCH, not a SCAN")


@with_fixture
def test_whole_file_runs(fx):
    # The file as a script, as `sqlite3 -readonly store.db < audit_queries.sql`
    # would run it: every statement parses and runs on a read-only handle.
    with open(QUERIES, encoding="utf-8") as f:
        fx.conn.executescript(f.read())


@with_fixture
def test_queries_answer_exactly_over_http(fx):
    srv = Server(db=fx.db_path).start()
    for name, _, sql in parse_queries():
        status, result = srv.request("POST", "/api/sql", body=sql.encode("utf-8"))
        expect_eq(status, 200, f"POST /api/sql of query {name}: {result!r}")
        expect_eq(result["complete"], True, f"query {name} complete")
        expect_eq([tuple(row) for row in result["rows"]], EXPECTED[name],
                  f"rows of query {name} over HTTP")
        cursor = fx.conn.execute(sql)
        expect_eq(result["columns"], [d[0] for d in cursor.description],
                  f"columns of query {name} over HTTP")
    srv.stop()


@with_fixture
def test_view_columns(fx):
    # The view the queries rely on, and the fixture's first event through it.
    cols = [row[1] for row in fx.conn.execute("PRAGMA table_info(events)")]
    expect_eq(cols, ["id", "type", "message", "timestamp", "data", "ts_us", "body"],
              "columns of the events view")
    row = fx.conn.execute("SELECT id, type, message, timestamp, data, ts_us FROM events "
                          "WHERE id = 1").fetchone()
    expect_eq(row, (1, "system", "Sentinel AI Iniciado (Modo API) 🚀",
                    "2026-03-09T14:00:00.123456", None, 1773064800123456), "event 1")


if __name__ == "__main__":
    if not IMPORT or not os.access(IMPORT, os.X_OK):
        print(f"SENTINEL_IMPORT must name the sentinel-import binary (got {IMPORT!r})")
        raise SystemExit(2)
    run(test_file_layout, test_readme_shows_these_queries, test_queries_answer_exactly,
        test_queries_answer_exactly_over_http, test_time_ranges_use_the_indexes,
        test_whole_file_runs, test_view_columns)
