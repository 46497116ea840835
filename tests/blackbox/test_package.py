"""The Debian package: build it, install it on this machine, run it, purge it.

Builds the package as `make deb` does (tools/packaging/build-deb.sh), checks
its control data, installs it with apt-get, and checks what the maintainer
scripts made: the system user sentinel, /var/lib/sentinel-logd (0750), the
enabled unit (and, where systemd runs, the started service). Then it runs
the installed binary as the user sentinel against /var/lib/sentinel-logd
with the installed configuration, and finally purges the package and checks
that everything it created is gone but the data.

Needs root (CI runs as root on a fresh Debian 12 machine). It refuses to run
where sentinel-logd is installed, or where the user sentinel or
/var/lib/sentinel-logd already exist: it would remove or change them.
"""

import http.client
import json
import os
import pwd
import grp
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

from harness import (TestFailure, expect, expect_eq, expect_in, free_port, run,
                     scratch_dir)

SOURCE_DIR = os.environ.get("SENTINEL_SOURCE_DIR", "")
BUILD_DIR = os.environ.get("SENTINEL_BUILD_DIR", "")
LWS_PREFIX = os.environ.get("SENTINEL_LWS_PREFIX", "")
STATE_DIR = "/var/lib/sentinel-logd"
CONF = "/etc/sentinel-logd/sentinel-logd.conf"
UNIT = "/usr/lib/systemd/system/sentinel-logd.service"
WANTS = "/etc/systemd/system/multi-user.target.wants/sentinel-logd.service"
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

DEB = None


def sh(*cmd, env=None, check=True, timeout=600):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise TestFailure(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-3000:]}\n"
                          f"{p.stderr[-3000:]}")
    return p


def installed():
    p = sh("dpkg-query", "-W", "-f=${Status}", "sentinel-logd", check=False)
    return "installed" in p.stdout or "config-files" in p.stdout


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def systemd_runs():
    return os.path.isdir("/run/systemd/system")


def build():
    global DEB
    if DEB is None:
        p = sh(os.path.join(SOURCE_DIR, "tools", "packaging", "build-deb.sh"),
               os.path.join(BUILD_DIR, "deb"), LWS_PREFIX)
        DEB = p.stdout.strip().splitlines()[-1]
    return DEB


def test_package_contents():
    deb = build()
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        version = f.read().split("project(sentinel-logd VERSION ", 1)[1].split()[0]
    arch = sh("dpkg", "--print-architecture").stdout.strip()
    expect_eq(os.path.basename(deb), f"sentinel-logd_{version}_{arch}.deb", "the file name")
    fields = {}
    for name in ("Package", "Version", "Architecture", "Depends", "Section", "Maintainer"):
        fields[name] = sh("dpkg-deb", "-f", deb, name).stdout.strip()
    expect_eq((fields["Package"], fields["Version"], fields["Architecture"]),
              ("sentinel-logd", version, arch), "control fields")
    depends = [d.strip().split()[0] for d in fields["Depends"].split(",")]
    for lib in ("libc6", "libsqlite3-0", "libjansson4", "libevent-2.1-7", "libssl3",
                "libsystemd0"):
        expect_in(lib, depends, "a runtime dependency from Debian")
    expect(not any("websockets" in d for d in depends),
           f"libwebsockets is linked in, not a dependency: {depends}")

    ctl = scratch_dir("sentinel-deb-")
    sh("dpkg-deb", "-e", deb, ctl)
    with open(os.path.join(ctl, "conffiles")) as f:
        expect_eq(f.read().split(), [CONF], "the configuration is a conffile")
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(ctl, script)
        expect(os.access(path, os.X_OK), f"{script} is executable")
        sh("sh", "-n", path)
    shutil.rmtree(ctl)
    files = sh("dpkg-deb", "-c", deb).stdout
    for path in ("./usr/bin/sentinel-logd", "./usr/bin/sentinel-export", "./usr/bin/sentinel-tail",
                 "./usr/bin/sentinel-import", "./usr/bin/sentinel-bench", "." + CONF, "." + UNIT,
                 "./usr/lib/sysusers.d/sentinel-logd.conf",
                 "./usr/lib/tmpfiles.d/sentinel-logd.conf",
                 "./usr/share/man/man8/sentinel-logd.8.gz",
                 "./usr/share/man/man5/sentinel-logd.conf.5.gz",
                 "./usr/share/man/man1/sentinel-export.1.gz"):
        expect_in(f" {path}\n", files, "the package's files")
    expect(" root/root " in files and "sentinel/" not in files, "files belong to root")


def get(port, path, body=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def check_installed():
    user = pwd.getpwnam("sentinel")
    expect(user.pw_uid < 1000, f"a system user: uid {user.pw_uid}")
    expect_eq((user.pw_dir, user.pw_shell), (STATE_DIR, "/usr/sbin/nologin"), "home and shell")
    expect_eq(grp.getgrgid(user.pw_gid).gr_name, "sentinel", "its own group")
    st = os.stat(STATE_DIR)
    expect_eq((st.st_mode & 0o7777, st.st_uid, st.st_gid), (0o750, user.pw_uid, user.pw_gid),
              f"{STATE_DIR}: 0750, the user's")
    for path in ("/usr/bin/sentinel-logd", CONF, UNIT, "/usr/share/man/man8/sentinel-logd.8.gz"):
        expect(os.path.exists(path), f"{path} is installed")
    expect(os.path.islink(WANTS) and os.path.basename(os.readlink(WANTS)) ==
           "sentinel-logd.service", f"the unit is enabled ({WANTS})")

    p = sh("systemd-analyze", "verify", "sentinel-logd.service", check=False)
    expect_eq((p.returncode, p.stdout + p.stderr), (0, ""), "systemd-analyze verify")
    p = sh("systemd-analyze", "security", "--offline=yes", "--threshold=20", UNIT, check=False)
    expect_eq(p.returncode, 0, f"systemd-analyze security: {p.stdout[-300:]}")
    return user


def check_service_under_systemd():
    """Where systemd runs, the package started the service: Type=notify makes
    it active only once the server said READY=1."""
    deadline = time.monotonic() + 30
    state = ""
    while time.monotonic() < deadline:
        state = sh("systemctl", "is-active", "sentinel-logd", check=False).stdout.strip()
        if state in ("active", "failed"):
            break
        time.sleep(0.2)
    expect_eq(state, "active", "the service is active (READY=1 received)")
    expect_eq(sh("systemctl", "is-enabled", "sentinel-logd", check=False).stdout.strip(),
              "enabled", "the service is enabled")
    expect_eq(sh("systemctl", "show", "-p", "User", "--value", "sentinel-logd").stdout.strip(),
              "sentinel", "it runs as sentinel")
    sh("systemctl", "stop", "sentinel-logd")


def run_as_sentinel(user):
    """The installed binary, as the user sentinel, with the installed configuration."""
    port = free_port()
    d = scratch_dir("sentinel-pkg-")
    os.chmod(d, 0o755)
    notify_path = os.path.join(d, "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    os.chmod(notify_path, 0o777)
    notify.settimeout(30)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET": notify_path}
    err_path = os.path.join(d, "stderr.log")
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(["setpriv", "--reuid=sentinel", "--regid=sentinel",
                                 "--init-groups", "/usr/bin/sentinel-logd", "serve",
                                 "--listen", f"127.0.0.1:{port}"],
                                cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=err,
                                stderr=err)
    try:
        ready = notify.recv(4096).decode()
        expect_in("READY=1", ready, "READY=1 from the packaged binary")
        with open(f"/proc/{proc.pid}/status") as f:
            uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
        expect_eq(set(map(int, uids)), {user.pw_uid}, "it runs as sentinel")
        status, _ = get(port, "/healthz")
        expect_eq(status, 200, "healthz")
        event = {"type": "system", "message": "Sentinel AI Iniciado (Modo API) 🚀"}
        status, body = get(port, "/api/events", json.dumps(event).encode())
        expect_eq(status, 200, f"post: {body!r}")
        status, body = get(port, "/api/events?after_id=0")
        events = json.loads(body)["events"]
        expect_eq([e["message"] for e in events], [event["message"]], "read back")
        proc.send_signal(signal.SIGTERM)
        expect_eq(proc.wait(30), 0, "a clean stop")
        expect_in("STOPPING=1", notify.recv(4096).decode(), "STOPPING=1")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
        with open(err_path, errors="replace") as f:
            log = f.read()
        shutil.rmtree(d, ignore_errors=True)
    expect_in(f"configuration file {CONF}", log, "the installed configuration is read")
    db = os.path.join(STATE_DIR, "sentinel.db")
    st = os.stat(db)
    expect_eq(st.st_uid, user.pw_uid, "the store belongs to sentinel")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        expect_eq(conn.execute("SELECT count(*) FROM journal").fetchone()[0], 1, "one event")
    finally:
        conn.close()

    # check-config as the user reads the same file.
    p = sh("setpriv", "--reuid=sentinel", "--regid=sentinel", "--init-groups",
           "/usr/bin/sentinel-logd", "check-config", env=env)
    expect_in(f"# configuration file: {CONF}", p.stdout, "check-config's file")
    expect_in("db = /var/lib/sentinel-logd/sentinel.db", p.stdout, "check-config's store")


def check_purged():
    expect(not installed(), "the package is gone")
    for path in ("/usr/bin/sentinel-logd", UNIT, CONF, os.path.dirname(CONF), WANTS,
                 "/usr/share/man/man8/sentinel-logd.8.gz"):
        expect(not os.path.lexists(path), f"{path} is removed")
    expect(not user_exists("sentinel"), "the user is removed")
    expect(not group_exists("sentinel"), "the group is removed")
    expect(os.path.isfile(os.path.join(STATE_DIR, "sentinel.db")), "the data is kept")


def test_install_run_purge():
    expect_eq(os.geteuid(), 0, "this test installs a package: it must run as root (CI does)")
    expect(not installed(), "sentinel-logd must not be installed here: the test purges it")
    expect(not user_exists("sentinel") and not group_exists("sentinel"),
           "a user or group sentinel exists already: the test would remove it")
    expect(not os.path.exists(STATE_DIR), f"{STATE_DIR} exists already: the test would change it")
    deb = build()
    try:
        sh("apt-get", "install", "-y", "--no-install-recommends", os.path.abspath(deb),
           env=APT_ENV)
        user = check_installed()
        if systemd_runs():
            check_service_under_systemd()
        run_as_sentinel(user)
        sh("apt-get", "purge", "-y", "sentinel-logd", env=APT_ENV)
        check_purged()
    finally:
        if installed():
            sh("apt-get", "purge", "-y", "sentinel-logd", env=APT_ENV, check=False)
        shutil.rmtree(STATE_DIR, ignore_errors=True)


if __name__ == "__main__":
    run(test_package_contents, test_install_run_purge)
