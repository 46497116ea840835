#!/usr/bin/python3
"""Who may read the files: the store is an audit log.

The data folder used to be created 0755 and the store, -wal and -shm 0644,
readable by every user of the machine, and a token file readable by others
loaded without a word. Now folders are created 0750 and every file 0640
(the store, -wal, -shm, the lock, the mark, a backup), less as the umask
says; folders and files that exist are left alone. A token file or TLS key
that other users may read or change (anyone, or a group the server is not
in) loads with a warning that says how to fix it.
"""

import os
import stat
import subprocess

from harness import BINARY, Server, expect, expect_eq, expect_in, run


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def with_umask(mask, fn):
    old = os.umask(mask)
    try:
        return fn()
    finally:
        os.umask(old)


def check_modes(srv, top, dir_mode, file_mode, what):
    d = os.path.dirname(srv.db_path)
    while True:
        expect_eq(oct(mode(d)), oct(dir_mode), f"{what}: folder {d}")
        if d == top:
            break
        d = os.path.dirname(d)
    for suffix in ("", "-wal", "-shm", ".lock", ".mark"):
        path = srv.db_path + suffix
        expect(os.path.exists(path), f"{what}: {path} exists")
        expect_eq(oct(mode(path)), oct(file_mode), f"{what}: {path}")


def test_new_files_are_not_world_readable():
    srv = Server()
    top = os.path.join(srv.dir, "data")
    srv.db_path = os.path.join(top, "audit", "sentinel.db")
    with_umask(0o022, srv.start)
    status, _ = srv.post([{"type": "security", "message": "acceso"}])
    expect_eq(status, 200, "post")
    check_modes(srv, top, 0o750, 0o640, "umask 022")

    backup = os.path.join(srv.dir, "backups", "b.db")
    p = with_umask(0o022, lambda: subprocess.run(
        [BINARY, "backup", "--db", srv.db_path, "--to", backup], capture_output=True, timeout=60))
    expect_eq(p.returncode, 0, f"backup: {p.stderr!r}")
    expect_eq(oct(mode(backup)), oct(0o640), "the backup")
    expect_eq(oct(mode(os.path.dirname(backup))), oct(0o750), "the backup's folder")
    srv.stop()


def test_the_umask_may_take_more_away():
    srv = Server()
    top = os.path.join(srv.dir, "private")
    srv.db_path = os.path.join(top, "sentinel.db")
    with_umask(0o077, srv.start)
    srv.post([{"type": "system", "message": "x"}])
    check_modes(srv, top, 0o700, 0o600, "umask 077")
    srv.stop()


def test_existing_files_are_left_alone():
    srv = Server()
    os.makedirs(os.path.dirname(srv.db_path), mode=0o755)
    os.chmod(os.path.dirname(srv.db_path), 0o755)
    with_umask(0o022, srv.start)
    srv.stop()
    os.chmod(srv.db_path, 0o644)
    srv.restart()
    expect_eq(oct(mode(os.path.dirname(srv.db_path))), oct(0o755), "the operator's folder")
    expect_eq(oct(mode(srv.db_path)), oct(0o644), "the operator's file mode")
    srv.stop()


def test_shared_secrets_are_warned_about():
    srv = Server()
    tokens = os.path.join(srv.dir, "tokens")
    with open(tokens, "w") as f:
        f.write("shared-token-123 admin\n")
    os.chmod(tokens, 0o644)
    srv.args += ["--token-file", tokens]
    srv.start()
    err = srv.stderr_text()
    expect_in(f"the token file {tokens} can be read or changed by other users (mode 644)", err,
              "the warning")
    expect_in(f"chmod 600 {tokens}", err, "how to fix it")
    expect("shared-token-123" not in err, "the token itself is not logged")
    expect_eq(srv.request("GET", "/api/stats", headers={
        "Authorization": "Bearer shared-token-123"})[0], 200, "the tokens still load")
    srv.stop()

    for mode_ in (0o600, 0o640):  # 640: readable by the server's own group
        os.chmod(tokens, mode_)
        quiet = Server("--token-file", tokens).start()
        expect("other users" not in quiet.stderr_text(),
               f"no warning for mode {mode_:o} with the server's group")
        quiet.stop()
    if os.geteuid() == 0:
        # A group the server is not in may read it: that is other users.
        os.chown(tokens, -1, 65534)
        foreign = Server("--token-file", tokens).start()
        expect_in("can be read or changed by other users (mode 640)", foreign.stderr_text(),
                  "a foreign group")
        foreign.stop()
    else:
        print("  (not root: the foreign group case is skipped)")


if __name__ == "__main__":
    run(test_new_files_are_not_world_readable, test_the_umask_may_take_more_away,
        test_existing_files_are_left_alone, test_shared_secrets_are_warned_about)
