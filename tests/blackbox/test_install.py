"""`cmake --install` of the build tree under test, into a staging root (DESTDIR).

Checks where everything lands for the tree's prefix, that the installed
server runs and finds its example configuration where it looks by default,
that the systemd unit passes `systemd-analyze verify` and scores well in
`systemd-analyze security`, that the sysusers.d and tmpfiles.d files create
the user and the state directory (inside the staging root), and that every
manual page renders without a warning and lists every flag its program's
--help lists.
"""

import gzip
import os
import re
import subprocess

from harness import expect, expect_eq, expect_in, run, scratch_dir

BUILD_DIR = os.environ.get("SENTINEL_BUILD_DIR", "")
PREFIX = os.environ.get("SENTINEL_INSTALL_PREFIX", "")
SYSCONFDIR = os.environ.get("SENTINEL_SYSCONFDIR", "")
PROGRAMS = ["sentinel-logd", "sentinel-export", "sentinel-import", "sentinel-tail",
            "sentinel-bench", "sentinel-verify"]
PAGES = {"sentinel-logd": "man8/sentinel-logd.8.gz",
         "sentinel-logd.conf": "man5/sentinel-logd.conf.5.gz",
         "sentinel-export": "man1/sentinel-export.1.gz",
         "sentinel-import": "man1/sentinel-import.1.gz",
         "sentinel-tail": "man1/sentinel-tail.1.gz",
         "sentinel-bench": "man1/sentinel-bench.1.gz",
         "sentinel-verify": "man1/sentinel-verify.1.gz"}

STAGE = None


def sh(*cmd, env=None, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def staged(path):
    """A path of the installed tree, inside the staging root."""
    return STAGE + path


def install():
    global STAGE
    if STAGE is None:
        expect(BUILD_DIR and PREFIX and SYSCONFDIR,
               "SENTINEL_BUILD_DIR, SENTINEL_INSTALL_PREFIX and SENTINEL_SYSCONFDIR are set")
        STAGE = scratch_dir("sentinel-install-")
        sh("cmake", "--install", BUILD_DIR, env={**os.environ, "DESTDIR": STAGE})
    return STAGE


def test_layout():
    install()
    for prog in PROGRAMS:
        path = staged(f"{PREFIX}/bin/{prog}")
        expect(os.path.isfile(path) and os.access(path, os.X_OK), f"{path} is a program")
    for page in PAGES.values():
        expect(os.path.isfile(staged(f"{PREFIX}/share/man/{page}")), f"{page} is installed")
    unit = staged(f"{PREFIX}/lib/systemd/system/sentinel-logd.service")
    expect(os.path.isfile(unit), "the unit is installed")
    with open(unit) as f:
        text = f.read()
    expect_in(f"\nExecStart={PREFIX}/bin/sentinel-logd serve\n", text, "ExecStart follows the prefix")
    for name in ("sysusers.d", "tmpfiles.d"):
        expect(os.path.isfile(staged(f"{PREFIX}/lib/{name}/sentinel-logd.conf")), f"{name} file")
    conf = staged(f"{SYSCONFDIR}/sentinel-logd/sentinel-logd.conf")
    expect(os.path.isfile(conf), f"the example configuration: {conf}")
    expect_eq(os.stat(conf).st_mode & 0o777, 0o644, "its mode")

    # The server looks for its configuration where it was installed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    p = sh(staged(f"{PREFIX}/bin/sentinel-logd"), "--help", env=env)
    expect_in(f"{SYSCONFDIR}/sentinel-logd/sentinel-logd.conf", p.stdout,
              "--help names the installed configuration file")
    p = sh(staged(f"{PREFIX}/bin/sentinel-logd"), "check-config", "--config", conf, env=env)
    expect_in("# the configuration is valid", p.stdout, "the example configuration is valid")

    # Installing again keeps a configuration the administrator changed.
    with open(conf, "a") as f:
        f.write("retain-age = 30d\n")
    sh("cmake", "--install", BUILD_DIR, env={**os.environ, "DESTDIR": STAGE})
    with open(conf) as f:
        expect(f.read().endswith("retain-age = 30d\n"), "the changed configuration is kept")


def test_unit_verifies():
    install()
    unit = staged(f"{PREFIX}/lib/systemd/system/sentinel-logd.service")
    # verify checks that ExecStart exists: point it at the staged binary.
    d = scratch_dir("sentinel-unit-")
    copy = os.path.join(d, "sentinel-logd.service")
    with open(unit) as f:
        text = f.read().replace(f"ExecStart={PREFIX}/bin/",
                                f"ExecStart={staged(PREFIX)}/bin/")
    with open(copy, "w") as f:
        f.write(text)
    p = sh("systemd-analyze", "verify", "--man=no", copy, check=False)
    expect_eq((p.returncode, p.stdout + p.stderr), (0, ""), "systemd-analyze verify")
    for line in ("Type=notify", "User=sentinel", "StateDirectory=sentinel-logd",
                 "ExecReload=/bin/kill -HUP $MAINPID", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"):
        expect_in(f"\n{line}\n", text, "the unit")
    p = sh("systemd-analyze", "security", "--offline=yes", "--threshold=20", copy, check=False)
    m = re.search(r"Overall exposure level for sentinel-logd\.service: (\d+\.\d+)", p.stdout)
    expect(m, f"an exposure level: {p.stdout[-400:]} {p.stderr}")
    expect(float(m.group(1)) <= 2.0, f"exposure {m.group(1)} is at most 2.0")
    expect_eq(p.returncode, 0, "under the threshold")


def test_user_and_state_directory():
    install()
    root = scratch_dir("sentinel-root-")
    os.makedirs(os.path.join(root, "etc"))
    sh("systemd-sysusers", f"--root={root}", staged(f"{PREFIX}/lib/sysusers.d/sentinel-logd.conf"))
    with open(os.path.join(root, "etc", "passwd")) as f:
        users = [l.split(":") for l in f.read().splitlines()]
    user = [u for u in users if u[0] == "sentinel"]
    expect_eq(len(user), 1, f"one user sentinel: {users}")
    name, _, uid, gid, _, home, shell = user[0]
    expect(int(uid) < 1000, f"a system user: uid {uid}")
    expect_eq((home, shell), ("/var/lib/sentinel-logd", "/usr/sbin/nologin"), "home and shell")
    with open(os.path.join(root, "etc", "group")) as f:
        expect_in(f"sentinel:x:{gid}:", f.read(), "its group")
    sh("systemd-tmpfiles", f"--root={root}", "--create",
       staged(f"{PREFIX}/lib/tmpfiles.d/sentinel-logd.conf"))
    st = os.stat(os.path.join(root, "var", "lib", "sentinel-logd"))
    expect_eq((st.st_mode & 0o7777, st.st_uid, st.st_gid), (0o750, int(uid), int(gid)),
              "the state directory: 0750, the user's")


def page_text(path):
    """A page's roff source with its escapes for dashes and fonts removed."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        src = f.read()
    src = src.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")
    return re.sub(r"\\f[BIRP]", "", src)


def flags_of(help_text):
    return sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9]|-[a-zA-Z])(?![\w])", help_text)))


def mentions(text, flag):
    return re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", text) is not None


def test_manual_pages():
    install()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "MANROFFSEQ": "", "MANWIDTH": "80"}
    for name, page in PAGES.items():
        path = staged(f"{PREFIX}/share/man/{page}")
        p = sh("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path, env=env,
               check=False)
        expect_eq((p.returncode, p.stderr), (0, ""), f"{page} renders without a warning")
        p = sh("man", "-l", path, env=env)
        expect_in("NAME", p.stdout, f"{page} renders")
        expect_in(name.split(".")[0], p.stdout, f"{page} names its program")

    for prog in PROGRAMS:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
        help_text = sh(staged(f"{PREFIX}/bin/{prog}"), "--help", env=env).stdout
        flags = flags_of(help_text)
        expect(len(flags) >= 5, f"{prog} --help lists flags: {flags}")
        text = page_text(staged(f"{PREFIX}/share/man/{PAGES[prog]}"))
        missing = [f for f in flags if not mentions(text, f)]
        expect_eq(missing, [], f"flags of {prog} --help missing from its page")

    # sentinel-logd(8): a variable per flag; sentinel-logd.conf(5): a key per flag.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env["SENTINEL_CONFIG"] = ""
    report = sh(staged(f"{PREFIX}/bin/sentinel-logd"), "check-config", env=env).stdout
    keys = re.findall(r"^#? ?([a-z][a-z-]*) =", report, re.M)
    expect(len(keys) >= 20, f"check-config lists the keys: {keys}")
    page8 = page_text(staged(f"{PREFIX}/share/man/{PAGES['sentinel-logd']}"))
    page5 = page_text(staged(f"{PREFIX}/share/man/{PAGES['sentinel-logd.conf']}"))
    for key in keys:
        var = "SENTINEL_" + key.upper().replace("-", "_")
        expect(mentions(page8, var), f"{var} in sentinel-logd(8)")
        expect(re.search(r"^" + re.escape(key) + r" =", page5, re.M), f"key {key} in the conf page")
    expect(mentions(page8, "SENTINEL_CONFIG") and mentions(page8, "SENTINEL_TOKENS"),
           "the other variables")
    expect_in(f"{SYSCONFDIR}/sentinel-logd/sentinel-logd.conf", page5, "the file's place")


if __name__ == "__main__":
    run(test_layout, test_unit_verifies, test_user_and_state_directory, test_manual_pages)
