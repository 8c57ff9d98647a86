"""The one capture routine, ``extension/capture.js``, for both ways in.

- Its endpoints agree with the readers' (``collector/lancers.py``,
  ``collector/crowdworks.py``): checked without a browser.
- In real Chromium against the HTTPS stand-in: the collector's way
  (``collector.fetch.Browser``: ``page.evaluate`` in the page's main world) and
  the extension's way (the file loaded as a content script of an unpacked
  extension, in its isolated world, as the manifest lists it) give the same
  capture for the same page, and that capture reads as the corpus says.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from collector import crowdworks, lancers
from collector.fetch import (
    Browser,
    FetchedPage,
    FetchOptions,
    Sleeper,
    capture_script_path,
    later_selector,
    ready_selector,
)
from collector.timeutil import iso

ROOT = Path(__file__).resolve().parent.parent
CAPTURE_JS = ROOT / "extension" / "capture.js"
CHROMIUM = "/usr/lib/chromium/chromium"

LANCERS_PAGED = "https://www.lancers.jp/mypage/message?boardId=9052215"  # thread_paged_back: 2 pages
LANCERS_LONG = "https://www.lancers.jp/mypage/message?boardId=8912876"  # thread_long: 21 pages held
CROWDWORKS_RECENT = "https://crowdworks.jp/contracts/63724402"  # contract_recent


# --- the endpoints, without a browser -------------------------------------------------


def endpoints() -> dict:
    """The ENDPOINTS block at the top of capture.js, as a dict."""
    text = CAPTURE_JS.read_text(encoding="utf-8")
    block = text[text.index("const ENDPOINTS = {"):text.index("// ---- end of ENDPOINTS")]
    found = {}
    for name, string, number in re.findall(r'^\s*(\w+):\s*(?:"([^"]*)"|(\d+)),', block, re.M):
        found[name] = string if string else int(number)
    return found


def same_url(a: str, b: str) -> bool:
    """Host and path exactly, the query as a set of parameters (as readers find responses)."""
    pa, pb = urlsplit(a), urlsplit(b)
    return ((pa.scheme, pa.hostname, pa.path) == (pb.scheme, pb.hostname, pb.path)
            and set(parse_qsl(pa.query)) == set(parse_qsl(pb.query)))


def test_the_collector_runs_the_extensions_file():
    assert capture_script_path() == CAPTURE_JS


def test_capture_endpoints_agree_with_the_readers():
    e = endpoints()
    lancers_origin = f"https://{e['lancersHost']}"
    assert lancers_origin == lancers.BASE_URL
    assert lancers.thread_url("9052215") == f"{lancers_origin}{e['lancersThreadPath']}?{e['lancersBoardParam']}=9052215"
    assert lancers.LIST_URL == lancers_origin + e["lancersListPath"]
    assert lancers.board_detail_url("9052215") == lancers_origin + e["lancersBoardDetail"].format(board="9052215")
    messages = lancers_origin + e["lancersMessages"].format(board="9052215")
    assert e["lancersPageSize"] == lancers.PAGE_SIZE
    assert same_url(lancers.messages_url("9052215"), f"{messages}?limit={e['lancersPageSize']}")
    assert same_url(lancers.messages_url("9052215", before_id="60543585"),
                    f"{messages}?limit={e['lancersPageSize']}&message_id=60543585&direction=prev")

    crowdworks_origin = f"https://{e['crowdworksHost']}"
    assert crowdworks_origin == crowdworks.BASE_URL
    assert crowdworks.contract_url("63724402") == crowdworks_origin + e["crowdworksContractPath"].format(
        contract="63724402")
    assert crowdworks.messages_json_url("304918120") == crowdworks_origin + e["crowdworksMessages"].format(
        thread="304918120")
    assert e["crowdworksThreadElement"] == f"#{crowdworks.THREAD_ID}"
    assert e["crowdworksThreadAttribute"] == "data"
    assert urlsplit(crowdworks.LIST_URL).path == e["crowdworksListPath"]
    assert ready_selector("crowdworks") == f"{e['crowdworksThreadElement']}[{e['crowdworksThreadAttribute']}]"


def test_what_counts_as_a_human_check():
    from collector.fetch import is_human_check
    from standin import HUMAN_CHECK_PAGE

    assert is_human_check(403, HUMAN_CHECK_PAGE)
    assert is_human_check(503, "<html><title>Just a moment...</title><div id='cf-challenge'></div></html>")
    assert is_human_check(200, "<html><head><title>Human verification</title></head></html>")
    # Not a check: a job about captchas, a 404 page with a captcha'd contact form, JSON.
    assert not is_human_check(200, "<title>reCAPTCHA 導入支援 | クラウドワークス</title><p>captcha</p>")
    assert not is_human_check(404, "<html><body>Not Found <div class='g-recaptcha'></div></body></html>")
    assert not is_human_check(403, '{"error": "captcha"}', "application/json")


# --- in Chromium -------------------------------------------------------------------------

PROBE_JS = """
// Test-only content script, listed after capture.js: capture as the extension
// does (isolated world), then leave the capture where the test can read it.
(async () => {
  await ghostwatchCapture.ready({ timeoutMs: 8000 });
  const capture = await ghostwatchCapture();
  document.documentElement.setAttribute("data-gw-capture", JSON.stringify(capture));
})();
"""


def extension_dir(tmp_path: Path) -> Path:
    """An unpacked extension whose content scripts are capture.js (the very file)
    and a probe, on the pages the real manifest watches."""
    d = tmp_path / "capture-extension"
    d.mkdir()
    shutil.copy(CAPTURE_JS, d / "capture.js")
    (d / "probe.js").write_text(PROBE_JS, encoding="utf-8")
    manifest = json.loads((ROOT / "extension" / "manifest.json").read_text(encoding="utf-8"))
    (d / "manifest.json").write_text(json.dumps({
        "manifest_version": 3,
        "name": "ghostwatch capture probe",
        "version": "0.0.1",
        "content_scripts": [{
            "matches": manifest["content_scripts"][0]["matches"],
            "js": ["capture.js", "probe.js"],
            "run_at": "document_idle",
        }],
        "host_permissions": manifest["host_permissions"],
    }), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def captures(standin, tmp_path_factory):
    """Each page captured both ways: {url: (collector capture, extension capture)}."""
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("capture")
    urls = [(LANCERS_PAGED, "lancers"), (LANCERS_LONG, "lancers"), (CROWDWORKS_RECENT, "crowdworks")]
    out = {}
    options = FetchOptions(browser_args=standin.offline_browser_args, ignore_https_errors=True,
                           browser_path=CHROMIUM, delay=0, backoff=0.05, timeout=15)
    with Browser(tmp / "collector-profile", options) as browser:
        for url, platform in urls:
            item = browser.fetch(url, platform, "contract", Sleeper(), ready=ready_selector(platform),
                                 later=later_selector(platform))
            assert isinstance(item, FetchedPage), item
            out[url] = [item.to_capture()]
    ext = extension_dir(tmp)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp / "extension-profile"),
            executable_path=CHROMIUM,
            headless=True,
            ignore_https_errors=True,
            args=[f"--disable-extensions-except={ext}", f"--load-extension={ext}",
                  *standin.offline_browser_args, "--no-first-run", "--disable-background-networking"],
        )
        try:
            for url, _ in urls:
                page = context.new_page()
                page.goto(url)
                page.wait_for_selector("html[data-gw-capture]", state="attached", timeout=20_000)
                out[url].append(json.loads(page.get_attribute("html", "data-gw-capture")))
                page.close()
        finally:
            context.close()
    return out


def without_instant(capture: dict) -> dict:
    return {k: v for k, v in capture.items() if k != "captured_at"}


@pytest.mark.browser
@pytest.mark.parametrize("url", [LANCERS_PAGED, LANCERS_LONG, CROWDWORKS_RECENT])
def test_both_ways_in_give_the_same_capture(captures, url):
    collector_capture, extension_capture = captures[url]
    assert extension_capture["url"] == collector_capture["url"] == url
    assert without_instant(extension_capture) == without_instant(collector_capture)
    assert extension_capture["html"].startswith("<!DOCTYPE html><html")
    assert extension_capture["captured_at"].endswith("Z")


@pytest.mark.browser
def test_a_capture_holds_the_platforms_json(captures):
    paged = captures[LANCERS_PAGED][0]["responses"]
    assert [r["url"] for r in paged] == [
        lancers.board_detail_url("9052215"),
        lancers.messages_url("9052215"),
        lancers.messages_url("9052215", before_id="60543585"),  # the first page: full, no client message
    ]
    assert all(r["status"] == 200 and r["content_type"].startswith("application/json") for r in paged)
    # thread_long: the newest page holds a client message, so the paging stops there.
    long = captures[LANCERS_LONG][0]["responses"]
    assert [r["url"] for r in long] == [lancers.board_detail_url("8912876"), lancers.messages_url("8912876")]
    [cw] = captures[CROWDWORKS_RECENT][0]["responses"]
    assert cw["url"] == crowdworks.messages_json_url("304918120") and json.loads(cw["body"])["messages"]


@pytest.mark.browser
@pytest.mark.parametrize("url, name", [
    (LANCERS_PAGED, "lancers/thread_paged_back"),
    (LANCERS_LONG, "lancers/thread_long"),
    (CROWDWORKS_RECENT, "crowdworks/contract_recent"),
])
def test_a_capture_reads_as_the_corpus_says(captures, url, name):
    from collector.capture import Capture
    from collector.pages import read_page
    from standin import CORPUS

    expected = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))["expected"]
    for capture in captures[url]:  # both ways in
        c = Capture.from_json(capture)
        reading = read_page(c.html, c.url, responses=c.responses)
        assert type(reading).__name__ == "Thread", getattr(reading, "reason", reading)
        assert reading.thread_id == expected["thread_id"]
        assert reading.contract_id == expected["contract_id"]
        assert reading.source == "api"
        for key in ("title", "client", "pay_type", "status", "escalation"):
            assert getattr(reading, key) == expected[key], key
        counts = {s: sum(m.sender == s for m in reading.messages) for s in ("client", "me", "system")}
        if name == "lancers/thread_long":
            # A live capture stops at the page holding a client message: fewer messages, the
            # rest of the thread unknown, the client's last message the same.
            assert counts == {"client": 7, "me": 13, "system": 0}
            assert reading.history_collapsed is True
        else:
            assert counts == expected["messages"]
            assert reading.history_collapsed == expected["history_collapsed"]
        last = max(m.sent_at for m in reading.messages if m.sender == "client")
        assert iso(last) == expected["last_client_message_at"]


# --- the routine's edges, on the collector's way -----------------------------------------


@pytest.fixture
def browser(standin, tmp_path):
    options = FetchOptions(browser_args=standin.offline_browser_args, ignore_https_errors=True,
                           browser_path=CHROMIUM, delay=0, backoff=0.05, timeout=10, retries=0)
    with Browser(tmp_path / "profile", options) as b:
        yield b


def message(i: int, client: bool = False) -> dict:
    return {"id": i, "board_id": 7700001, "modified": "2026-11-20T10:00:00+09:00", "is_required_reply": False,
            "send_user": {"is_client": client, "id": 1, "display_name": "x"}, "description": f"m{i}"}


@pytest.mark.browser
def test_lancers_paging_is_bounded(site, browser):
    """A long thread of the freelancer's own messages: full pages back to the bound, no further."""
    from standin import CORPUS

    board = "7700001"
    site.route(lancers.thread_url(board), (CORPUS / "lancers" / "thread_paged_back.html").read_bytes())
    site.route_json(lancers.board_detail_url(board), {"id": int(board), "title": "t", "with": {"job": {"id": 1}}})
    top = 10_000
    site.route_json(lancers.messages_url(board), [message(i) for i in range(top, top - 20, -1)])
    for page in range(1, 10):
        newest = top - 20 * page
        site.route_json(lancers.messages_url(board, before_id=str(newest + 1)),
                        [message(i) for i in range(newest, newest - 20, -1)])
    browser.options.max_message_pages = 4
    item = browser.fetch(lancers.thread_url(board), "lancers", "contract", Sleeper())
    urls = [r["url"] for r in item.responses]
    assert urls[0] == lancers.board_detail_url(board)
    assert urls[1:] == [lancers.messages_url(board)] + [
        lancers.messages_url(board, before_id=str(top - 20 * n + 1)) for n in (1, 2, 3)]


@pytest.mark.browser
def test_failed_requests_are_recorded_never_thrown(site, browser):
    from standin import CORPUS

    board = "7700002"
    site.route(lancers.thread_url(board), (CORPUS / "lancers" / "thread_paged_back.html").read_bytes())
    site.route_response(lancers.board_detail_url(board), 500, "text/html; charset=utf-8", "<p>error</p>")
    site.route_response(lancers.messages_url(board), 404, "text/html; charset=utf-8", "<p>Not Found</p>")
    item = browser.fetch(lancers.thread_url(board), "lancers", "contract", Sleeper())
    assert [(r["status"], r["url"]) for r in item.responses] == [
        (500, lancers.board_detail_url(board)), (404, lancers.messages_url(board))]

    # A contract page without its thread element: the page alone, nothing fetched.
    site.route("https://crowdworks.jp/contracts/70000001", "<!DOCTYPE html><html><body><p>新しい画面</p></body></html>")
    browser.options.timeout = 2
    item = browser.fetch("https://crowdworks.jp/contracts/70000001", "crowdworks", "contract", Sleeper(),
                         ready=ready_selector("crowdworks"))
    assert isinstance(item, FetchedPage) and item.responses == [] and "新しい画面" in item.html

    # A list page: the HTML only.
    item = browser.fetch(crowdworks.LIST_URL, "crowdworks", "list", Sleeper())
    assert item.responses == [] and "<html" in item.html


@pytest.mark.browser
def test_the_collector_waits_a_little_for_a_deal_panel_rendered_late(site, browser):
    """Lancers' message page is an app: its deal panel may come after the load event."""
    from standin import CORPUS

    html = (CORPUS / "lancers" / "thread_silent_fixed.html").read_text(encoding="utf-8")
    start = html.index('<aside class="p-message-board__deal')
    end = html.index("</aside>", start) + len("</aside>")
    panel = html[start:end]
    late = ("<template id='late-panel'>" + panel + "</template><script>window.addEventListener('load', () => "
            "setTimeout(() => { const t = document.getElementById('late-panel'); "
            "t.replaceWith(t.content.cloneNode(true)); }, 1200));</script>")
    url = "https://www.lancers.jp/mypage/message?boardId=9058842"
    site.route(url, html[:start] + late + html[end:])
    item = browser.fetch(url, "lancers", "contract", Sleeper(), later=later_selector("lancers"))
    assert 'id="late-panel"' not in item.html  # the panel was in place when captured
    assert item.html.count('<aside class="p-message-board__deal') == 1


@pytest.mark.browser
def test_both_ways_fetch_with_the_users_session(site, tmp_path):
    """The JSON is the user's: both ways send the site's cookies (a content script's
    fetch is the page's own origin), so a session-only API answers JSON, not a login page."""
    from playwright.sync_api import sync_playwright

    from standin import SESSION_COOKIE

    site.require_session = True
    cookie = {"name": SESSION_COOKIE, "value": "1", "domain": "www.lancers.jp", "path": "/", "secure": True,
              "httpOnly": True, "sameSite": "Lax"}
    try:
        options = FetchOptions(browser_args=site.offline_browser_args, ignore_https_errors=True,
                               browser_path=CHROMIUM, delay=0, backoff=0.05, timeout=10)
        with Browser(tmp_path / "collector-profile", options) as browser:
            browser.context.add_cookies([cookie])
            item = browser.fetch(LANCERS_PAGED, "lancers", "contract", Sleeper())
        ext = extension_dir(tmp_path)
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(tmp_path / "extension-profile"), executable_path=CHROMIUM, headless=True,
                ignore_https_errors=True,
                args=[f"--disable-extensions-except={ext}", f"--load-extension={ext}", *site.offline_browser_args],
            )
            try:
                context.add_cookies([cookie])
                page = context.new_page()
                page.goto(LANCERS_PAGED)
                page.wait_for_selector("html[data-gw-capture]", state="attached", timeout=20_000)
                extension_capture = json.loads(page.get_attribute("html", "data-gw-capture"))
            finally:
                context.close()
    finally:
        site.require_session = False
    for responses in (item.responses, extension_capture["responses"]):
        assert len(responses) == 3
        assert all(r["status"] == 200 and r["content_type"].startswith("application/json") for r in responses)
