#!/usr/bin/python3
"""Storage faults: a full disk while running, and bad stores at start.

Disk full (as root: the store lives on a small tmpfs, or a loop-mounted
ext4 image where tmpfs cannot be mounted; skipped, saying so, when neither
can): producers post until a POST answers 503 with a JSON error. Then:
nothing acknowledged is lost and the refused batch is not stored; GET
/healthz answers 503 once the store failed to write; reads (GET /api/events,
a new replaying subscriber) and the live feed keep working; once a filler
file on the same file system is deleted, ingest recovers by itself (a later
POST answers 200, the live feed carries it, /healthz is 200 again) and the
store passes PRAGMA integrity_check. Every check of that test is made and
reported together, so one failure does not hide the others.

At start, a store that is locked by another process, corrupt, or cannot be
opened (a directory, a path under a regular file, a folder the server's
user may not enter) is refused with a message naming the store and the
reason, and a non-zero exit.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import (BINARY, HOST, Server, Subscriber, TestFailure, expect, expect_eq,
                     expect_in, free_port, ids_of, run)

FS_BYTES = 8 * 1024 * 1024
FILLER_BYTES = 2 * 1024 * 1024
FILL_POSTS = 2000        # bound on the posts that fill the file system
FILL_SECONDS = 60.0      # and on their time
FULL_ROUNDS = 3          # fill, check, free space, recover: three times
START_REFUSAL_TIMEOUT = 30.0


# ---------------------------------------------------------------- mounting

class SmallFs:
    """A small file system mounted on a fresh folder; unmounted by close()."""

    def __init__(self, size):
        self.top = tempfile.mkdtemp(prefix="sentinel-fs-")
        self.mnt = os.path.join(self.top, "mnt")
        self.image = os.path.join(self.top, "fs.img")
        os.mkdir(self.mnt)
        self.kind = None
        self.why = ""
        self.size = size
        if os.geteuid() != 0:
            self.why = "not root"
            return
        mb = size // (1024 * 1024)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mb}m,mode=0755", "tmpfs",
                            self.mnt], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            self.kind = "tmpfs"
            return
        self.why = f"tmpfs: {r.stderr.strip()}"
        with open(self.image, "wb") as f:
            f.truncate(size)
        r = subprocess.run(["mkfs.ext4", "-q", "-F", self.image], capture_output=True,
                           text=True, timeout=60)
        if r.returncode == 0:
            r = subprocess.run(["mount", "-o", "loop", self.image, self.mnt],
                               capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            self.kind = "ext4 on a loop device"
            return
        self.why += f"; loop ext4: {r.stderr.strip()}"

    def close(self):
        if self.kind:
            r = subprocess.run(["umount", self.mnt], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:  # still busy: detach it anyway
                subprocess.run(["umount", "-l", self.mnt], capture_output=True, timeout=60)
        shutil.rmtree(self.top, ignore_errors=True)

    def grow(self, extra):
        """Remount a tmpfs with extra bytes of room."""
        self.size += extra
        subprocess.run(["mount", "-o", f"remount,size={self.size >> 20}m", self.mnt],
                       check=True, capture_output=True, timeout=30)

    def free_bytes(self):
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize


class Checks:
    """Collects failed checks so that a test reports all of them at once."""

    def __init__(self):
        self.failed = []

    def check(self, cond, what):
        if not cond:
            self.failed.append(what)
            print(f"  CHECK FAILED: {what}")
        return cond

    def eq(self, actual, expected, what):
        return self.check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")

    def done(self):
        if self.failed:
            raise TestFailure(f"{len(self.failed)} check(s) failed:\n  - " +
                              "\n  - ".join(self.failed))


def batch(tag, n, pad):
    return [{"type": "monitor", "message": f"lleno {tag} {i} ñ",
             "data": {"uid": f"{tag}-{i}", "pad": pad}} for i in range(n)]


def stored_uids(srv):
    """uid -> list of (id, event) in the store."""
    out = {}
    for event_id, _typ, body in srv.rows():
        event = json.loads(body)
        uid = event.get("data", {}).get("uid")
        out.setdefault(uid, []).append((event_id, event))
    return out


# ---------------------------------------------------------------- disk full

def with_small_fs(fn, *args):
    fs = SmallFs(FS_BYTES)
    if not fs.kind:
        print(f"  SKIPPED: cannot mount a small file system here ({fs.why})")
        fs.close()
        return
    try:
        fn(fs, *args)
    finally:
        for s in Server.started:  # stop the server before unmounting its store
            if s.running():
                s.proc.kill()
                s.proc.wait()
        fs.close()


def test_disk_full_sync_normal():
    with_small_fs(disk_full, "normal")


def test_disk_full_sync_full():
    with_small_fs(disk_full, "full")


def write_filler(path, size):
    with open(path, "wb") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())


def fill_until_refused(srv, tag, acked, size):
    """Post batches of size ~2 KiB events until one is refused.

    Returns (events, status, answer) of the refused one.
    """
    pad = "x" * 2000
    t0 = time.monotonic()
    for k in range(FILL_POSTS):
        if time.monotonic() - t0 > FILL_SECONDS:
            break
        events = batch(f"{tag}-b{k}", size, pad)
        status, answer = srv.post(events)
        if status != 200:
            return events, status, answer
        acked.append((events, answer))
    raise TestFailure(f"{tag}: no POST was refused within {FILL_POSTS} posts and "
                      f"{FILL_SECONDS:.0f} s on a {FS_BYTES >> 20} MiB file system")


def disk_full(fs, sync):
    c = Checks()
    print(f"  store on {fs.kind} of {FS_BYTES >> 20} MiB at {fs.mnt}, --sync {sync}")
    filler = os.path.join(fs.mnt, "filler")
    write_filler(filler, FILLER_BYTES)
    srv = Server(sync=sync, db=os.path.join(fs.mnt, "store", "sentinel.db")).start()
    live = Subscriber(srv.ws_url("/ws/logs"))
    acked = []    # (events, answer) of every acknowledged batch
    refused = []  # events of every refused batch

    # Later rounds need room to fill again: a tmpfs is remounted bigger.
    rounds = FULL_ROUNDS if fs.kind == "tmpfs" else 1
    for rnd in range(rounds):
        tag = f"r{rnd}"
        if rnd:
            fs.grow(FILLER_BYTES * 2)
            write_filler(filler, FILLER_BYTES)
        before = len(acked)
        # Batches of 20, 5, then 1 event find the limit at different points.
        events, status, answer = fill_until_refused(srv, tag, acked, (20, 5, 1)[rnd % 3])
        refused.append(events)
        print(f"  {tag}: {len(acked) - before} batches acknowledged, then {status} {answer}; "
              f"{fs.free_bytes()} bytes free")
        c.eq(status, 503, f"{tag}: status of the POST that found the disk full")
        c.check(isinstance(answer, dict) and isinstance(answer.get("error"), str),
                f"{tag}: the 503 answer is a JSON error object: {answer!r}")
        c.check(srv.running(), f"{tag}: the server is still running after the disk filled")
        last_acked = acked[-1][1]["last_id"] if acked else 0

        # /healthz right after the store failed to write.
        hz_status, hz_body = srv.request("GET", "/healthz")
        c.eq(hz_status, 503, f"{tag}: GET /healthz after the store failed to write "
             "(200 when the store can write, 503 otherwise)")

        # A small batch while full: refused the same way, or accepted if the
        # refusal left room; either way whole or absent.
        small = batch(f"{tag}-small", 3, "y")
        status, answer = srv.post(small)
        if status == 200:
            acked.append((small, answer))
            last_acked = answer["last_id"]
        else:
            refused.append(small)
        hz2_status, _ = srv.request("GET", "/healthz")
        print(f"  {tag}: GET /healthz: {hz_status} {hz_body}; then a small batch: {status}, "
              f"and GET /healthz: {hz2_status}")

        # Reads keep working: the API, the stats, a new replaying subscriber.
        status, page = srv.request("GET", f"/api/events?after_id={max(0, last_acked - 5)}")
        c.eq(status, 200, f"{tag}: GET /api/events while full")
        if status == 200:
            c.eq([e["id"] for e in page["events"]],
                 list(range(max(1, last_acked - 4), last_acked + 1)),
                 f"{tag}: GET /api/events while full: the newest acknowledged ids")
        status, _ = srv.request("GET", "/api/stats")
        c.eq(status, 200, f"{tag}: GET /api/stats while full")
        try:
            replay = Subscriber(srv.ws_url(f"/ws/logs?after_id={max(0, last_acked - 10)}"))
            got = replay.wait_for(min(10, last_acked), timeout=30)
            c.eq([e["id"] for e in got], list(range(max(1, last_acked - 9), last_acked + 1)),
                 f"{tag}: a subscriber connecting while full replays the newest events")
            replay.close()
        except TestFailure as e:
            c.check(False, f"{tag}: a subscriber connecting while full: {e}")

        # The live feed carried every acknowledged event, in order, and nothing else.
        want = [i for _, answer in acked for i in ids_of(answer)]
        got = live.wait_for(len(want), timeout=60)
        c.eq([e["id"] for e in got], want,
             f"{tag}: the live feed: every acknowledged event, in order")

        # Space returns: ingest must recover without a restart.
        os.unlink(filler)
        answers = []
        for attempt in range(10):
            events = batch(f"{tag}-after{attempt}", 2, "z")
            status, answer = srv.post(events)
            answers.append(status)
            if status == 200:
                acked.append((events, answer))
                break
            refused.append(events)
            time.sleep(0.5)
        print(f"  {tag}: filler deleted, {fs.free_bytes()} bytes free; answers to POSTs "
              f"after that: {answers}")
        if not c.check(answers[-1] == 200, f"{tag}: ingest recovers by itself once space "
                       f"returns (answers to POSTs over 5 s: {answers})"):
            break
        ids = ids_of(acked[-1][1])
        got = live.wait_for(len(want) + len(ids), timeout=30)
        c.eq([e["id"] for e in got][len(want):], ids,
             f"{tag}: the live feed carries the events after recovery")
        hz_status, hz_body = srv.request("GET", "/healthz")
        c.eq(hz_status, 200, f"{tag}: GET /healthz after recovery ({hz_body})")

    # The store: every acknowledged event once, with its id; refused batches absent.
    live.close()
    code = srv.stop(expect_code=None)
    c.eq(code, 0, "exit code after SIGTERM")
    uids = stored_uids(srv)
    lost = [(e["data"]["uid"], answer["first_id"] + i, [r[0] for r in uids.get(e["data"]["uid"], [])])
            for events, answer in acked for i, e in enumerate(events)
            if [r[0] for r in uids.get(e["data"]["uid"], [])] != [answer["first_id"] + i]]
    c.eq(lost[:5], [], "acknowledged events not stored exactly once with their id "
         "(uid, id, ids stored)")
    present = [e["data"]["uid"] for events in refused for e in events if e["data"]["uid"] in uids]
    c.eq(present[:5], [], "events of refused batches in the store")
    c.eq(len(uids), sum(len(events) for events, _ in acked), "events stored")
    conn = srv.db()
    try:
        c.eq(conn.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
    finally:
        conn.close()
    c.done()


# ---------------------------------------------------------------- bad stores at start

def start_refused(db_path, what, *words, prefix=(), timeout=START_REFUSAL_TIMEOUT):
    """Run the server on db_path; it must exit non-zero naming each word."""
    cmd = [*prefix, BINARY, "--listen", f"{HOST}:{free_port()}", "--db", db_path]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure(f"{what}: the server was still running after {timeout:.0f} s")
    elapsed = time.monotonic() - t0
    err = r.stderr.decode("utf-8", "replace") + r.stdout.decode("utf-8", "replace")
    print(f"  {what}: exit {r.returncode} after {elapsed:.1f} s: {err.strip()[-300:]}")
    expect(r.returncode != 0, f"{what}: exit code {r.returncode}, expected non-zero")
    for word in words:
        expect_in(word, err, f"{what}: the message")
    return err


def make_store(events=50):
    """A real store with a few events, cleanly stopped. Returns the Server."""
    srv = Server().start()
    status, _ = srv.post([{"type": "system", "message": f"e{i}", "data": {"i": i}}
                          for i in range(events)])
    expect_eq(status, 200, "post")
    srv.stop()
    return srv


LOCK_HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=1)
for sql in sys.argv[2:]:
    conn.execute(sql)
print("locked", flush=True)
sys.stdin.readline()   # hold the lock until the test closes our stdin
conn.execute("ROLLBACK") if conn.in_transaction else None
"""


def hold_lock(db_path, *sql):
    p = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, db_path, *sql],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if line != "locked":
        p.kill()
        p.wait()
        raise TestFailure(f"the lock holder did not lock {db_path}: {line!r}")
    return p


def release(p):
    try:
        p.stdin.close()
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def test_locked_store_refused():
    srv = make_store()
    # Another writer inside a write transaction (WAL: readers may still read).
    holder = hold_lock(srv.db_path, "BEGIN EXCLUSIVE", "INSERT INTO meta (key, value) "
                       "VALUES ('test-lock', 'x')")
    try:
        start_refused(srv.db_path, "store locked by a writer", srv.db_path, "locked")
    finally:
        release(holder)
    # A connection in exclusive locking mode: nobody else may even read.
    holder = hold_lock(srv.db_path, "PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE",
                       "COMMIT")
    try:
        start_refused(srv.db_path, "store in exclusive locking mode", srv.db_path, "locked")
    finally:
        release(holder)
    # Once the lock is gone the same store starts and holds every event.
    srv.start()
    expect_eq(srv.store_state(), (50, 50), "rows after the locks were released")
    srv.stop()


def test_corrupt_store_refused():
    # A store whose first page (the header's rest and the schema) is garbage.
    srv = make_store()
    with open(srv.db_path, "r+b") as f:
        f.seek(100)
        f.write(os.urandom(4096 - 100))
    start_refused(srv.db_path, "store with a garbage schema page", srv.db_path, "malformed")

    # A file that is not a store at all, and one that is not SQLite.
    other = Server()
    os.makedirs(os.path.dirname(other.db_path))
    with open(other.db_path, "wb") as f:
        f.write(os.urandom(16384))
    start_refused(other.db_path, "garbage file", other.db_path, "not a database")
    with open(other.db_path, "wb") as f:
        f.write(b"SQLite format 3\0" + os.urandom(4096 - 16))
    start_refused(other.db_path, "garbage with an SQLite magic", other.db_path)


def test_unopenable_store_refused():
    d = tempfile.mkdtemp(prefix="sentinel-bad-")
    try:
        # A directory where the store file should be.
        as_dir = os.path.join(d, "is-a-dir.db")
        os.mkdir(as_dir)
        start_refused(as_dir, "a directory as the store", as_dir)
        # A path whose parent is a regular file: its folder cannot be made.
        parent = os.path.join(d, "plain-file")
        with open(parent, "w") as f:
            f.write("not a folder\n")
        under = os.path.join(parent, "store", "sentinel.db")
        start_refused(under, "a store under a regular file", "plain-file")
        # A store the server's user may not read (root ignores permissions:
        # run the server as nobody when we are root).
        locked_dir = os.path.join(d, "private")
        os.mkdir(locked_dir, 0o700)
        srv_db = os.path.join(locked_dir, "sentinel.db")
        with open(srv_db, "wb"):
            pass
        os.chmod(srv_db, 0)
        if os.geteuid() == 0 and shutil.which("setpriv"):
            os.chmod(d, 0o755)
            start_refused(srv_db, "a store its user may not read", srv_db,
                          prefix=("setpriv", "--reuid=65534", "--regid=65534",
                                  "--clear-groups"))
        elif os.geteuid() != 0:
            start_refused(srv_db, "a store its user may not read", srv_db)
        else:
            print("  (no setpriv: the permission case is skipped under root)")
    finally:
        for root, dirs, _ in os.walk(d):
            for x in dirs:
                os.chmod(os.path.join(root, x), 0o755)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run(test_disk_full_sync_normal, test_disk_full_sync_full, test_locked_store_refused, test_corrupt_store_refused,
        test_unopenable_store_refused)
