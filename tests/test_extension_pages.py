"""The watched URL patterns live once in the extension (``capture.js``'s
``kind``, used by ``content.js`` and the service worker); the manifest's
``matches`` and Python's ``collector.pages.identify`` must agree with it.

The patterns run in Chromium, as the extension runs them."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from collector.pages import identify
from collector.reading import UnsupportedURL
from extension_helpers import CHROMIUM, EXTENSION_DIR

pytestmark = pytest.mark.browser

# Python's (platform, page) as capture.js names it.
KINDS = {
    ("lancers", "thread"): "lancers_thread",
    ("lancers", "contract_list"): "lancers_list",
    ("crowdworks", "thread"): "crowdworks_contract",
    ("crowdworks", "contract_list"): "crowdworks_list",
}

URLS = [
    # Lancers boards
    "https://www.lancers.jp/mypage/message?boardId=9058842",
    "https://www.lancers.jp/mypage/message/?boardId=9058842",
    "https://www.lancers.jp/mypage/message?boardId=9058842&tab=all",
    "https://www.lancers.jp/mypage/message?tab=all&boardId=9058842#bottom",
    "https://www.lancers.jp/mypage/message?boardId=&boardId=77",
    "https://www.lancers.jp/mypage/message?boardId=%39%30",
    "https://www.lancers.jp/mypage/message",
    "https://www.lancers.jp/mypage/message?boardId=",
    "https://www.lancers.jp/mypage/message?boardId=abc",
    "https://www.lancers.jp/mypage/message?boardId=12a",
    "https://www.lancers.jp/mypage/message?boardid=12",
    "https://www.lancers.jp/mypage/message_list",
    "https://www.lancers.jp/mypage/message/12",
    "http://www.lancers.jp/mypage/message?boardId=12",
    "https://lancers.jp/mypage/message?boardId=12",
    # Lancers working list
    "https://www.lancers.jp/mypage/proposals/all/working",
    "https://www.lancers.jp/mypage/proposals/all/working/",
    "https://www.lancers.jp/mypage/proposals/all/working/page:2",
    "https://www.lancers.jp/mypage/proposals/all/working/page:2/",
    "https://www.lancers.jp/mypage/proposals/all/working/page:",
    "https://www.lancers.jp/mypage/proposals/all/working/page:x",
    "https://www.lancers.jp/mypage/proposals/all/working2",
    "https://www.lancers.jp/mypage/proposals/all/working/detail/5",
    "https://www.lancers.jp/mypage/proposals/all",
    "https://www.lancers.jp/work/detail/4862017",
    # CrowdWorks contracts
    "https://crowdworks.jp/contracts/63724402",
    "https://crowdworks.jp/contracts/63724402/",
    "https://crowdworks.jp/contracts/63724402?ref=mail",
    "https://crowdworks.jp/contracts/63724402/contact_requests/new",
    "https://crowdworks.jp/contracts/",
    "https://crowdworks.jp/contracts/abc",
    "https://crowdworks.jp/contracts/12x",
    "https://www.crowdworks.jp/contracts/63724402",
    "http://crowdworks.jp/contracts/63724402",
    # CrowdWorks list
    "https://crowdworks.jp/e/contracts",
    "https://crowdworks.jp/e/contracts/",
    "https://crowdworks.jp/e/contracts?status=active",
    "https://crowdworks.jp/e/contracts?status=",
    "https://crowdworks.jp/e/contracts?status=finished",
    "https://crowdworks.jp/e/contracts?status=&status=finished",
    "https://crowdworks.jp/e/contracts?page=2&status=active",
    "https://crowdworks.jp/e/contracts/archive",
    "https://crowdworks.jp/e/contractsx",
    # elsewhere
    "https://example.com/contracts/1",
    "https://www.lancers.jp/",
    "https://crowdworks.jp/",
]


def python_kind(url: str) -> str | None:
    try:
        ref = identify(url)
    except UnsupportedURL:
        return None
    return KINDS[(ref.platform, ref.page)]


def manifest_matches() -> list[str]:
    manifest = json.loads((EXTENSION_DIR / "manifest.json").read_text(encoding="utf-8"))
    [scripts] = manifest["content_scripts"]
    return scripts["matches"]


def glob_matches(pattern: str, url: str) -> bool:
    """Chrome's match pattern ``scheme://host/path``: the path part (with
    ``*`` for anything) is matched against the URL's path and query."""
    scheme, rest = pattern.split("://", 1)
    host, _, path = rest.partition("/")
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    path_re = "".join(".*" if ch == "*" else re.escape(ch) for ch in "/" + path)
    return parts.scheme == scheme and parts.hostname == host and re.fullmatch(path_re, target) is not None


def manifest_origins() -> set[tuple[str, str]]:
    return {(p.split("://")[0], p.split("://")[1].split("/")[0]) for p in manifest_matches()}


@pytest.fixture(scope="module")
def js_kinds(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    try:
        page = browser.new_page()
        page.goto("about:blank")
        page.add_script_tag(content=(EXTENSION_DIR / "capture.js").read_text(encoding="utf-8"))
        return page.evaluate("(urls) => urls.map((u) => globalThis.ghostwatchCapture.kind(new URL(u)))", URLS)
    finally:
        browser.close()


def test_capture_js_kind_agrees_with_python(js_kinds):
    origins = manifest_origins()
    disagree = []
    for url, js in zip(URLS, js_kinds):
        parts = urlsplit(url)
        # The extension runs only on the manifest's origins; Python also reads
        # what a user pastes (http, lancers.jp without www, www.crowdworks.jp).
        expected = python_kind(url) if (parts.scheme, parts.hostname) in origins else None
        if js != expected:
            disagree.append((url, js, expected))
    assert disagree == []
    assert {k for k in js_kinds if k} == set(KINDS.values())  # the list exercises every kind


def test_the_manifest_covers_every_watched_page():
    origins = manifest_origins()
    for url in URLS:
        parts = urlsplit(url)
        if (parts.scheme, parts.hostname) in origins and python_kind(url):
            assert any(glob_matches(p, url) for p in manifest_matches()), url
    # ... and no origin or path the readers do not know.
    for pattern in manifest_matches():
        example = pattern.replace("*", "")
        assert any(glob_matches(pattern, u) and python_kind(u) for u in URLS), pattern
        assert urlsplit(example).hostname in {h for _, h in origins}


def test_content_script_and_worker_use_capture_js_kind():
    """No second copy of the platforms' URL patterns in the extension."""
    platform_paths = re.compile(r"mypage/message|boardId|proposals/all/working|e/contracts|crowdworks\.jp/contracts")
    for path in EXTENSION_DIR.glob("*.js"):
        if path.name != "capture.js":
            assert not platform_paths.search(path.read_text(encoding="utf-8")), path.name
