"""The configuration file, the environment variables and check-config, on the real binary.

Precedence (flags > environment > file > defaults) is checked twice: in
check-config's report, and on a server that really listens where the file
says, writes the store the variable names and syncs as the flag asks. Every
kind of mistake stops the start with the file and the line (or the variable,
or the flag). The example configuration that is installed must pass
check-config, and check-config's own output must read back as the same
configuration.
"""

import os
import re
import subprocess

from harness import (BINARY, HOST, Server, expect, expect_eq, expect_in, free_port, run,
                     scratch_dir)

BUILD_DIR = os.environ.get("SENTINEL_BUILD_DIR", "")


def sentinel(*args, env=None, config=None, timeout=30):
    """Run the binary with args, and --config FILE holding config if given.

    The environment has no SENTINEL_* variable but SENTINEL_CONFIG="" (no
    file) and those of env.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    full_env["SENTINEL_CONFIG"] = ""
    full_env.update(env or {})
    argv = [BINARY, *args]
    if config is not None:
        argv += ["--config", write_config(config)]
    p = subprocess.run(argv, capture_output=True, timeout=timeout, env=full_env,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def write_config(text, name="sentinel-logd.conf"):
    d = scratch_dir("sentinel-conf-")
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def effective(out):
    """check-config's report: {key: [(value, source), ...]}, unset keys as []."""
    conf = {}
    for line in out.splitlines():
        m = re.match(r"^# ([a-z][a-z-]*) =$", line)
        if m:
            conf[m.group(1)] = []
            continue
        m = re.match(r"^([a-z][a-z-]*) = (.*?)\s+# (.*)$", line)
        if m:
            conf.setdefault(m.group(1), []).append((m.group(2), m.group(3)))
    return conf


def test_precedence_in_check_config():
    path = write_config("# a comment\n"
                        "listen = 127.0.0.1:9001\n"
                        "db = /tmp/from-file.db\n"
                        "sync = full\n"
                        "cache-events = 1000\n"
                        "retain = security=365d\n"
                        "retain = monitor=7d\n"
                        "verbose = true\n")
    code, out, err = sentinel("check-config", "--config", path, "--listen", "127.0.0.1:9003",
                              env={"SENTINEL_LISTEN": "127.0.0.1:9002",
                                   "SENTINEL_DB": "/tmp/from-env.db",
                                   "SENTINEL_RETAIN": "error=1d,agent=2h",
                                   "SENTINEL_VERBOSE": "false"})
    expect_eq(code, 0, f"check-config exit code (stderr: {err})")
    expect_in(f"# configuration file: {path}", out, "the report names the file")
    conf = effective(out)
    expect_eq(conf["listen"], [("127.0.0.1:9003", "--listen")], "a flag beats the variable")
    expect_eq(conf["db"], [("/tmp/from-env.db", "SENTINEL_DB")], "a variable beats the file")
    expect_eq(conf["sync"], [("full", "line 4")], "the file beats the default")
    expect_eq(conf["cache-events"], [("1000", "line 5")], "the file's value")
    expect_eq(conf["cache-bytes"], [("64MiB", "default")], "a default")
    expect_eq(conf["retain"], [("error=1d", "SENTINEL_RETAIN"), ("agent=2h", "SENTINEL_RETAIN")],
              "a repeatable option takes all its values from one source")
    expect_eq(conf["verbose"], [("false", "SENTINEL_VERBOSE")], "a variable turns a switch off")
    expect_eq(conf["retain-age"], [], "an unset option")
    expect("# the configuration is valid" in out, f"the verdict: {out}")


def test_precedence_on_a_running_server():
    d = scratch_dir("sentinel-conf-")
    file_port = free_port()
    env_db = os.path.join(d, "env", "store.db")
    path = write_config(f"listen = {HOST}:{file_port}\n"
                        f"db = {os.path.join(d, 'file', 'store.db')}\n"
                        "sync = normal\n")
    # Only the flags the test means: the harness's own would override the file.
    srv = Server("--sync", "full", db=env_db, port=file_port, own_flags=False,
                 env={"SENTINEL_CONFIG": path, "SENTINEL_DB": env_db})
    srv.start()
    status, stats = srv.request("GET", "/api/stats")
    expect_eq(status, 200, "the server listens on the file's port")
    expect_eq(stats["sync"], "full", "the flag's --sync")
    status, ack = srv.post({"type": "system", "message": "configurado"})
    expect_eq(status, 200, "post")
    expect(os.path.isfile(env_db), "the store is where SENTINEL_DB says")
    expect(not os.path.exists(os.path.join(d, "file")), "not where the file says")
    expect_in(f"configuration file {path}", srv.stderr_text(), "the server logs its file")
    srv.stop()
    expect_eq(srv.store_state(), (1, ack["last_id"]), "the event is in the store")


def test_mistakes_name_their_place():
    cases = [
        ("listen = 127.0.0.1:8000\nlisen = 127.0.0.1:1\n", ":2: unknown key 'lisen'"),
        ("\n\nsync = sometimes\n", ":3: invalid sync 'sometimes': expected normal or full"),
        ("listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n", ":2: 'listen' is already set on line 1"),
        ("db\n", ":1: expected 'key = value'"),
        ("db =\n", ":1: 'db' needs a value"),
        ("allow-anonymous = maybe\n", ":1: invalid allow-anonymous 'maybe': expected true or false"),
        ("retain = security\n", ":1: invalid retain 'security'"),
        ("config = /etc/x.conf\n", ":1: 'config' cannot be set in a configuration file"),
        ("max-body-bytes = lots\n", ":1: invalid max-body-bytes 'lots'"),
    ]
    for text, message in cases:
        path = write_config(text)
        for args in (["--config", path], ["check-config", "--config", path]):
            code, out, err = sentinel(*args)
            expect_eq(code, 2, f"{text!r} with {args[0]}: exit code")
            expect_in(path + message, err, f"{text!r}: the message")
    # A value that a flag overrides must still be valid.
    path = write_config("listen = nowhere\n")
    code, _, err = sentinel("check-config", "--config", path, "--listen", "127.0.0.1:1")
    expect_eq(code, 2, "an overridden bad value still stops")
    expect_in(path + ":1: invalid listen 'nowhere'", err, "overridden value's message")

    code, _, err = sentinel("check-config", env={"SENTINEL_SYNC": "fast"})
    expect_eq(code, 2, "a bad variable stops")
    expect_in("invalid SENTINEL_SYNC 'fast': expected normal or full", err, "the variable's name")
    code, _, err = sentinel("check-config", env={"SENTINEL_VERBOSE": "2"})
    expect_in("invalid SENTINEL_VERBOSE '2': expected true or false", err, "a bad switch")
    code, _, err = sentinel("check-config", "--config", "/nonexistent/x.conf")
    expect_eq(code, 2, "a missing --config file stops")
    expect_in("cannot read the configuration file /nonexistent/x.conf", err, "missing file")
    code, _, err = sentinel("check-config", env={"SENTINEL_CONFIG": "/nonexistent/y.conf"})
    expect_eq(code, 2, "a missing SENTINEL_CONFIG file stops")
    expect_in("/nonexistent/y.conf", err, "missing file named by the variable")

    # The server itself refuses to start the same way.
    path = write_config("listen = 127.0.0.1:1\nretain-age = forever\n")
    code, _, err = sentinel("--config", path, timeout=30)
    expect_eq(code, 2, "serve with a bad file")
    expect_in(path + ":2: invalid retain-age 'forever'", err, "serve's message")


def test_file_syntax():
    port = free_port()
    text = ("\ufeff# byte order mark, comments, blanks and CRLF\r\n"
            "   \r\n"
            "\t# indented comment\n"
            f"  listen   =   {HOST}:{port}   \r\n"
            "allow-origin = https://a.example\n"
            "allow-origin=https://b.example\n"
            "retention-interval = 1m\n"
            "log-format = json\n")
    code, out, err = sentinel("check-config", config=text)
    expect_eq(code, 0, f"check-config: {err}")
    conf = effective(out)
    expect_eq(conf["listen"], [(f"{HOST}:{port}", "line 4")], "blanks around keys and values")
    expect_eq([v for v, _ in conf["allow-origin"]], ["https://a.example", "https://b.example"],
              "a repeated key")
    expect_eq(conf["log-format"], [("json", "line 8")], "log-format")


def test_secrets_are_not_shown():
    d = scratch_dir("sentinel-conf-")
    tokens = os.path.join(d, "tokens")
    with open(tokens, "w") as f:
        f.write("file-secret-token-0001 publish\nfile-secret-token-0002 subscribe\n")
    code, out, err = sentinel("check-config", "--token-file", tokens,
                              env={"SENTINEL_TOKENS": "env-secret-token-0003 admin"})
    expect_eq(code, 0, f"check-config with tokens: {err}")
    expect_in("# tokens: 3 (not shown)", out, "tokens are counted")
    for secret in ("file-secret-token-0001", "file-secret-token-0002", "env-secret-token-0003"):
        expect(secret not in out and secret not in err, f"{secret} is not printed")

    # What the server would refuse at start, check-config refuses too.
    code, out, err = sentinel("check-config", "--listen", "0.0.0.0:8000")
    expect_eq(code, 1, "an open listener without tokens")
    expect_in("refusing to listen on 0.0.0.0 without tokens", err, "the reason")
    expect("# the configuration is valid" not in out, "no verdict of validity")
    code, _, err = sentinel("check-config", "--tls-cert", os.path.join(d, "none.pem"),
                            "--tls-key", os.path.join(d, "none.key"))
    expect_eq(code, 1, "a TLS file that cannot be read")
    expect_in("none.pem", err, "the file is named")
    bad = os.path.join(d, "bad-tokens")
    with open(bad, "w") as f:
        f.write("short admin\n")
    code, _, err = sentinel("check-config", "--token-file", bad)
    expect_eq(code, 1, "a bad token file")
    expect_in(f"{bad}:1", err, "the token file's line")


def test_report_reads_back():
    text = ("listen = 127.0.0.1:9100\nsync = full\nretain = security=365d\nretain = agent=7d\n"
            "allow-anonymous = true\nretain-bytes = 64MiB\n")
    code, out1, err = sentinel("check-config", config=text,
                               env={"SENTINEL_CACHE_EVENTS": "4096"})
    expect_eq(code, 0, f"first check: {err}")
    path = write_config(out1)
    code, out2, err = sentinel("check-config", "--config", path)
    expect_eq(code, 0, f"the report as a configuration file: {err}")
    values = lambda out: {k: [v for v, _ in vs] for k, vs in effective(out).items()}  # noqa: E731
    expect_eq(values(out2), values(out1), "the same configuration")


def test_default_file_location():
    code, out, _ = sentinel("--help")
    expect_eq(code, 0, "--help")
    m = re.search(r"default:\s+(/\S+/sentinel-logd/sentinel-logd\.conf)", out)
    expect(m, f"--help names the default configuration file: {out[:800]}")
    sysconfdir = os.environ.get("SENTINEL_SYSCONFDIR")
    if sysconfdir:
        expect_eq(m.group(1), f"{sysconfdir}/sentinel-logd/sentinel-logd.conf",
                  "the default follows the install prefix")


def test_example_configuration():
    example = os.path.join(BUILD_DIR, "tools", "packaging", "sentinel-logd.conf")
    expect(os.path.isfile(example), f"the example configuration is built: {example}")
    code, out, err = sentinel("check-config", "--config", example)
    expect_eq(code, 0, f"the example passes check-config: {err}")
    conf = effective(out)
    expect_eq(conf["db"], [("/var/lib/sentinel-logd/sentinel.db", "line 10")],
              "the example keeps the store in the state directory")
    with open(example) as f:
        text = f.read()
    keys = re.findall(r"^#?([a-z][a-z-]*) = ", text, re.M)
    expect(len(keys) >= 8, f"keys in the example: {keys}")
    for key in keys:
        expect(key in conf, f"the example's key {key!r} is a real key")


if __name__ == "__main__":
    run(test_precedence_in_check_config, test_precedence_on_a_running_server,
        test_mistakes_name_their_place, test_file_syntax, test_secrets_are_not_shown,
        test_report_reads_back, test_default_file_location, test_example_configuration)
