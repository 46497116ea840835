#!/usr/bin/python3
"""The cluster's figures (`make bench-cluster`): three nats-server processes
and two sentinel-logd nodes on this machine, all on loopback.

- ingest through the cluster: sentinel-bench ingest-http against node A,
  batches of 1,000 and single events;
- fan-out across nodes: subscribers on node B, events posted to node A;
- failover: the stream's leader is killed (-9) under a steady ingest; how
  long until ingest goes on;
- catch-up: node B is stopped, node A takes N events, B starts again; how
  fast B applies them.

Prints the machine and a Markdown table. About three minutes.

Usage: cluster-suite.py [--build-dir DIR] [--quick]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))

import harness  # noqa: E402
from natscluster import NatsCluster  # noqa: E402

STREAM = "SENTINEL"


def say(*args):
    print("cluster-suite:", *args, file=sys.stderr, flush=True)


def metric(srv, name):
    _, text = srv.request("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise RuntimeError(f"no {name}")


def bench(binary, scenario, *args):
    """Run sentinel-bench; its table row's result and details."""
    out = subprocess.run([binary, scenario, *args], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"sentinel-bench {scenario} failed: {out.stderr.strip()}")
    cells = [c.strip() for c in out.stdout.strip().splitlines()[-1].strip("|").split("|")]
    return {"result": cells[2], "details": cells[4]}


def failover(cluster, a):
    """Seconds from the leader's kill -9 to the first acknowledged batch after it."""
    acks, stop = [], threading.Event()

    def produce():
        n = 0
        while not stop.is_set():
            events = [{"type": "bench", "message": f"failover {n} {i}"} for i in range(10)]
            try:
                status, _ = a.request("POST", "/api/events", body=json.dumps(events).encode(),
                                      headers={"Content-Type": "application/json",
                                               "Idempotency-Key": f"failover-{n}"},
                                      timeout=30)
            except OSError:
                status = None
            if status == 200:
                acks.append(time.monotonic())
                n += 1
            else:
                time.sleep(0.05)

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    time.sleep(2)
    leader = cluster.stream_leader(STREAM)
    killed = time.monotonic()
    cluster.kill9(leader)
    while not any(x > killed for x in acks):
        if time.monotonic() - killed > 120:
            raise RuntimeError("ingest did not resume within 120 s")
        time.sleep(0.01)
    resumed = min(x for x in acks if x > killed) - killed
    stop.set()
    t.join()
    cluster.start(leader)
    return resumed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--quick", action="store_true")
    opt = p.parse_args()
    logd = os.path.join(opt.build_dir, "sentinel-logd")
    tool = os.path.join(opt.build_dir, "tools", "sentinel-bench", "sentinel-bench")
    harness.BINARY = logd
    events, single, catchup = (50000, 5000, 50000) if opt.quick else (300000, 30000, 200000)

    cluster = NatsCluster(3).start()
    rows = []
    try:
        flags = ["--jetstream", cluster.urls, "--jetstream-max-lag", "0"]
        a = harness.Server(*flags, "--jetstream-create").start()
        b = harness.Server(*flags).start()
        post_a = f"{a.base}/api/events"

        say(f"ingest through the cluster, batches of 1,000: {events} events")
        r = bench(tool, "ingest-http", "--post-url", post_a, "--ws-url", a.ws_url(),
                  "--batch", "1000", "--producers", "2", "--events", str(events))
        rows.append(("ingest through the cluster, batches of 1,000, 2 producers",
                     r["result"], "events/s", r.get("details", "")))
        say(f"ingest through the cluster, one event a request: {single} events")
        r = bench(tool, "ingest-http", "--post-url", post_a, "--ws-url", a.ws_url(),
                  "--batch", "1", "--producers", "16", "--events", str(single))
        rows.append(("ingest through the cluster, one event a request, 16 producers",
                     r["result"], "events/s", r.get("details", "")))

        say("fan-out across nodes: 100 subscribers on node B, 1,000 events/s posted to A")
        r = bench(tool, "fanout", "--post-url", post_a, "--ws-url", b.ws_url(),
                  "--subscribers", "100", "--rate", "1000", "--seconds", "10", "--pid",
                  str(b.proc.pid))
        rows.append(("fan-out across nodes, 100 subscribers on B × 1,000 events/s to A",
                     r["result"], "deliveries/s", r.get("details", "")))

        say("failover: kill -9 of the stream's leader under ingest")
        secs = failover(cluster, a)
        rows.append(("failover: leader killed → ingest goes on", f"{secs:.1f}", "s", ""))

        say(f"catch-up of a restarted node: {catchup} events")
        b.stop()
        for k in range(0, catchup, 1000):
            status, body = a.post([{"type": "bench", "message": f"catch-up {k + i}"}
                                   for i in range(1000)])
            if status != 200:
                raise RuntimeError(f"POST: {status} {body}")
        last = metric(a, "sentinel_jetstream_applied_seq")
        t0 = time.monotonic()
        b.restart()
        while metric(b, "sentinel_jetstream_applied_seq") < last:
            time.sleep(0.02)
        rate = catchup / (time.monotonic() - t0)
        rows.append(("catch-up of a restarted node (start included)", f"{rate:,.0f}",
                     "events/s", f"{catchup} events"))
    finally:
        for srv in harness.Server.started:
            srv.cleanup()
        cluster.cleanup()

    print("## sentinel-bench cluster suite\n")
    print(f"- Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
          "three nats-server processes (R3 file stream), two nodes and the load generator "
          "all on it")
    print(f"- nats-server: {version()}")
    print()
    print("| figure | measured | unit | details |")
    print("|---|---:|---|---|")
    for name, value, unit, details in rows:
        print(f"| {name} | {value} | {unit} | {details} |")


def version():
    out = subprocess.run([os.environ.get("NATS_SERVER", "/usr/sbin/nats-server"), "--version"],
                         capture_output=True, text=True)
    return out.stdout.strip()


if __name__ == "__main__":
    main()
