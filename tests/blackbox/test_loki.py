#!/usr/bin/python3
"""The Loki API: push, queries, listings and tail, in Loki's shapes.

Answers are checked field by field against the shapes of Loki's HTTP API
documentation (status/data envelopes, streams with ["<ns>","<line>"]
values, matrix and vector points as [<seconds>,"<value>"], plain-text
errors with a 400), with values computed from the events the test stored.
A real Loki client library (pino-loki, from the npm registry) pushes logs.
"""

import json
import os
import subprocess
import urllib.parse

from harness import (HOST, SEED_EVENTS, Server, Subscriber, expect, expect_eq, expect_in,
                     run)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_PATH = os.environ.get("NODE_PATH", os.path.join(ROOT, "tests", "js", "node_modules"))

# The seed's events span 14:00 to 14:50 on 2026-03-09 (UTC).
T0 = 1773064800  # 2026-03-09T14:00:00Z
START_NS = str(T0 * 10**9)
END_NS = str((T0 + 3600) * 10**9)


def get(srv, path, headers=None, **params):
    """GET a Loki endpoint: (status, parsed JSON or text, content type)."""
    import http.client
    query = urllib.parse.urlencode(params, doseq=True)
    conn = http.client.HTTPConnection(HOST, srv.port, timeout=30)
    try:
        conn.request("GET", f"{path}?{query}" if query else path, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        ctype = resp.getheader("Content-Type", "")
        body = json.loads(raw) if ctype.startswith("application/json") else raw.decode()
        return resp.status, body, ctype
    finally:
        conn.close()


def query_range(srv, query, **params):
    params.setdefault("start", START_NS)
    params.setdefault("end", END_NS)
    status, body, _ = get(srv, "/loki/api/v1/query_range", query=query, **params)
    expect_eq(status, 200, f"query_range {query}: {body}")
    expect_eq(body["status"], "success", "status")
    return body["data"]


def lines(data):
    """Every (ns, line) of a streams answer, in answer order, per stream merged."""
    expect_eq(data["resultType"], "streams", "resultType")
    out = []
    for s in data["result"]:
        expect(set(s) == {"stream", "values"}, f"a stream has stream and values: {s}")
        for v in s["values"]:
            expect(isinstance(v[0], str) and v[0].isdigit() and isinstance(v[1], str),
                   f"a value is [\"<ns>\", \"<line>\"]: {v}")
            out.append((int(v[0]), v[1]))
    return out


def seeded():
    srv = Server().start()
    status, answer = srv.post(SEED_EVENTS)
    expect_eq(status, 200, f"seed: {answer}")
    return srv


def seed_ns(event):
    """The seed event's time in nanoseconds."""
    hh, mm = int(event["timestamp"][11:13]), int(event["timestamp"][14:16])
    return ((T0 + (hh - 14) * 3600 + mm * 60) * 10**6 + 123456) * 1000


def test_log_queries():
    srv = seeded()
    data = query_range(srv, '{type="agent"}')
    expect_eq(data["stats"], {}, "stats")
    expect_eq(sorted(json.dumps(s["stream"], sort_keys=True) for s in data["result"]),
              sorted(json.dumps(s, sort_keys=True) for s in [
                  {"service": "postgresql", "step": "diagnose", "type": "agent"},
                  {"action": "restart", "service": "postgresql", "step": "remediate",
                   "type": "agent"}]), "one stream per label set, data fields as labels")
    agent = [e for e in SEED_EVENTS if e["type"] == "agent"]
    expect_eq(sorted(lines(data)), sorted((seed_ns(e), e["message"]) for e in agent),
              "lines are the messages, times in ns")

    def msgs(q, **kw):
        return [line for _, line in lines(query_range(srv, q, **kw))]

    by_time = sorted(SEED_EVENTS, key=seed_ns)
    expect_eq(msgs('{type=~".+"}', limit=3), [e["message"] for e in by_time[::-1][:3]],
              "backward: the newest first, limit")
    expect_eq(msgs('{type=~".+"}', limit=2, direction="forward"),
              [e["message"] for e in by_time[:2]], "forward: the oldest first")
    expect_eq(sorted(msgs('{service="postgresql"}')),
              sorted(e["message"] for e in SEED_EVENTS
                     if e.get("data", {}).get("service") == "postgresql"), "a data field")
    expect_eq(sorted(msgs('{service=~"post.*|red.*", type!="agent"}')),
              sorted(["Error critico durante la ejecucion del agente: Connection timeout",
                      "Servicio redis no responde"]), "=~ and !=")
    expect_eq(msgs('{type="monitor", service!~"ng.*"}'), ["Servicio redis no responde"], "!~")
    expect_eq(sorted(msgs('{type=~"agent|monitor"} |= "Servicio" != "redis"')),
              ["Servicio nginx esta funcionando correctamente"], "|= and !=")
    expect_eq(sorted(msgs('{type="system"} |~ "(?i)^ciclo" !~ "\\\\d"')),
              ["Ciclo de analisis completado."], "|~ and !~ with (?i) and \\d")
    expect_eq(msgs('{type="monitor"} | status="stopped"'), ["Servicio redis no responde"],
              "a label filter on a stream label")
    expect_eq(msgs('{type="nothing"}'), [], "no match")
    expect_eq(query_range(srv, '{type="agent"}', start=str(T0 + 7200), end=str(T0 + 9000))["result"], [],
              "outside the time range")


def test_json_and_label_filters():
    srv = Server().start()
    lines_in = [{"level": "warn", "status": 503, "req": {"path": "/pay", "ms": 812}},
                {"level": "info", "status": 200, "req": {"path": "/", "ms": 3}},
                {"level": "error", "status": 500, "req": {"path": "/pay", "ms": 40}}]
    events = [{"type": "http", "message": json.dumps(l), "data": {"app": "shop"},
               "timestamp": f"2026-03-09T14:0{i}:00Z"} for i, l in enumerate(lines_in)]
    events.append({"type": "http", "message": "not json", "timestamp": "2026-03-09T14:05:00Z"})
    expect_eq(srv.post(events)[0], 200, "post")
    data = query_range(srv, '{type="http"} | json | status >= 500', direction="forward")
    expect_eq([json.loads(line)["status"] for _, line in lines(data)], [503, 500],
              "a numeric filter after | json")
    expect_eq(data["result"][0]["stream"],
              {"app": "shop", "level": "warn", "req_ms": "812", "req_path": "/pay",
               "status": "503", "type": "http"}, "extracted labels, nested joined with _")
    data = query_range(srv, '{type="http"} | json | level=~"warn|error", req_path="/pay"')
    expect_eq(len(lines(data)), 2, "string filters joined with ,")
    data = query_range(srv, '{app="shop"} | json | __error__!=""')
    expect_eq(lines(data), [], "every line of app=shop is JSON")
    data = query_range(srv, '{type="http"} | json | __error__="JSONParserErr" | drop __error__')
    expect_eq(([line for _, line in lines(data)], data["result"][0]["stream"]),
              (["not json"], {"type": "http"}), "a parse error, then dropped")
    data = query_range(srv, '{type="http"} | logfmt | level="info"')
    expect_eq(lines(data), [], "logfmt finds no level= in JSON lines")


def test_metric_queries():
    srv = seeded()
    # Hourly windows ending at 14:30 and 15:00: (13:30, 14:30] and (14:00, 15:00].
    data = query_range(srv, 'sum by (type) (count_over_time({type=~".+"}[1h]))',
                       start=str(T0 + 1800), end=str(T0 + 3600), step="1800")
    expect_eq(data["resultType"], "matrix", "resultType")
    got = {s["metric"]["type"]: s["values"] for s in data["result"]}
    expect_eq(got["system"], [[T0 + 1800, "4"], [T0 + 3600, "4"]], "system per window")
    expect_eq(got["config"], [[T0 + 1800, "1"], [T0 + 3600, "2"]], "config per window (14:30:00.123456 is after 14:30)")
    expect_eq(got["agent"], [[T0 + 3600, "2"]], "no point where a window is empty")
    expect_eq(set(got), {"system", "error", "config", "agent", "monitor"}, "series")
    # (14:41, 14:51] holds nginx's 14:45 and redis's 14:50 event.
    data = query_range(srv, 'rate({type="monitor"}[10m])', start=str(T0 + 3060),
                       end=str(T0 + 3060), step="60")
    got = sorted((s["metric"]["service"], s["metric"]["status"], s["values"])
                 for s in data["result"])
    expect_eq(got, [("nginx", "running", [[T0 + 3060, str(1 / 600)]]),
                    ("redis", "stopped", [[T0 + 3060, str(1 / 600)]])], "rate per second")
    data = query_range(srv, 'sum(bytes_over_time({type="config"} |= "mongodb" [1h]))',
                       start=str(T0 + 3600), end=str(T0 + 3600))
    msg = "Servicio 'mongodb' agregado al monitoreo."
    expect_eq(data["result"], [{"metric": {}, "values": [[T0 + 3600,
                                                           str(len(msg.encode()))]]}],
              "bytes of the matching lines")
    status, body, _ = get(srv, "/loki/api/v1/query", query='count_over_time({type="error"}[1h])',
                          time=str(T0 + 3600))
    expect_eq((status, body["data"]["resultType"], body["data"]["result"]),
              (200, "vector", [{"metric": {"error_type": "ConnectionTimeout",
                                           "service": "postgresql", "type": "error"},
                                "value": [T0 + 3600, "1"]}]), "an instant vector")
    status, body, _ = get(srv, "/loki/api/v1/query", query="vector(1)+vector(1)")
    expect_eq((status, body["data"]["result"][0]["value"][1]), (200, "2"),
              "Grafana's health check")
    expect_eq(len(query_range(srv, 'count_over_time({type="system"}[1m])')["result"]), 1,
              "the default step works")


def test_errors_and_bounds():
    srv = seeded()
    cases = [
        ("/loki/api/v1/query_range", {"query": 'topk(2, count_over_time({a="b"}[1m]))'},
         "is not supported"),
        ("/loki/api/v1/query_range", {"query": '{a="b"} | line_format "{{.a}}"'},
         "is not supported"),
        ("/loki/api/v1/query_range", {"query": '{a=~".*"}'}, "at least one"),
        ("/loki/api/v1/query_range", {"query": '{a="b"'}, "parse error"),
        ("/loki/api/v1/query_range", {"query": '{a=~"("}'}, "regular expression"),
        ("/loki/api/v1/query_range", {}, "query parameter is required"),
        ("/loki/api/v1/query_range", {"query": '{a="b"}', "limit": "5001"}, "limit"),
        ("/loki/api/v1/query_range", {"query": '{a="b"}', "start": "yesterday"}, "start"),
        ("/loki/api/v1/query_range", {"query": 'count_over_time({a="b"}[1m])', "step": "1",
                                      "start": "0", "end": "100000"}, "maximum resolution"),
        ("/loki/api/v1/query", {"query": '{a="b"}'}, "range query"),
        ("/loki/api/v1/series", {}, "match[]"),
    ]
    for path, params, want in cases:
        status, body, ctype = get(srv, path, **params)
        expect_eq(status, 400, f"{path} {params}: {body}")
        expect(ctype.startswith("text/plain"), f"Loki's plain-text error: {ctype}")
        expect_in(want, body, f"{params}")
    expect_eq(get(srv, "/loki/api/v1/nothing")[0], 404, "an unknown Loki path")
    expect_eq(get(srv, "/ready")[:2], (200, "ready\n"), "/ready")
    status, body, _ = get(srv, "/loki/api/v1/status/buildinfo")
    expect_eq((status, body["version"]), (200, "2.9.0"), "buildinfo")

    # A metric query that would read past --loki-max-scan is refused, a log
    # query answers with what it found.
    small = Server("--loki-max-scan", "1000").start()
    events = [{"type": "bulk", "message": f"m{i}", "timestamp": "2026-03-09T14:00:00Z"}
              for i in range(1500)]
    expect_eq(small.post(events)[0], 200, "post")
    status, body, _ = get(small, "/loki/api/v1/query_range",
                          query='count_over_time({type="bulk"}[1h])', start=START_NS,
                          end=END_NS)
    expect_eq(status, 400, f"metric past the scan bound: {body}")
    expect_in("more than 1000 events", body, "says why")
    data = query_range(small, '{type="bulk"} |= "nope"')
    expect_eq(lines(data), [], "a log query answers what it found within the bound")
    data = query_range(small, '{type="bulk"}', limit=5000)
    expect_eq(len(lines(data)), 1000, "at most --loki-max-scan rows read")


def test_listings():
    srv = seeded()
    status, body, _ = get(srv, "/loki/api/v1/labels", start=START_NS, end=END_NS)
    expect_eq((status, body),
              (200, {"status": "success",
                     "data": ["action", "error_type", "service", "service_name", "status",
                              "step", "type"]}), "label names")
    status, body, _ = get(srv, "/loki/api/v1/label/type/values", start=START_NS, end=END_NS)
    expect_eq(body["data"], ["agent", "config", "error", "monitor", "system"], "type values")
    status, body, _ = get(srv, "/loki/api/v1/label/service/values", start=START_NS,
                          end=END_NS, query='{type="monitor"}')
    expect_eq(body["data"], ["nginx", "redis"], "values under a selector")
    status, body, _ = get(srv, "/loki/api/v1/series", start=START_NS, end=END_NS,
                          **{"match[]": ['{type="config"}', '{service="redis"}']})
    expect_eq(sorted(json.dumps(s, sort_keys=True) for s in body["data"]),
              sorted(json.dumps(s, sort_keys=True) for s in [
                  {"action": "added", "service_name": "mongodb", "type": "config"},
                  {"action": "removed", "service_name": "oldservice", "type": "config"},
                  {"service": "redis", "status": "stopped", "type": "monitor"}]), "series")
    status, body, _ = get(srv, "/loki/api/v1/labels", start=str(T0 - 7200),
                          end=str(T0 - 3600))
    expect_eq(body["data"], [], "no labels outside the range")


def push_body(streams):
    return json.dumps({"streams": streams}).encode()


def test_push():
    srv = Server().start()
    body = push_body([
        {"stream": {"type": "app", "env": "prod"},
         "values": [["1773064800123456789", "pago aceptado ✅"],
                    ["1773064801000000000", "second", {"trace_id": "abc", "env": "meta"}]]},
        {"stream": {"job": "cron"}, "values": [["1773064802000000000", "nightly"]]}])
    status, answer = srv.request("POST", "/loki/api/v1/push", body,
                                 {"Content-Type": "application/json"})
    expect_eq((status, answer), (204, ""), "a push is answered 204 after its commit")
    rows = [b for _, _, b in srv.rows()]
    expect_eq([json.loads(b) for b in rows], [
        {"type": "app", "message": "pago aceptado ✅", "timestamp": "2026-03-09T14:00:00.123456Z",
         "data": {"env": "prod"}},
        {"type": "app", "message": "second", "timestamp": "2026-03-09T14:00:01.000000Z",
         "data": {"env": "prod", "trace_id": "abc"}},
        {"type": "loki", "message": "nightly", "timestamp": "2026-03-09T14:00:02.000000Z",
         "data": {"job": "cron"}}], "what is stored")
    data = query_range(srv, '{env="prod"}', direction="forward")
    expect_eq(lines(data), [(1773064800123456000, "pago aceptado ✅"),
                            (1773064801000000000, "second")], "read back through Loki")
    expect_eq(query_range(srv, '{job="cron"}')["result"][0]["stream"],
              {"job": "cron", "type": "loki"}, "labels read back")
    n = len(rows)
    for bad, why in ((b'{"streams":[{"stream":{"type":"bad type"},"values":[["1","x"]]}]}',
                      "type"),
                     (b'{"streams":[{"stream":{"a":"b"},"values":[["soon","x"]]}]}', "time"),
                     (b'{"streams":[{"stream":{"a":1},"values":[["1","x"]]}]}', "label"),
                     (b'{"nope":1}', "streams"), (b"{", "JSON")):
        status, answer = srv.request("POST", "/loki/api/v1/push", bad,
                                     {"Content-Type": "application/json"})
        expect_eq(status, 400, f"{why}: {answer}")
        expect_in(why, answer, "Loki's plain-text error says why")
    status, answer = srv.request("POST", "/loki/api/v1/push", b"\x0a\x00",
                                 {"Content-Type": "application/x-protobuf"})
    expect_eq(status, 415, f"protobuf: {answer}")
    expect_eq(len(srv.rows()), n, "refused pushes store nothing")
    expect_eq(srv.request("GET", "/loki/api/v1/push")[0], 405, "GET on push")


def test_tokens():
    pub, sub = "loki-pub-1234567", "loki-sub-1234567"
    srv = Server()
    path = os.path.join(srv.dir, "tokens")
    with open(path, "w") as f:
        f.write(f"{pub} publish\n{sub} subscribe\n")
    srv.args += ["--token-file", path]
    srv.start()
    body = push_body([{"stream": {"type": "app"}, "values": [["1773064800000000000", "x"]]}])
    ct = {"Content-Type": "application/json"}
    expect_eq(srv.request("POST", "/loki/api/v1/push", body, ct)[0], 401, "push, no token")
    expect_eq(srv.request("POST", "/loki/api/v1/push", body,
                          dict(ct, Authorization=f"Bearer {sub}"))[0], 403, "subscribe pushes")
    expect_eq(srv.request("POST", "/loki/api/v1/push", body,
                          dict(ct, Authorization=f"Bearer {pub}"))[0], 204, "publish pushes")
    for p in ("/loki/api/v1/labels", "/loki/api/v1/query_range?query=%7Btype%3D%22app%22%7D"):
        expect_eq(get(srv, p)[0], 401, f"{p} without a token")
        expect_eq(get(srv, p, {"Authorization": f"Bearer {pub}"})[0], 403, f"{p} as publisher")
        expect_eq(get(srv, p, {"Authorization": f"Bearer {sub}"})[0], 200, f"{p} as subscriber")
    expect_eq(get(srv, "/ready")[0], 200, "/ready needs no token")


def test_tail():
    srv = Server().start()
    expect_eq(srv.post([{"type": "app", "message": "before", "timestamp": "2026-03-09T14:00:00Z"}])[0],
              200, "post")
    q = urllib.parse.quote('{type="app"} |= "keep"')
    live = Subscriber(srv.ws_url(f"/loki/api/v1/tail?query={q}"))
    all_app = urllib.parse.quote('{type="app"}')
    replay = Subscriber(srv.ws_url(f"/loki/api/v1/tail?query={all_app}"
                                   "&start=1773064800000000000"))
    expect_eq(replay.wait_for(1)[0],
              {"streams": [{"stream": {"type": "app"},
                            "values": [["1773064800000000000", "before"]]}],
               "dropped_entries": None}, "start replays, in Loki's tail shape")
    status, _ = srv.post([{"type": "app", "message": "keep 1", "data": {"k": "v"}},
                          {"type": "app", "message": "drop"},
                          {"type": "other", "message": "keep other"},
                          {"type": "app", "message": "keep 2"}])
    expect_eq(status, 200, "post")
    got = live.wait_for(2)
    expect_eq([m["streams"][0]["values"][0][1] for m in got], ["keep 1", "keep 2"],
              "only what the query keeps, live")
    expect_eq(got[0]["streams"][0]["stream"], {"k": "v", "type": "app"}, "labels")
    expect_eq(len(replay.wait_for(4)), 4, "the replaying tail goes live")
    live.close()
    replay.close()
    for bad in ("", "?query=" + urllib.parse.quote('count_over_time({a="b"}[1m])'),
                "?query=" + urllib.parse.quote("{")):
        try:
            Subscriber(srv.ws_url("/loki/api/v1/tail" + bad))
        except AssertionError as e:
            expect_in("400", str(e), f"tail {bad} refused with 400")
        else:
            raise AssertionError(f"tail {bad} was accepted")


def test_pino_loki_client():
    srv = Server().start()
    out = subprocess.run(["node", os.path.join(ROOT, "tests", "js", "loki_client.js"),
                          srv.base, "5"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, NODE_PATH=NODE_PATH))
    expect_eq(out.returncode, 0, f"pino-loki: {out.stdout} {out.stderr}")
    expect_eq(json.loads(out.stdout.strip().splitlines()[-1]), {"pushed": 5}, "pushed")
    rows = [json.loads(b) for _, _, b in srv.rows()]
    expect_eq(len(rows), 5, "every log stored once")
    expect_eq({r["type"] for r in rows}, {"app"}, "the type label")
    expect_eq(rows[0]["data"], {"level": "info", "hostname": "web-1", "application": "checkout"},
              "the other labels in data")
    expect_eq(sorted(json.loads(r["message"])["order"] for r in rows), list(range(5)),
              "the line is pino's JSON")
    end = str(int(__import__("time").time() + 60) * 10**9)
    data = query_range(srv, '{application="checkout", level="info"} | json | order >= 3',
                       start=str(int(__import__("time").time() - 3600) * 10**9), end=end)
    expect_eq(sorted(json.loads(line)["msg"] for _, line in lines(data)),
              ["order 3 placed", "order 4 placed"], "queried back with | json")


if __name__ == "__main__":
    run(test_log_queries, test_json_and_label_filters, test_metric_queries,
        test_errors_and_bounds, test_listings, test_push, test_tokens, test_tail,
        test_pino_loki_client)
