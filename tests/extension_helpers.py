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
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import ROOT, LiveServer, start_server
from serverkit import corpus_page

EXTENSION_DIR = ROOT / "extension"
CHROMIUM = os.environ.get("GHOSTWATCH_BROWSER") or "/usr/lib/chromium/chromium"
JST = timezone(timedelta(hours=9))

RED = "#c62828"
AMBER = "#f9a825"
GREEN = "#2e7d32"
GREY = "#757575"
ERROR_PURPLE = "#6a1b9a"  # extension/common.js ERROR_BADGE


def extension_id() -> str:
    """The id Chrome gives the unpacked extension: from the manifest's pinned key."""
    key = json.loads((EXTENSION_DIR / "manifest.json").read_text(encoding="utf-8"))["key"]
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def whole_days(since: datetime, at: datetime) -> int:
    """Whole 24-hour periods, as the rules count the days of silence."""
    return max(0, (at - since) // timedelta(days=1))


# --- pages with known silence ----------------------------------------------------


def _minutes(delta: timedelta) -> timedelta:
    return timedelta(minutes=round(delta / timedelta(minutes=1)))


def crowdworks_shifted(name: str, last_client_ago: timedelta, now: datetime | None = None):
    """A CrowdWorks corpus page with every ``datetime`` attribute moved so that
    the client's last message was ``last_client_ago`` before ``now``.

    Returns (url, html, last_client_message_at)."""
    html, meta = corpus_page(f"crowdworks/{name}.html")
    now = now or datetime.now(JST)
    last = datetime.fromisoformat(meta["expected"]["last_client_message_at"])
    delta = _minutes(now - last_client_ago - last)

    def move(m):
        when = datetime.fromisoformat(m.group(2)) + delta
        return f'{m.group(1)}"{when.astimezone(JST).isoformat(timespec="seconds")}"'

    html, n = re.subn(r'(datetime=)"([^"]+)"', move, html)
    assert n, "no datetime attribute"
    return meta["url"], html, last + delta


_LANCERS_TIME = re.compile(r'(<time class="p-message-list__time">)([^<]+)(</time>)')


def _lancers_instant(text: str, captured_at: datetime) -> datetime:
    shown = captured_at.astimezone(JST)
    if m := re.fullmatch(r"今日\s*(\d{1,2}):(\d{2})", text):
        day = shown.date()
        hh, mm = m.groups()
    elif m := re.fullmatch(r"昨日\s*(\d{1,2}):(\d{2})", text):
        day = shown.date() - timedelta(days=1)
        hh, mm = m.groups()
    elif m := re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})", text):
        y, mo, d, hh, mm = m.groups()
        return datetime(int(y), int(mo), int(d), int(hh), int(mm), tzinfo=JST)
    elif m := re.fullmatch(r"(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})", text):
        mo, d, hh, mm = m.groups()
        candidate = datetime(shown.year, int(mo), int(d), int(hh), int(mm), tzinfo=JST)
        if candidate > shown:
            candidate = candidate.replace(year=shown.year - 1)
        return candidate
    else:
        raise ValueError(f"unknown Lancers time {text!r}")
    return datetime(day.year, day.month, day.day, int(hh), int(mm), tzinfo=JST)


def lancers_shifted(name: str, last_client_ago: timedelta, now: datetime | None = None):
    """A Lancers corpus thread whose message times (shown relative to the
    capture, 今日/昨日/11月10日) are rewritten as full dates moved so that the
    client's last message was ``last_client_ago`` before ``now``.

    Returns (url, html, last_client_message_at)."""
    html, meta = corpus_page(f"lancers/{name}.html")
    now = now or datetime.now(JST)
    captured = datetime.fromisoformat(meta["captured_at"])
    last = datetime.fromisoformat(meta["expected"]["last_client_message_at"])
    delta = _minutes(now - last_client_ago - last)

    def move(m):
        when = (_lancers_instant(m.group(2).strip(), captured) + delta).astimezone(JST)
        return f"{m.group(1)}{when.year}年{when.month}月{when.day}日 {when.hour:02d}:{when.minute:02d}{m.group(3)}"

    html, n = _LANCERS_TIME.subn(move, html)
    assert n, "no message time"

    def move_deadline(m):
        y, mo, d, hh, mm = (int(g) for g in m.groups())
        when = (datetime(y, mo, d, hh, mm, tzinfo=JST) + delta).astimezone(JST)
        return f"連絡期限：{when.year}年{when.month}月{when.day}日 {when.hour:02d}:{when.minute:02d}"

    # A filed request's deadline moves with the messages.
    html = re.sub(r"連絡期限[：:]\s*(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})", move_deadline, html)
    return meta["url"], html, last + delta


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


def unreadable_page(title: str = "メッセージ") -> str:
    return (f"<!DOCTYPE html><html lang='ja'><head><meta charset='utf-8'><title>{title}</title></head>"
            "<body><h1>メンテナンス中</h1><p>ただいまメッセージを表示できません。</p></body></html>")


# --- the server ------------------------------------------------------------------


def start_server_on(home: Path, port: int | None = None, timeout: float = 30) -> LiveServer:
    """``ghostwatch serve`` in ``home``; again on the same port after a stop."""
    return start_server(home, port=port, timeout=timeout)


def snapshot_rows(home: Path) -> list[dict]:
    """Every stored snapshot (url, source, captured_at, read_state), read from the server's SQLite file."""
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
        """(text, colour as #rrggbb, title) of the tab's badge, or the global one."""
        details = {} if tab_id is None else {"tabId": tab_id}
        text, color, title = self.evaluate(
            "async (d) => [await chrome.action.getBadgeText(d), await chrome.action.getBadgeBackgroundColor(d),"
            " await chrome.action.getTitle(d)]", details)
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
                lancers_shifted("thread_silent_fixed", timedelta(days=10, hours=3)),
                lancers_shifted("thread_requested", timedelta(days=21)),
                crowdworks_shifted("contract_delivered_silent", timedelta(days=9, hours=5)),
                crowdworks_shifted("contract_hourly_nudge", timedelta(days=4, hours=2)),
                crowdworks_shifted("contract_recent", timedelta(days=1, hours=3)),
            ]
            for url, html, _ in pages:
                standin.route(url, html)
                ext.context.new_page().goto(url)
            for url, _, _ in pages:
                ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"))

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
