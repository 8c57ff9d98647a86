"""Helpers for the extension's tests: Chromium with the unpacked extension,
pages whose times are shifted so that the silence is known relative to now,
and a server that can be stopped and started again on the same port.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import ROOT, LiveServer, start_server
from standin import CORPUS, corpus_responses

from server.states import BADGE_COLORS, PAGE_BADGES
from server.states import table as states_table

# GHOSTWATCH_EXTENSION_DIR: load another copy of the extension (e.g. a packed build).
EXTENSION_DIR = Path(os.environ.get("GHOSTWATCH_EXTENSION_DIR") or ROOT / "extension")
CHROMIUM = os.environ.get("GHOSTWATCH_BROWSER") or "/usr/lib/chromium/chromium"
JST = timezone(timedelta(hours=9))

# The badges' colours: the server's one table (server/states.py, GET /api/states) ...
RED, AMBER, GREEN, GREY = (BADGE_COLORS[c] for c in ("red", "amber", "green", "grey"))
INQUIRY = PAGE_BADGES["inquiry"]["color"]  # "—"
UNCONFIRMED = next(s["badge_color"] for s in states_table()["states"] if s["state"] == "unconfirmed")
# ... and the two only the extension draws (extension/common.js).
ERROR_PURPLE = "#6a1b9a"  # ERROR_BADGE "!"
PENDING = "#9e9e9e"  # PENDING_BADGE "…"


def extension_id() -> str:
    """The id Chrome gives the unpacked extension: from the manifest's pinned key."""
    key = json.loads((EXTENSION_DIR / "manifest.json").read_text(encoding="utf-8"))["key"]
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def whole_days(since: datetime, at: datetime) -> int:
    """Whole 24-hour periods, as the rules count the days of silence."""
    return max(0, (at - since) // timedelta(days=1))


# --- captures with known silence ----------------------------------------------------


@dataclass
class Shifted:
    """A corpus capture (page and responses) with every instant moved by ``delta``."""

    name: str  # platform/name
    url: str
    html: str
    responses: list[dict]
    meta: dict
    delta: timedelta

    @property
    def expected(self) -> dict:
        return self.meta["expected"]

    @property
    def platform(self) -> str:
        return self.name.split("/")[0]

    @property
    def contract_id(self) -> str | None:
        return self.expected.get("contract_id")

    def moved(self, iso: str | None) -> datetime | None:
        """A corpus instant, moved as the capture was."""
        return None if iso is None else datetime.fromisoformat(iso) + self.delta

    @property
    def last_client(self) -> datetime | None:
        return self.moved(self.expected.get("last_client_message_at"))

    @property
    def silent_since(self) -> datetime | None:
        verdict = self.expected.get("verdict") or {}
        return self.moved(verdict.get("silent_since"))

    def serve(self, standin) -> "Shifted":
        """Route the page and its responses on the stand-in."""
        standin.route(self.url, self.html)
        standin.route_responses(self.responses)
        return self


_JP_TIME = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日(\s*)(\d{1,2}):(\d{2})")


def _shift_jp(text: str, delta: timedelta) -> str:
    """Every 「2026年09月10日 11:22」 (Japan time; zero-padded or not, as written) moved by ``delta``."""

    def move(m):
        y, mo, d, hh, mm = (int(m.group(i)) for i in (1, 2, 3, 5, 6))
        when = datetime(y, mo, d, hh, mm, tzinfo=JST) + delta
        if len(m.group(2)) == 2:  # zero-padded, as CrowdWorks writes it
            day = f"{when.year}年{when.month:02d}月{when.day:02d}日"
        else:
            day = f"{when.year}年{when.month}月{when.day}日"
        return f"{day}{m.group(4)}{when.hour:02d}:{when.minute:02d}"

    return _JP_TIME.sub(move, text)


def _shift_modified(value, delta: timedelta):
    """A Lancers ``modified`` moved by ``delta``, in the format it was written in."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return type(value)(value + delta.total_seconds())
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", text):
        when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S") + delta  # Japan time, no zone
        return when.strftime("%Y-%m-%d %H:%M:%S")
    if text.endswith("Z"):
        when = datetime.fromisoformat(text[:-1] + "+00:00") + delta
        return when.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    when = datetime.fromisoformat(text)
    return (when + delta).isoformat()


def _shift_lancers_json(value, delta: timedelta):
    if isinstance(value, list):
        return [_shift_lancers_json(v, delta) for v in value]
    if isinstance(value, dict):
        return {k: (_shift_modified(v, delta) if k == "modified" else _shift_lancers_json(v, delta))
                for k, v in value.items()}
    return value


def _shift_response(response: dict, platform: str, delta: timedelta) -> dict:
    body = response["body"]
    if platform == "crowdworks":
        body = _shift_jp(body, delta)
    else:
        try:
            body = json.dumps(_shift_lancers_json(json.loads(body), delta), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            pass  # not JSON (a challenge page): served as recorded
    return {**response, "body": body}


def shifted(name: str, last_client_ago: timedelta | None = None, now: datetime | None = None) -> Shifted:
    """The corpus capture ``platform/name`` with every instant it holds (message
    times in the HTML and in its JSON responses, a filed request's deadline)
    moved so that:

    - ``last_client_ago`` given: the client's last message (else the instant the
      silence is counted from) was that long before ``now``;
    - else: the corpus' ``at`` is ``now``, so its expected verdict holds now.

    The move is a whole number of minutes (CrowdWorks writes minutes)."""
    path = CORPUS / f"{name}.html"
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    expected = meta["expected"]
    now = now or datetime.now(JST)
    if last_client_ago is None:
        anchor = datetime.fromisoformat(expected.get("at") or meta["captured_at"])
        delta = now - anchor
    else:
        since = expected.get("last_client_message_at") or (expected.get("verdict") or {}).get("silent_since")
        delta = now - last_client_ago - datetime.fromisoformat(since)
    delta = timedelta(minutes=delta // timedelta(minutes=1))  # whole minutes, never later than asked
    platform = name.split("/")[0]
    html = _shift_jp(path.read_text(encoding="utf-8"), delta)
    responses = [_shift_response(r, platform, delta) for r in corpus_responses(path)]
    return Shifted(name, meta["url"], html, responses, meta, delta)


def expected_badge(verdict: dict) -> tuple[str, str]:
    """(text, colour) of the badge the extension shows for a contract's verdict
    (the server's rules.badge, and the extension's own 要確認)."""
    state, days = verdict["state"], verdict["silent_days"]
    lower = "+" if verdict.get("silence_is_lower_bound") else ""
    if state in ("unreadable", "unknown"):
        return "?", GREY
    if state == "closed":
        return "", GREY
    if state == "unconfirmed":
        return ("?" if days is None else f"{days}{lower}?"), UNCONFIRMED
    days = days or 0
    if days >= 7 or state in ("eligible", "overdue"):
        color = RED
    elif days >= 3:
        color = AMBER
    else:
        color = GREEN
    return f"{days}{lower}", color


def _element_end(html: str, start: int) -> int:
    """The end of the ``<div>`` element starting at ``start``."""
    depth = 0
    for m in re.finditer(r"<div\b|</div>", html[start:]):
        depth += 1 if m.group(0) != "</div>" else -1
        if depth == 0:
            return start + m.end()
    raise ValueError("unclosed <div>")


def rendered_late(html: str, list_class: str, delay_ms: int) -> str:
    """The page with its message list (the ``<div>`` whose class starts with
    ``list_class``) left empty and filled in by a script after ``delay_ms``, as
    a client-side rendered page does.  The markup waits in a JSON string, so
    the page holds no message before then."""
    m = re.search(rf'<div class="{re.escape(list_class)}[^"]*">', html)
    end = _element_end(html, m.start())
    inner = html[m.end():end - len("</div>")]
    payload = json.dumps(inner).replace("<", "\\u003c").replace(">", "\\u003e")
    script = (f"<script>setTimeout(function () {{ document.getElementById('late-list').innerHTML = {payload}; }},"
              f" {delay_ms});</script>")
    return html[:m.start()] + html[m.start():m.end()].replace("<div ", "<div id='late-list' ", 1) + "</div>" + \
        html[end:].replace("</body>", script + "</body>", 1)


def board_html(html: str) -> str:
    """The Lancers message board element (``#js-message-board``: the board list,
    the thread, the deal panel) of a thread page."""
    m = re.search(r'<div class="p-message-board" id="js-message-board">', html)
    return html[m.start():_element_end(html, m.start())]


def board_switching_app(pages: list[Shifted], delay_ms: int = 300) -> str:
    """The first page, made an app like Lancers' message page: ``switchBoard(id)``
    moves to another board of ``pages`` with ``history.pushState`` (no load) and
    redraws the board ``delay_ms`` later, as the app does once it has fetched it;
    back/forward (popstate) redraws the board of the URL the same way."""
    boards = {p.expected["thread_id"]: board_html(p.html) for p in pages}
    payload = json.dumps(boards, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    script = f"""<script>
(function () {{
  var boards = {payload};
  function draw() {{
    var id = new URLSearchParams(location.search).get('boardId');
    setTimeout(function () {{
      var board = document.getElementById('js-message-board');
      if (board && boards[id]) board.outerHTML = boards[id];
    }}, {delay_ms});
  }}
  window.switchBoard = function (id) {{
    history.pushState({{boardId: id}}, '', '/mypage/message?boardId=' + id);
    draw();
  }};
  window.addEventListener('popstate', draw);
}})();
</script>"""
    return pages[0].html.replace("</body>", script + "</body>", 1)


def unreadable_page(title: str = "メッセージ") -> str:
    return (f"<!DOCTYPE html><html lang='ja'><head><meta charset='utf-8'><title>{title}</title></head>"
            "<body><h1>メンテナンス中</h1><p>ただいまメッセージを表示できません。</p></body></html>")


# --- the server ------------------------------------------------------------------


def start_server_on(home: Path, port: int | None = None, timeout: float = 30) -> LiveServer:
    """``ghostwatch serve`` in ``home``; again on the same port after a stop."""
    return start_server(home, port=port, timeout=timeout)


def snapshot_rows(home: Path) -> list[dict]:
    """Every stored snapshot (id, url, source, captured_at, read_state), read from the server's SQLite file."""
    db = home / "ghostwatch.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(
            "select id, url, source, captured_at, read_state from snapshots order by id")]
    finally:
        conn.close()


def stored_capture(home: Path, snapshot_id: int) -> tuple[str, list[dict]]:
    """(html, responses) of a stored snapshot, as the server keeps it."""
    from server.store import Store

    html, responses = Store(home / "ghostwatch.db").snapshot_capture(snapshot_id)
    return html.decode("utf-8"), [r.to_json() for r in responses]


class FaultProxy:
    """A proxy in front of the real server, for what a healthy server never does:
    it answers 500 to ``POST /api/snapshots`` for the page URLs in ``fail_urls``
    (every time), and holds each snapshot ``delay_seconds`` before forwarding it.
    Everything else goes to the server as it came (the Host made the server's)."""

    def __init__(self, upstream: LiveServer):
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        proxy = self
        self.upstream = upstream
        self.fail_urls: set[str] = set()
        self.delay_seconds = 0.0
        self.posted: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "POST" and self.path.startswith("/api/snapshots") and body:
                    url = json.loads(body).get("url")
                    proxy.posted.append(url)
                    if url in proxy.fail_urls:
                        answer = json.dumps({"error": "internal_error", "message": "内部エラー"}).encode()
                        self.send_response(500)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(answer)))
                        self.end_headers()
                        self.wfile.write(answer)
                        return
                    time.sleep(proxy.delay_seconds)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                headers["Host"] = f"127.0.0.1:{upstream.port}"
                conn = http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    res = conn.getresponse()
                    data = res.read()
                except OSError:
                    self.send_error(502)
                    return
                finally:
                    conn.close()
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- Chromium with the extension ----------------------------------------------------


def wait_for(fn, timeout: float = 20, interval: float = 0.25, what: str = "condition"):
    """Call ``fn`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except Exception as err:  # noqa: BLE001 - a worker restarting, a page navigating
            last = err
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def _hex(rgba) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgba[:3])


class ExtensionBrowser:
    """Chromium (persistent profile) with the unpacked extension loaded from ``extension/``."""

    def __init__(self, context, ext_id: str):
        self.context = context
        self.id = ext_id

    @property
    def worker(self):
        workers = [w for w in self.context.service_workers if w.url.startswith(f"chrome-extension://{self.id}/")]
        if workers:
            return workers[-1]
        return self.context.wait_for_event("serviceworker", timeout=15000)

    def evaluate(self, script: str, arg=None):
        """Run ``script`` (an expression or async function) in the service worker."""
        last = None
        for _ in range(3):
            try:
                return self.worker.evaluate(script, arg)
            except Exception as err:  # noqa: BLE001 - the worker was stopped and restarts
                last = err
                time.sleep(0.5)
        raise last

    def stop_worker(self) -> None:
        """Stop the service worker, as Chrome does when it has been idle (it
        starts again at the next event)."""
        page = self.context.pages[0] if self.context.pages else self.context.new_page()
        cdp = self.context.new_cdp_session(page)
        try:
            targets = cdp.send("Target.getTargets")["targetInfos"]
            for target in targets:
                if target["type"] == "service_worker" and target["url"].startswith(f"chrome-extension://{self.id}/"):
                    cdp.send("Target.closeTarget", {"targetId": target["targetId"]})
        finally:
            cdp.detach()

    def message(self, key: str, *subs) -> str:
        """The extension's UI text ``key`` in the browser's language (chrome.i18n)."""
        return self.evaluate("([k, s]) => chrome.i18n.getMessage(k, s)", [key, [str(x) for x in subs]])

    def url(self, path: str) -> str:
        return f"chrome-extension://{self.id}/{path}"

    def configure(self, server_url: str, token: str) -> None:
        self.evaluate("(s) => chrome.storage.local.set(s)", {"serverUrl": server_url, "token": token})

    def storage(self, *keys):
        return self.evaluate("(k) => chrome.storage.local.get(k.length ? k : null)", list(keys))

    def tab_id(self, url: str) -> int | None:
        return self.evaluate(
            "async (u) => { const tabs = await chrome.tabs.query({});"
            " const t = tabs.find((t) => t.url === u); return t ? t.id : null; }", url)

    def badge(self, tab_id: int | None = None) -> tuple[str, str, str]:
        """(text, colour as #rrggbb, title) of the tab's badge, or the global one.

        The three are read one after the other; Chrome may change them in between
        (it resets a tab's own badge when a navigation commits), so they are read
        until two readings agree: a badge the toolbar showed, never a mix of two."""
        details = {} if tab_id is None else {"tabId": tab_id}
        text, color, title = self.evaluate(
            "async (d) => { const read = async () => JSON.stringify([await chrome.action.getBadgeText(d),"
            " await chrome.action.getBadgeBackgroundColor(d), await chrome.action.getTitle(d)]);"
            " let last = await read();"
            " for (let i = 0; i < 20; i++) { const now = await read(); if (now === last) break; last = now; }"
            " return JSON.parse(last); }", details)
        return text, _hex(color), title

    def wait_badge(self, url: str, predicate, timeout: float = 30, what: str = "badge", own: bool = True):
        """Poll the badge of the tab showing ``url`` until ``predicate(text, colour, title)``.

        ``own``: only a badge set for that tab counts, not the global badge a tab
        shows until it has its own (told apart by the title)."""

        def probe():
            tab = self.tab_id(url)
            if tab is None:
                return None
            got = self.badge(tab)
            probe.last = got
            if own and got[2] == self.badge()[2] and got[0] != "!":
                return None
            return got if predicate(*got) else None

        probe.last = None
        try:
            return wait_for(probe, timeout=timeout, what=what)
        except AssertionError as err:
            raise AssertionError(f"{err}; badge was {probe.last!r}") from None


@contextmanager
def extension_browser(playwright, standin, lang: str = "ja", extra_args: list[str] = ()):
    """Chromium with the extension, the stand-in's host rules and HTTPS errors ignored."""
    profile = tempfile.mkdtemp(prefix="gw-ext-profile-")
    d = str(EXTENSION_DIR)
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        ignore_https_errors=True,
        locale="ja-JP" if lang == "ja" else "en-US",
        # Chromium on Linux takes its UI language (chrome.i18n) from the environment.
        env={**os.environ, "LANGUAGE": "ja" if lang == "ja" else "en_US", "LANG": "ja_JP.UTF-8" if lang == "ja" else "en_US.UTF-8"},
        args=[
            f"--disable-extensions-except={d}",
            f"--load-extension={d}",
            # The platforms at the stand-in, every other name unresolvable (the
            # corpus pages load third-party scripts), 127.0.0.1 left alone.
            f"--host-resolver-rules={standin.resolver_rules}, MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            "--disable-background-networking",
            "--no-first-run",
            f"--lang={'ja' if lang == 'ja' else 'en-US'}",
            *extra_args,
        ],
    )
    try:
        browser = ExtensionBrowser(context, extension_id())
        # The worker starts with the browser; the first event can be missed.
        wait_for(lambda: browser.worker, timeout=20, what="the extension's service worker")
        yield browser
    finally:
        context.close()
        subprocess.run(["rm", "-rf", profile], check=False)


# --- the screenshots of docs/extension.md ----------------------------------------------


def make_screenshots(out_dir: Path) -> list[Path]:
    """Render the popup and the options page, in Japanese, with a few contracts
    needing action, into ``out_dir`` (docs/images):

        .venv/bin/python tests/extension_helpers.py docs/images
    """
    from playwright.sync_api import sync_playwright

    from standin import RunningStandIn

    out_dir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="gw-shots-")) / "home"
    try:  # the default port, as the user sees it, when it is free
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 8765))
        port = 8765
    except OSError:
        port = None
    server = start_server_on(home, port)
    written = []
    try:
        with RunningStandIn() as standin, sync_playwright() as p, extension_browser(p, standin) as ext:
            ext.configure(server.url, server.token)
            pages = [
                shifted("lancers/thread_silent_fixed"),
                shifted("lancers/thread_requested", timedelta(days=21)),
                shifted("lancers/thread_no_panel"),
                shifted("crowdworks/contract_delivered_silent"),
                shifted("crowdworks/contract_hourly_nudge"),
                shifted("crowdworks/contract_recent"),
            ]
            for page in pages:
                page.serve(standin)
                ext.context.new_page().goto(page.url)
            for page in pages:
                ext.wait_badge(page.url, lambda t, c, ti: t not in ("", "!", "…"))

            popup = ext.context.new_page()
            popup.set_viewport_size({"width": 380, "height": 600})
            popup.goto(ext.url("popup.html"))
            popup.wait_for_selector("li.contract")
            path = out_dir / "extension-popup.png"
            popup.screenshot(path=str(path), full_page=True)
            written.append(path)

            options = ext.context.new_page()
            options.set_viewport_size({"width": 820, "height": 900})
            options.goto(ext.url("options.html"))
            options.wait_for_selector("#status.ok, #status.problem")
            path = out_dir / "extension-options.png"
            options.screenshot(path=str(path), full_page=True)
            written.append(path)
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)
    return written


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    for written_path in make_screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "images")):
        print(written_path)
