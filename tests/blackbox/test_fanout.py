#!/usr/bin/python3
"""Fan-out under concurrency, driven by tests/js/fanout.js.

200 subscribers, all open before anything is posted, each receive all 20,000
events posted by 20 concurrent keep-alive producers in batches of 1..50: the
same order everywhere, ids strictly increasing by 1, exactly the union of
the acknowledged ranges, each event's content as posted (fanout.js checks
this). Then the store holds exactly those events and the server stops
cleanly. FANOUT_SEED replays a run.
"""

import os
import subprocess
import time

from harness import Server, expect, expect_eq, run

HERE = os.path.dirname(os.path.abspath(__file__))
FANOUT_JS = os.path.join(HERE, "..", "js", "fanout.js")
NODE = os.environ.get("NODE", "node")

SUBSCRIBERS, EVENTS, PRODUCERS, MAX_BATCH = 200, 20000, 20, 50


def test_fanout():
    srv = Server().start()
    seed = os.environ.get("FANOUT_SEED", str(time.time_ns() % 1000000))
    cmd = [NODE, FANOUT_JS, srv.base, srv.ws_url(), str(SUBSCRIBERS), str(EVENTS),
           str(PRODUCERS), str(MAX_BATCH), seed]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, timeout=280)
    out = proc.stdout.decode("utf-8", "replace")
    print(out.rstrip())
    print(proc.stderr.decode("utf-8", "replace").rstrip())
    print(f"fanout.js took {time.monotonic() - t0:.1f}s")
    expect_eq(proc.returncode, 0, "fanout.js exit code (its FAIL lines say why)")

    conn = srv.db()
    try:
        count, lo, hi = conn.execute("SELECT count(*), min(id), max(id) FROM journal").fetchone()
    finally:
        conn.close()
    expect_eq((count, hi - lo + 1), (EVENTS, EVENTS), "rows in the store, and their id span")
    srv.stop(expect_code=0)
    expect("stopped cleanly" in srv.stderr_text(), "the server reports a clean stop")


if __name__ == "__main__":
    run(test_fanout)
