#!/usr/bin/python3
"""The live dashboard at /, in a real headless Chromium.

Chromium (Debian's /usr/bin/chromium, or $CHROMIUM) is driven over the
DevTools protocol from this file, with the websockets package the harness
already uses. Against the real server:

- / , /app.js, /app.css and /favicon.svg are served from the binary with
  their content types and the strict CSP; other paths stay 404.
- The page loads with no console error, no exception and no CSP violation
  (and the violation detector itself is shown to work).
- History: events stored before the page opened are shown, newest first,
  with their text, type and colour; a row expands to its data as
  pretty-printed JSON; event text is shown as text, never as HTML.
- Live: events posted over HTTP appear once each, newest first.
- The type checkboxes and the text filter (focused with "/") hide and show
  exactly the right rows.
- "p" pauses: events posted meanwhile are held and counted, and appear on
  resume.
- kill -9 of the server, restart on the same port and store: the page
  resumes with after_id=<last id seen>&epoch=<epoch>&control=1 (and passes
  ?token= on), and shows every event exactly once, also those posted
  before it had reconnected.
- A store re-created under the page ("reset"): the page says so and shows
  the new store's events only.
- With tokens configured the files need none; the page asks for a token,
  says when one is refused, connects with a good one, keeps it for the
  tab, and also takes it from ?token=.
- The feed keeps at most 1000 rows; the chart counts live events.
- Text is readable (contrast) in the light and the dark colour scheme.
- History: the tab (and #history) shows stored events newest first within
  a time range (presets, or from and to), pages back with "Load older"
  without showing an event twice, filters by type and by text, and expands
  rows as the live feed does.
- SQL: the tab (and #sql) runs a query through POST /api/sql and shows the
  result as a table; its examples are the README's audit queries, and each
  gives the rows test_audit.py expects; a refused query shows the server's
  reason; the hash chain check shows the head /api/stats shows. A token
  without the audit role is told so.
Screenshots (light and dark, history, SQL) go to $SENTINEL_ARTIFACTS or the
current folder.
"""

import asyncio
import base64
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

import websockets

from harness import SEED_EVENTS, Server, Subscriber, TestFailure, expect, expect_eq, expect_in, run
from test_audit import EXPECTED, parse_queries

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.environ.get("SENTINEL_ARTIFACTS") or os.getcwd()
MAX_ROWS = 1000  # app.js MAX_ROWS

# The seed document's example events, plus a security event and a type of
# the producer's own.
SEED = [e for e in SEED_EVENTS
        if e["message"] not in ("Ciclo de analisis completado.",
                                "Servicio 'oldservice' eliminado del monitoreo.")] + [
    {"type": "security", "message": "Intento de acceso denegado desde 203.0.113.7",
     "timestamp": "2026-03-09T14:52:00.123456",
     "data": {"user": "admin", "attempts": 3}},
    {"type": "deploy.k8s", "message": "Rollout de api-gateway v2.4.1 completado",
     "timestamp": "2026-03-09T14:55:00.123456",
     "data": {"replicas": 3, "namespace": "prod"}},
]

HOSTILE = "<img src=x onerror=\"document.title='pwned'\"><b>bold</b> & \"quotes\""


# ------------------------------------------------------------- the browser

class Browser:
    """A headless Chromium with one page, driven over the DevTools protocol.

    Protocol events are collected in order; problems() turns the ones that
    mean something went wrong on the page into readable lines.
    """

    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions", "--mute-audio",
             "--window-size=1440,900", "--remote-debugging-port=0"]

    def __init__(self):
        if not os.access(CHROMIUM, os.X_OK):
            raise TestFailure(f"no Chromium at {CHROMIUM!r} (tools/setup/deps.sh test installs it)")
        self.dir = tempfile.mkdtemp(prefix="sentinel-chromium-")
        self.log = open(os.path.join(self.dir, "chromium.log"), "wb")
        self.proc = subprocess.Popen([CHROMIUM, *self.FLAGS, f"--user-data-dir={self.dir}",
                                      "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cond = threading.Condition()
        self.events = []
        self.pending = {}
        self.next_id = 0
        self.ws = None
        try:
            self._attach()
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
            # Record CSP violations as the page sees them (DevTools-injected
            # scripts are not subject to the page's CSP).
            self.call("Page.addScriptToEvaluateOnNewDocument", source=(
                "window.__csp = [];"
                "document.addEventListener('securitypolicyviolation', e =>"
                " window.__csp.push(e.effectiveDirective + ' ' + e.blockedURI));"))
            self.call("Emulation.setDeviceMetricsOverride", width=1440, height=900,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    def _attach(self):
        port_file = os.path.join(self.dir, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise TestFailure(f"Chromium did not start:\n{self.chromium_log()}")
            time.sleep(0.05)
        time.sleep(0.05)
        with open(port_file) as f:
            port = int(f.readline())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = next(t for t in targets if t["type"] == "page")

        async def connect():
            return await websockets.connect(page["webSocketDebuggerUrl"], max_size=None,
                                            ping_interval=None)

        self.ws = self._run(connect())
        asyncio.run_coroutine_threadsafe(self._reader(), self.loop)

    def chromium_log(self):
        self.log.flush()
        with open(os.path.join(self.dir, "chromium.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def _run(self, coro, timeout=60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _reader(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg:
                    fut = self.pending.pop(msg["id"], None)
                    if fut and not fut.done():
                        fut.set_result(msg)
                else:
                    with self.cond:
                        self.events.append(msg)
                        self.cond.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("DevTools connection closed"))

    def call(self, method, timeout=60, **params):
        async def send():
            self.next_id += 1
            fut = self.loop.create_future()
            self.pending[self.next_id] = fut
            await self.ws.send(json.dumps({"id": self.next_id, "method": method,
                                           "params": params}))
            return await asyncio.wait_for(fut, timeout)

        msg = self._run(send(), timeout + 5)
        if "error" in msg:
            raise TestFailure(f"{method} failed: {msg['error']}")
        return msg.get("result", {})

    def close(self):
        try:
            if self.ws:
                self._run(self.ws.close(), 10)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the page

    def open(self, url):
        self.call("Page.navigate", url=url)
        self.wait_until("document.readyState === 'complete'", what=f"{url} to load")

    def js(self, expression):
        """Evaluate in the page; returns the value (JSON-able)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise TestFailure(f"page script failed: {r['exceptionDetails']}\n  in: {expression}")
        return r["result"].get("value")

    def wait_until(self, expression, timeout=30.0, what=None):
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TestFailure(f"timed out after {timeout}s waiting for {what or expression}")
            time.sleep(0.05)

    def key(self, key, code, keycode):
        text = key if len(key) == 1 else ""
        self.call("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, text=text,
                  windowsVirtualKeyCode=keycode, nativeVirtualKeyCode=keycode)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                  windowsVirtualKeyCode=keycode, nativeVirtualKeyCode=keycode)

    def ctrl_enter(self):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                      windowsVirtualKeyCode=13, nativeVirtualKeyCode=13, modifiers=2)

    def type_text(self, text):
        self.call("Input.insertText", text=text)

    def click(self, selector):
        """A real mouse click in the middle of the element."""
        box = self.js(f"""(() => {{
            const e = document.querySelector({json.dumps(selector)});
            if (!e) return null;
            e.scrollIntoView({{block: 'center'}});
            const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2];
        }})()""")
        expect(box, f"no element {selector} to click")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                      button="left", clickCount=1)

    def screenshot(self, name):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path = os.path.join(ARTIFACTS, name)
        os.makedirs(ARTIFACTS, exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    # -- what the page did

    def problems(self):
        """Console errors, uncaught exceptions and CSP violations so far."""
        out = []
        with self.cond:
            events = list(self.events)
        for ev in events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"exception: {d.get('exception', {}).get('description') or d['text']}")
            elif m == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert", "warning"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                out.append(f"console.{p['type']}: {args}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                e = p["entry"]
                out.append(f"{e['level']} ({e['source']}): {e['text']} {e.get('url', '')}")
        violations = self.js("window.__csp || []")
        out += [f"CSP violation: {v}" for v in violations]
        return out

    def websocket_urls(self):
        with self.cond:
            return [ev["params"]["url"] for ev in self.events
                    if ev["method"] == "Network.webSocketCreated"]

    def forget_events(self):
        with self.cond:
            self.events.clear()


# ------------------------------------------------------------- page helpers

ROWS_JS = """[...document.querySelectorAll('#feed > li.event')].map(li => ({
    id: Number(li.dataset.id), type: li.dataset.type, kind: li.dataset.kind,
    hidden: li.hidden, msg: li.querySelector('.msg').textContent}))"""


def rows(b):
    return b.js(ROWS_JS)


def ids_shown(b):
    return [r["id"] for r in rows(b) if not r["hidden"]]


def shown(b, selector):
    """Whether the element takes up space on the page."""
    return b.js(f"document.querySelector({json.dumps(selector)}).getClientRects().length > 0")


def wait_live(b, timeout=30.0):
    b.wait_until("document.getElementById('status').dataset.state === 'live'", timeout,
                 "the status to say live")
    expect_eq(b.js("document.getElementById('status-text').textContent"), "Live", "status text")
    expect_eq(shown(b, "#retry"), False, "the retry button while live")


def wait_rows(b, n, timeout=30.0):
    b.wait_until(f"document.querySelectorAll('#feed > li.event').length === {n}", timeout,
                 f"{n} rows in the feed")


def wait_id(b, event_id, timeout=30.0):
    b.wait_until(f"!!document.querySelector('#feed > li.event[data-id=\"{event_id}\"]')",
                 timeout, f"event #{event_id} in the feed")


def post(srv, events):
    status, ack = srv.post(events)
    expect_eq(status, 200, f"POST /api/events answer {ack!r}")
    return list(range(ack["first_id"], ack["last_id"] + 1))


def expect_exactly_once_desc(b, want_ids, what):
    got = [r["id"] for r in rows(b)]
    dupes = sorted({i for i in got if got.count(i) > 1})
    expect_eq(dupes, [], f"{what}: ids shown more than once")
    expect_eq(got, sorted(want_ids, reverse=True), f"{what}: the feed's ids, newest first")


def open_dashboard(b, srv, query=""):
    b.open(f"{srv.base}/{query}")
    wait_live(b)


def expect_clean(b, what):
    expect_eq(b.problems(), [], f"{what}: console errors, exceptions or CSP violations")


# ------------------------------------------------------------- tests

def get(srv, path):
    """GET on a fresh connection: (status, content type, CSP, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return (resp.status, resp.getheader("content-type"),
                resp.getheader("content-security-policy") or "", body)
    finally:
        conn.close()


def test_files_are_served():
    srv = Server().start()
    web = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "net", "web")
    for path, name, ctype in (("/", "index.html", "text/html; charset=utf-8"),
                              ("/?token=abc", "index.html", "text/html; charset=utf-8"),
                              ("/index.html", "index.html", "text/html; charset=utf-8"),
                              ("/app.js", "app.js", "text/javascript; charset=utf-8"),
                              ("/app.css", "app.css", "text/css; charset=utf-8"),
                              ("/favicon.svg", "favicon.svg", "image/svg+xml")):
        status, got_type, csp, body = get(srv, path)
        expect_eq(status, 200, f"GET {path}")
        expect_eq(got_type, ctype, f"GET {path} content type")
        expect_in("script-src 'self'", csp, f"GET {path} CSP")
        expect("unsafe-inline" not in csp and "unsafe-eval" not in csp,
               f"GET {path}: the CSP allows inline code or eval: {csp}")
        with open(os.path.join(web, name), "rb") as f:
            expect_eq(body, f.read(), f"GET {path} is src/net/web/{name}")
    for path in ("/nope.js", "/web/app.js", "/../CMakeLists.txt", "/app.js/", "/api"):
        expect_eq(get(srv, path)[0], 404, f"GET {path}")
    status, body = srv.request("POST", "/", body=b"{}",
                               headers={"Content-Type": "application/json"})
    expect(status >= 400 and "<html" not in str(body), f"POST / answered {status} {body!r}")


def test_history_rows_and_details():
    srv = Server().start()
    ids = post(srv, SEED + [{"type": "agent", "message": HOSTILE, "data": {"html": HOSTILE}}])
    b = Browser()
    try:
        open_dashboard(b, srv)
        wait_rows(b, len(ids))
        got = rows(b)
        expect_eq([r["id"] for r in got], ids[::-1], "history ids, newest first")
        want = SEED + [{"type": "agent", "message": HOSTILE}]
        expect_eq([(r["type"], r["msg"]) for r in got[::-1]],
                  [(e["type"], e["message"]) for e in want], "history types and messages")
        expect_eq({r["type"]: r["kind"] for r in got}["deploy.k8s"], "other",
                  "an unknown type's colour class")
        expect_eq(b.js("document.title"), "sentinel-logd · live", "the title (no script ran)")
        expect_eq(b.js("document.querySelectorAll('#feed img, #feed b').length"), 0,
                  "elements made from event text")

        # Colours differ per known type and come from the style sheet.
        colours = b.js("""Object.fromEntries(['system','agent','monitor','error','config',
            'security','deploy.k8s'].map(t => [t, getComputedStyle(document.querySelector(
            `#feed li[data-type="${t}"] .badge`)).color]))""")
        expect_eq(len(set(colours.values())), 7, f"badge colours per type {colours}")

        # Counts by type, in the type list.
        counts = b.js("""Object.fromEntries([...document.querySelectorAll('#type-list li')]
            .map(li => [li.querySelector('input').value, li.querySelector('.type-count').textContent]))""")
        expect_eq(counts, {"system": "3", "agent": "3", "monitor": "2", "error": "1",
                           "config": "1", "security": "1", "deploy.k8s": "1"}, "counts by type")
        expect_eq(b.js("document.getElementById('stat-total').textContent"), str(len(ids)),
                  "events received")

        # Expand the error row: its data, pretty-printed, as text.
        err_id = ids[3]
        b.click(f'#feed li[data-id="{err_id}"] summary')
        b.wait_until(f"!!document.querySelector('#feed li[data-id=\"{err_id}\"] pre')")
        pre = b.js(f"document.querySelector('#feed li[data-id=\"{err_id}\"] pre').textContent")
        expect_eq(pre, json.dumps(SEED[3]["data"], indent=2, ensure_ascii=False),
                  "the expanded row's data")
        b.click(f'#feed li[data-id="{ids[-1]}"] summary')
        pre = b.wait_until(f"document.querySelector('#feed li[data-id=\"{ids[-1]}\"] pre')"
                           "?.textContent")
        expect_eq(json.loads(pre), {"html": HOSTILE}, "hostile data, shown as text")
        expect_eq(b.js("document.querySelectorAll('#feed img, #feed b').length"), 0,
                  "elements made from event data")
        expect_clean(b, "page load")

        # The detector works: an inline script is refused and reported.
        b.js("(() => { const s = document.createElement('script');"
             " s.textContent = 'window.__ran = 1'; document.body.append(s); })()")
        b.wait_until("window.__csp.length > 0", 10, "a CSP violation report")
        expect_eq(b.js("window.__ran === undefined"), True, "inline script blocked")
        expect(any("CSP violation" in p for p in b.problems()), "the violation is reported")
    finally:
        b.close()


def test_live_filters_and_keyboard():
    srv = Server().start()
    b = Browser()
    try:
        open_dashboard(b, srv)
        expect_eq(rows(b), [], "rows of an empty store")
        ids = post(srv, SEED)
        wait_rows(b, len(SEED))
        expect_exactly_once_desc(b, ids, "live events")
        by_id = dict(zip(ids, SEED))

        # Type filter: untick agent and monitor with the mouse.
        b.click('#type-list input[value="agent"]')
        b.click('#type-list input[value="monitor"]')
        want = [i for i in ids[::-1] if by_id[i]["type"] not in ("agent", "monitor")]
        expect_eq(ids_shown(b), want, "rows shown without agent and monitor")
        more = post(srv, [{"type": "agent", "message": "oculto por filtro"},
                          {"type": "error", "message": "visible: disco lleno"}])
        wait_id(b, more[1])
        expect_eq(ids_shown(b)[:2], [more[1], ids[-1]], "new rows obey the type filter")
        b.click('#type-list input[value="agent"]')
        b.click('#type-list input[value="monitor"]')
        expect_eq(len(ids_shown(b)), len(ids) + 2, "rows shown with every type ticked")
        b.click("#types-none")
        expect_eq(ids_shown(b), [], "rows shown with no type ticked")
        expect_eq(b.js("document.getElementById('feed-empty').hidden"), False,
                  "the empty-filter message")
        b.click("#types-all")

        # Text filter: "/" focuses it; the match is a case-insensitive substring.
        b.key("/", "Slash", 191)
        expect_eq(b.js("document.activeElement.id"), "text-filter", "focus after '/'")
        b.type_text("SERVICIO")
        want = [i for i in (ids + more)[::-1]
                if "servicio" in dict(zip(ids + more, SEED + [
                    {"message": "oculto por filtro"}, {"message": "visible: disco lleno"}]))[i][
                    "message"].lower()]
        expect_eq(ids_shown(b), want, "rows matching 'SERVICIO'")
        expect(len(want) == 5, f"the text filter kept {len(want)} rows")
        b.click('#type-list input[value="monitor"]')
        expect_eq(len(ids_shown(b)), 3, "text and type filters combined")
        b.click('#type-list input[value="monitor"]')
        # In the text box "p" is text, not the pause key; Escape clears, then leaves.
        b.key("/", "Slash", 191)
        b.key("p", "KeyP", 80)
        expect_eq(b.js("document.getElementById('text-filter').value"), "p",
                  "the filter after '/' (selects) and p")
        expect_eq(b.js("document.getElementById('pause').getAttribute('aria-pressed')"),
                  "false", "typing p in the filter does not pause")
        b.key("Escape", "Escape", 27)
        expect_eq(b.js("document.getElementById('text-filter').value"), "",
                  "Escape clears the filter")
        expect_eq(len(ids_shown(b)), len(ids) + 2, "rows shown with no text filter")
        b.key("Escape", "Escape", 27)
        expect(b.js("document.activeElement.id") != "text-filter", "second Escape leaves the box")

        # Keyboard focus is visible on a real control.
        b.key("Tab", "Tab", 9)
        focus = b.js("""(() => { const e = document.activeElement;
            return [e.tagName, e.matches(':focus-visible'), getComputedStyle(e).outlineStyle]; })()""")
        expect(focus[0] in ("BUTTON", "INPUT", "SUMMARY") and focus[1] and focus[2] != "none",
               f"focused element after Tab {focus}")
        expect_clean(b, "filters")
    finally:
        b.close()


def test_pause_and_resume():
    srv = Server().start()
    b = Browser()
    try:
        open_dashboard(b, srv)
        first = post(srv, SEED[:3])
        wait_rows(b, 3)
        b.key("p", "KeyP", 80)
        expect_eq(b.js("document.getElementById('pause').getAttribute('aria-pressed')"), "true",
                  "pause button state")
        held = post(srv, SEED[3:8])
        b.wait_until("document.getElementById('stat-last').textContent === "
                     f"'{held[-1]}'", 30, "the held events to arrive")
        time.sleep(0.3)
        expect_eq([r["id"] for r in rows(b)], first[::-1], "rows while paused")
        banner = b.js("document.getElementById('paused-banner').hidden ? null :"
                      " document.getElementById('paused-text').textContent")
        expect_in("5 new events", banner or "", "the paused banner")
        expect_eq(shown(b, "#paused-banner"), True, "the paused banner is visible")
        b.click("#pause")  # resume with the button
        wait_rows(b, 8)
        expect_exactly_once_desc(b, first + held, "rows after resume")
        expect_eq(shown(b, "#paused-banner"), False, "the banner after resume")
        b.key("p", "KeyP", 80)
        b.key("p", "KeyP", 80)
        last = post(srv, SEED[8:])
        wait_rows(b, len(SEED))
        expect_exactly_once_desc(b, first + held + last, "rows after pause and resume by key")
        expect_clean(b, "pause and resume")
    finally:
        b.close()


def test_resume_after_kill9():
    srv = Server().start()
    before = post(srv, SEED[:6])
    b = Browser()
    try:
        open_dashboard(b, srv, "?token=t0k3n")
        wait_rows(b, 6)
        live = post(srv, SEED[6:])
        wait_id(b, live[-1])
        urls = b.websocket_urls()
        expect(len(urls) >= 2, f"the probe and the history connection: {urls}")
        for u in urls:
            expect_in("token=t0k3n", u, "the page's token on the WebSocket URL")
            expect_in("control=1", u, "control messages asked for")
        expect_in("after_id=0", urls[-1], "the history connection of a small store")
        b.forget_events()

        srv.kill9()
        b.wait_until("document.getElementById('status').dataset.state === 'reconnecting'", 30,
                     "the status to say reconnecting")
        status = b.js("document.getElementById('status-text').textContent")
        expect_in("reconnecting in", status, "the status while disconnected")
        expect_eq(shown(b, "#retry"), True, "the retry button while disconnected")
        # Let a retry or two fail, so that the events below are posted while
        # the page is still waiting to reconnect and come to it as replay.
        b.wait_until("/in [2-9] s/.test(document.getElementById('status-text').textContent)",
                     30, "the backoff to grow")
        srv.restart()
        while_down = post(srv, [{"type": "system", "message": f"tras reinicio {i}"}
                                for i in range(4)])
        wait_live(b, 60)
        after = post(srv, [{"type": "monitor", "message": f"en vivo {i}"} for i in range(3)])
        wait_id(b, after[-1])
        time.sleep(0.5)  # a duplicate would arrive right behind
        expect_exactly_once_desc(b, before + live + while_down + after, "rows after kill -9")
        stored = [r[0] for r in srv.rows()]
        expect_eq(sorted(before + live + while_down + after), stored, "ids in the store")

        urls = b.websocket_urls()
        expect(urls, "the page reconnected")
        probe = Subscriber(srv.ws_url() + "?control=1")
        epoch = probe.wait_for(1)[0]["epoch"]
        probe.close()
        for u in urls:
            expect_in(f"after_id={live[-1]}&", u + "&", "the resume URL's after_id")
            expect_in(f"epoch={epoch}&", u + "&", "the resume URL's epoch")
            expect_in("token=t0k3n", u, "the token on the resume URL")
        problems = [p for p in b.problems()
                    if "WebSocket connection" not in p and "ERR_CONNECTION_REFUSED" not in p]
        expect_eq(problems, [], "problems other than refused connections")
    finally:
        b.close()


def test_store_recreated():
    srv = Server().start()
    post(srv, SEED[:5])
    b = Browser()
    try:
        open_dashboard(b, srv)
        wait_rows(b, 5)
        srv.kill9()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(srv.db_path + suffix):
                os.remove(srv.db_path + suffix)
        srv.restart()
        new = post(srv, SEED[5:])
        expect_eq(new[0], 1, "the new store's first id")
        b.wait_until("document.querySelector('#feed > li.notice')?.textContent"
                     ".includes('re-created')", 60, "the reset notice")
        wait_live(b, 60)
        wait_rows(b, len(new))
        expect_exactly_once_desc(b, new, "rows from the new store only")
        msgs = [r["msg"] for r in rows(b)][::-1]
        expect_eq(msgs, [e["message"] for e in SEED[5:]], "the new store's events")
    finally:
        b.close()


def test_token_prompt():
    tokens = os.path.join(tempfile.mkdtemp(prefix="sentinel-tokens-"), "tokens")
    with open(tokens, "w") as f:
        f.write("# dashboard test\nr3ader-t0ken subscribe\np0st-only-t0ken publish\n")
    srv = Server("--token-file", tokens).start()
    shutil.rmtree(os.path.dirname(tokens), ignore_errors=True)

    def post_auth(events):
        status, ack = srv.request("POST", "/api/events", body=json.dumps(events).encode(),
                                  headers={"Content-Type": "application/json",
                                           "Authorization": "Bearer p0st-only-t0ken"})
        expect_eq(status, 200, f"authorised POST answer {ack!r}")
        return list(range(ack["first_id"], ack["last_id"] + 1))

    for path in ("/", "/app.js", "/app.css", "/favicon.svg"):
        expect_eq(get(srv, path)[0], 200, f"GET {path} with tokens on and none sent")
    ids = post_auth(SEED[:4])
    b = Browser()
    try:
        b.open(f"{srv.base}/")
        b.wait_until("!document.getElementById('token-form').hidden", 30, "the token form")
        expect_eq(b.js("document.getElementById('status').dataset.state"), "auth", "status")
        expect_eq(b.js("document.activeElement.id"), "token-input", "focus in the token box")
        expect_eq(rows(b), [], "rows shown without a token")
        # A token without the subscribe role is refused, and the form says so.
        b.type_text("p0st-only-t0ken")
        b.click('#token-form button[type="submit"]')
        b.wait_until("!document.getElementById('token-form').hidden && document.getElementById"
                     "('token-why').textContent.includes('refused')", 30, "the refusal")
        b.type_text("r3ader-t0ken")
        b.click('#token-form button[type="submit"]')
        wait_live(b)
        expect_eq(shown(b, "#token-form"), False, "the form once connected")
        wait_rows(b, 4)
        more = post_auth(SEED[4:])
        wait_id(b, more[-1])
        expect_exactly_once_desc(b, ids + more, "rows with a token")
        expect_in("token=r3ader-t0ken", b.websocket_urls()[-1], "the token on the socket URL")
        # Kept for the tab: a reload connects without asking.
        b.open(f"{srv.base}/")
        wait_live(b)
        wait_rows(b, len(SEED))
    finally:
        b.close()
    # A link with ?token= works in a fresh browser.
    b = Browser()
    try:
        b.open(f"{srv.base}/?token=r3ader-t0ken")
        wait_live(b)
        wait_rows(b, len(SEED))
        expect_eq(shown(b, "#token-form"), False, "the form with ?token=")
        expect_clean(b, "?token=")
    finally:
        b.close()


def test_bounded_feed_and_chart():
    srv = Server().start()
    b = Browser()
    try:
        open_dashboard(b, srv)
        ids = []
        for i in range(6):
            ids += post(srv, [{"type": ("agent", "monitor", "system")[j % 3],
                               "message": f"lote {i} evento {j}"} for j in range(250)])
        wait_id(b, ids[-1])
        wait_rows(b, MAX_ROWS)
        expect_exactly_once_desc(b, ids[-MAX_ROWS:], "the feed keeps the newest rows")
        expect_eq(b.js("document.getElementById('stat-total').textContent"), "1,500",
                  "events received")
        b.wait_until("document.getElementById('stat-peak').textContent !== '0'", 5,
                     "the chart's peak")
        label = b.js("document.getElementById('chart').getAttribute('aria-label')")
        expect_in("1500 events in the last 5 minutes", label, "the chart counts live events")
        painted = b.js("""(() => { const c = document.getElementById('chart');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()""")
        expect(painted > 500, f"the chart drew {painted} pixels")
        expect_clean(b, "1500 events")
    finally:
        b.close()


CONTRAST_JS = """(() => {
    const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05); };
    const bg = getComputedStyle(document.querySelector('.feed-card')).backgroundColor;
    const page = getComputedStyle(document.body).backgroundColor;
    const of = sel => getComputedStyle(document.querySelector(sel)).color;
    return {bg, page, message: ratio(of('#feed .msg'), bg), muted: ratio(of('#feed .ts'), bg),
            status: ratio(of('#status-text'), page)};
})()"""


def test_screenshots_light_and_dark():
    srv = Server().start()
    post(srv, SEED)
    b = Browser()
    try:
        open_dashboard(b, srv)
        # A few seconds of traffic for the chart.
        for i in range(24):
            post(srv, [dict(SEED[(i * 7 + j) % len(SEED)]) for j in range(1 + (i * 5) % 9)])
            time.sleep(0.25)
        b.wait_until("document.querySelectorAll('#feed > li.event').length > 100", 30)
        err = b.js("document.querySelector('#feed li[data-type=\"error\"]').dataset.id")
        b.click(f'#feed li[data-id="{err}"] summary')
        time.sleep(1.2)  # one chart tick
        light = b.js(CONTRAST_JS)
        shot = b.screenshot("dashboard.png")
        b.call("Emulation.setEmulatedMedia",
               features=[{"name": "prefers-color-scheme", "value": "dark"}])
        time.sleep(1.2)
        dark = b.js(CONTRAST_JS)
        b.screenshot("dashboard-dark.png")
        expect(light["bg"] != dark["bg"], f"the dark scheme changes the panels {light} {dark}")
        for scheme, c in (("light", light), ("dark", dark)):
            expect(c["message"] >= 7, f"{scheme}: message contrast {c}")
            expect(c["muted"] >= 4.5, f"{scheme}: muted text contrast {c}")
            expect(c["status"] >= 7, f"{scheme}: status contrast {c}")
        expect(os.path.getsize(shot) > 10000, f"screenshot {shot}")
        print(f"screenshots: {shot} and dashboard-dark.png beside it")
        expect_clean(b, "screenshots")
    finally:
        b.close()


# ------------------------------------------------------------- history and SQL

HISTORY_JS = """[...document.querySelectorAll('#history-list > li.event')].map(li => ({
    id: Number(li.dataset.id), type: li.dataset.type,
    msg: li.querySelector('.msg').textContent}))"""


def history_rows(b):
    return b.js(HISTORY_JS)


def history_search(b, range_value="24h", type_value="", text="", start="", end=""):
    """Fill the history form and search; wait for the answer."""
    b.js(f"""(() => {{
        const set = (id, v) => {{ const e = document.getElementById(id); e.value = v;
            e.dispatchEvent(new Event('change')); }};
        set('history-range', {json.dumps(range_value)});
        set('history-from', {json.dumps(start)});
        set('history-to', {json.dumps(end)});
        set('history-type', {json.dumps(type_value)});
        document.getElementById('history-text').value = {json.dumps(text)};
    }})()""")
    b.click("#history-search")
    b.wait_until("document.getElementById('history-info').textContent !== 'Loading…' && "
                 "!document.getElementById('history-more').disabled", 30, "the search")


def tab_state(b):
    return b.js("""['live', 'history', 'sql'].map(v => [
        document.getElementById('tab-' + v).getAttribute('aria-selected'),
        document.getElementById('view-' + v).hidden])""")


def test_history_view():
    srv = Server().start()
    old_ids = post(srv, SEED)  # 2026-03-09: older than a day
    recent = [{"type": ("agent", "monitor", "error")[i % 3],
               "message": f"reciente {i}" + (" postgresql caído" if i % 10 == 0 else ""),
               "data": {"i": i}} for i in range(250)]
    recent_ids = post(srv, recent)
    by_id = dict(zip(old_ids + recent_ids, SEED + recent))
    b = Browser()
    try:
        open_dashboard(b, srv, "#history")
        expect_eq(tab_state(b), [["false", True], ["true", False], ["false", True]],
                  "the history tab and view")
        # The last 24 hours, newest first, a hundred at a time.
        b.wait_until("document.querySelectorAll('#history-list > li.event').length === 100",
                     30, "the first hundred rows")
        expect_eq([r["id"] for r in history_rows(b)], recent_ids[::-1][:100], "the newest first")
        expect_in("100 events, newest first", b.js(
            "document.getElementById('history-info').textContent"), "the history info")
        b.click("#history-more")
        b.wait_until("document.querySelectorAll('#history-list > li.event').length === 200")
        b.click("#history-more")
        b.wait_until("document.querySelectorAll('#history-list > li.event').length === 250")
        b.wait_until("document.getElementById('history-more').hidden", 10, "the end")
        expect_eq([r["id"] for r in history_rows(b)], recent_ids[::-1],
                  "every recent event once, newest first")
        expect_in("nothing older matches", b.js(
            "document.getElementById('history-info').textContent"), "the end of the history")

        # A type.
        history_search(b, type_value="error")
        want = [i for i in recent_ids[::-1] if by_id[i]["type"] == "error"]
        expect_eq([r["id"] for r in history_rows(b)], want, "error events only")
        # Text, whatever its case, across pages.
        history_search(b, text="POSTGRESQL")
        want = [i for i in recent_ids[::-1] if "postgresql" in by_id[i]["message"]]
        expect_eq(len(want), 25, "recent events that mention postgresql")
        expect_eq([r["id"] for r in history_rows(b)], want, "events whose message matches")
        # All time, one type: the old events too.
        history_search(b, range_value="all", type_value="agent")
        want = [i for i in (old_ids + recent_ids)[::-1] if by_id[i]["type"] == "agent"]
        expect_eq(b.js("document.getElementById('history-more').hidden"), True,
                  "all of them at once: fewer than a hundred")
        expect_eq([r["id"] for r in history_rows(b)], want, "agent events of all time")
        # From... to... (UTC): 14:10 to 14:40 on 2026-03-09.
        history_search(b, range_value="custom", start="2026-03-09T14:10:00",
                       end="2026-03-09T14:40:00")
        expect_eq(b.js("document.getElementById('history-from-field').hidden"), False,
                  "the from field is shown")
        want = [i for i in old_ids[::-1]
                if "2026-03-09T14:10" <= by_id[i]["timestamp"] < "2026-03-09T14:40"]
        expect_eq(len(want), 4, "old events in the range")
        expect_eq([r["id"] for r in history_rows(b)], want, "events in the range")
        # A row expands to its data.
        err = next(i for i in want if "data" in by_id[i])
        b.click(f'#history-list li[data-id="{err}"] summary')
        pre = b.wait_until(f"document.querySelector('#history-list li[data-id=\"{err}\"] pre')"
                           "?.textContent")
        expect_eq(json.loads(pre), by_id[err]["data"], "the expanded row's data")
        # Nothing matches.
        history_search(b, range_value="15m", text="no existe en ningún mensaje")
        expect_eq(history_rows(b), [], "no rows")
        expect_eq(b.js("document.getElementById('history-empty').hidden"), False,
                  "the empty message")
        # The live view is still there, and got nothing twice.
        b.click("#tab-live")
        expect_eq(tab_state(b), [["true", False], ["false", True], ["false", True]],
                  "back to the live view")
        expect_eq(b.js("location.hash"), "", "the URL of the live view")
        expect_clean(b, "history")

        b.click("#tab-history")
        history_search(b, range_value="all", text="postgresql")
        newest = max(i for i in recent_ids if "postgresql" in by_id[i]["message"])
        b.click(f'#history-list li[data-id="{newest}"] summary')
        time.sleep(0.3)
        print(f"screenshot: {b.screenshot('dashboard-history.png')}")
    finally:
        b.close()


TABLE_JS = """[...document.querySelectorAll('#sql-table tbody tr')].map(tr =>
    [...tr.children].map(td => td.textContent))"""


def cell(v):
    return "NULL" if v is None else str(v)


def run_example(b, index):
    before = b.js("document.getElementById('sql-status').textContent")
    b.js("document.getElementById('sql-status').textContent = ''")
    b.js(f"""(() => {{ const s = document.getElementById('sql-examples');
        s.value = '{index}'; s.dispatchEvent(new Event('change')); }})()""")
    b.wait_until("document.getElementById('sql-status').textContent.includes(' ms')"
                 " && !document.getElementById('sql-run').disabled", 30, f"example {index}")
    return b.js(TABLE_JS), before


def test_sql_view():
    srv = Server().start()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                           "sentinel_events.jsonl"), "rb") as f:
        status, ack = srv.post(f.read(), content_type="application/x-ndjson")
    expect_eq(status, 200, "the fixture")
    b = Browser()
    try:
        open_dashboard(b, srv, "#sql")
        expect_eq(tab_state(b), [["false", True], ["false", True], ["true", False]],
                  "the SQL tab and view")
        # The query in the box runs when the view first opens.
        b.wait_until("document.querySelectorAll('#sql-table tbody tr').length === 20", 30,
                     "the first result")
        heads = b.js("[...document.querySelectorAll('#sql-table th')].map(th => th.textContent)")
        expect_eq(heads, ["id", "type", "timestamp", "message"], "the columns")
        expect_eq(b.js(TABLE_JS)[0][0], "42", "the newest event first")

        # The examples are the README's audit queries, and answer as tested.
        queries = parse_queries()
        shown = b.js("[...document.querySelectorAll('#sql-examples option')].slice(1)"
                     ".map(o => o.textContent)")
        expect_eq(shown, [q for _, q, _ in queries], "the examples' questions")
        expect_eq(b.js("EXAMPLES.map(e => e.sql)"), [sql for _, _, sql in queries],
                  "the examples' SQL")
        for i, (name, _, sql) in enumerate(queries):
            table, _ = run_example(b, i)
            expect_eq(table, [[cell(v) for v in row] for row in EXPECTED[name]],
                      f"the table of example {name}")
            expect_eq(b.js("document.getElementById('sql-text').value"), sql,
                      f"example {name} in the box")
        nulls = b.js("document.querySelectorAll('#sql-table td.null').length")
        expect(nulls == 0, "no NULL in the last example")

        # A refused query: the server's reason, run with Ctrl+Enter.
        b.js("document.getElementById('sql-text').value = 'DELETE FROM journal'")
        b.click("#sql-text")
        b.ctrl_enter()
        b.wait_until("!document.getElementById('sql-error').hidden", 30, "the error")
        expect_in("writing (DELETE) is not allowed", b.js(
            "document.getElementById('sql-error').textContent"), "the reason")
        expect_eq(srv.store_state(), (42, 42), "nothing was deleted")

        # A result with NULLs and numbers, as a table.
        b.js("document.getElementById('sql-text').value = "
             "\"SELECT id, json_extract(data, '$.service') AS service FROM events "
             "WHERE id IN (1, 5) ORDER BY id\"")
        b.js("document.getElementById('sql-status').textContent = ''")
        b.click("#sql-run")
        b.wait_until("document.getElementById('sql-status').textContent.includes(' ms')", 30,
                     "the result")
        expect_eq(b.js(TABLE_JS), [["1", "NULL"], ["5", "postgresql"]], "NULL and a number")
        expect_eq(b.js("document.querySelector('#sql-table td.null').textContent"), "NULL",
                  "NULL is marked")

        # The chain, checked by the server.
        b.click("#chain-check")
        text = b.wait_until("(t => t.startsWith('Intact') && t)(document.getElementById("
                            "'chain-result').textContent)", 30, "the chain check")
        status, stats = srv.request("GET", "/api/stats")
        expect_in(f"Intact: 42 events checked. Head: #42 {stats['chain']['head_hash']}", text,
                  "the chain check")
        problems = [p for p in b.problems() if not ("status of 400" in p and "/api/sql" in p)]
        expect_eq(problems, [], "SQL view: problems other than the refused query's 400")
        run_example(b, 2)  # events per type and hour: a table of some length
        print(f"screenshot: {b.screenshot('dashboard-sql.png')}")
    finally:
        b.close()


def test_audit_views_need_their_roles():
    tokens = os.path.join(tempfile.mkdtemp(prefix="sentinel-tokens-"), "tokens")
    with open(tokens, "w") as f:
        f.write("r3ader-t0ken subscribe\nauditor-t0ken subscribe,audit\np0st-t0ken publish\n")
    srv = Server("--token-file", tokens).start()
    shutil.rmtree(os.path.dirname(tokens), ignore_errors=True)
    status, ack = srv.request("POST", "/api/events", body=json.dumps(SEED).encode(),
                              headers={"Content-Type": "application/json",
                                       "Authorization": "Bearer p0st-t0ken"})
    expect_eq(status, 200, "POST")
    b = Browser()
    try:
        open_dashboard(b, srv, "?token=r3ader-t0ken#sql")
        b.wait_until("!document.getElementById('sql-error').hidden", 30, "the refusal")
        expect_in("needs a token with the audit role", b.js(
            "document.getElementById('sql-error').textContent"), "the SQL view without audit")
        b.click("#chain-check")
        b.wait_until("document.getElementById('chain-result').textContent.includes('audit role')",
                     30, "the chain check without audit")
        # The history needs subscribe only.
        b.click("#tab-history")
        history_search(b, range_value="all")
        expect_eq(len(history_rows(b)), len(SEED), "history with a subscribe token")
        b.open(f"{srv.base}/?token=auditor-t0ken#sql")
        b.wait_until("document.querySelectorAll('#sql-table tbody tr').length === "
                     f"{len(SEED)}", 30, "the SQL view with an audit token")
        expect_eq(b.js("document.getElementById('sql-error').hidden"), True, "no error")
        expect_eq(b.js("location.search + location.hash"), "?token=auditor-t0ken#sql",
                  "the URL keeps the token and the view")
    finally:
        b.close()


if __name__ == "__main__":
    run(test_files_are_served, test_history_rows_and_details, test_live_filters_and_keyboard,
        test_pause_and_resume, test_resume_after_kill9, test_store_recreated, test_token_prompt,
        test_bounded_feed_and_chart,
        test_screenshots_light_and_dark, test_history_view, test_sql_view,
        test_audit_views_need_their_roles)
