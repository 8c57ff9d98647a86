"""The collector: the Playwright fetcher, ``ghostwatch login`` and ``ghostwatch collect``.

Real Chromium, real HTTPS stand-in of both platforms at their real URLs
(``tests/standin.py``), real SQLite; nothing mocked.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from collector.fetch import (
    FailedPage,
    FetchedPage,
    FetchOptions,
    NotLoggedIn,
    Sleeper,
    UnrecognisedList,
    collect_pages,
)

pytestmark = pytest.mark.browser

LANCERS_LIST = "https://www.lancers.jp/mypage/proposals/all/working"
CROWDWORKS_LIST = "https://crowdworks.jp/e/contracts?status=active"
LIST_URLS = {"lancers": LANCERS_LIST, "crowdworks": CROWDWORKS_LIST}


# --- helpers ----------------------------------------------------------------


def processes_with_env(name: str, value: str) -> list[int]:
    """Live processes (not zombies) whose environment holds NAME=VALUE.

    Chromium and every helper it forks inherit the environment of the
    ``ghostwatch`` run (or of this test, for in-process runs), so a unique
    GHOSTWATCH_HOME finds every process a run started, even orphans.
    """
    needle = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def assert_no_browser_left(home: Path, grace: float = 5.0) -> None:
    deadline = time.monotonic() + grace
    while True:
        left = processes_with_env("GHOSTWATCH_HOME", str(home))
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    details = []
    for pid in left:
        with contextlib.suppress(OSError):
            details.append((pid, Path(f"/proc/{pid}/cmdline").read_bytes()[:200]))
    assert not left, f"processes of this run still alive: {details}"


@pytest.fixture
def site(standin):
    """The session's stand-in, restored after the test (it is shared)."""
    routes = dict(standin.routes)
    yield standin
    standin.routes.clear()
    standin.routes.update(routes)
    standin.failures.clear()
    standin.logged_out = False
    standin.require_session = False
    standin.auto_login = False
    standin.hang_seconds = 30.0


def options(site, **kw) -> FetchOptions:
    base = dict(browser_args=site.offline_browser_args, ignore_https_errors=True, delay=0, backoff=0.05, timeout=10)
    base.update(kw)
    return FetchOptions(**base)


def run_fetcher(platform, profile, opts):
    """Every item the fetcher yields, and the error it raised (or None)."""
    items, error = [], None
    try:
        with contextlib.closing(collect_pages(platform, profile, opts)) as pages:
            for item in pages:
                items.append(item)
    except Exception as err:  # noqa: BLE001 - the test looks at it
        error = err
    return items, error


# --- the fetcher --------------------------------------------------------------


@pytest.mark.parametrize("platform", ["lancers", "crowdworks"])
def test_fetcher_follows_every_listed_contract(site, corpus, home, tmp_path, platform):
    listed = next(meta for _, meta in corpus if meta["url"] == LIST_URLS[platform])
    items, error = run_fetcher(platform, tmp_path / "profile", options(site))
    assert error is None
    assert items[0].kind == "list" and isinstance(items[0], FetchedPage)
    assert items[0].url == listed["url"]
    ids = [c["contract_id"] for c in listed["expected"]["contracts"]]
    contracts = items[1:]
    assert [c.listed.contract_id for c in contracts] == ids
    assert all(isinstance(c, FetchedPage) and c.status == 200 and c.attempts == 1 for c in contracts)
    for page in contracts:
        assert page.listed.contract_id in page.url
        assert "<html" in page.html
        assert page.captured_at.tzinfo is not None
    assert_no_browser_left(home)


def test_fetcher_waits_politely_between_pages(site, home, tmp_path):
    waits = []
    sleeper = Sleeper(sleep=waits.append)
    opts = options(site, delay=2.0, jitter=0.5)
    with contextlib.closing(collect_pages("crowdworks", tmp_path / "profile", opts, sleeper)) as pages:
        items = list(pages)
    assert len(items) == 7
    assert len(waits) == 6  # between pages, not before the first
    assert all(2.0 <= w <= 3.0 for w in waits)


def test_fetcher_retries_a_page_that_fails_twice(site, home, tmp_path):
    url = "https://crowdworks.jp/contracts/11842267"
    site.fail(url, times=2)
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site, retries=2))
    assert error is None
    page = next(i for i in items if i.listed and i.listed.contract_id == "11842267")
    assert isinstance(page, FetchedPage) and page.attempts == 3 and page.status == 200
    assert site.hits["crowdworks.jp/contracts/11842267"] >= 3


def test_fetcher_reports_a_page_that_never_loads_and_goes_on(site, home, tmp_path):
    url = "https://crowdworks.jp/contracts/11790155"
    site.fail(url, times=None)
    site.hang_seconds = 8
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site, timeout=1.5, retries=1))
    assert error is None
    failed = [i for i in items if isinstance(i, FailedPage)]
    assert [f.listed.contract_id for f in failed] == ["11790155"]
    assert failed[0].attempts == 2 and "1.5 秒" in failed[0].error
    assert sum(isinstance(i, FetchedPage) for i in items) == 6  # the list and 5 contracts
    assert_no_browser_left(home)


def test_fetcher_does_not_retry_a_missing_page(site, home, tmp_path):
    del site.routes["crowdworks.jp/contracts/11402218"]
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site))
    assert error is None
    failed = [i for i in items if isinstance(i, FailedPage)]
    assert len(failed) == 1 and failed[0].status == 404 and failed[0].attempts == 1


def test_fetcher_stops_at_the_login_page(site, home, tmp_path):
    site.logged_out = True
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert isinstance(error, NotLoggedIn)
    assert items == []  # the login page itself is never handed on
    assert "ghostwatch login --platform lancers" in str(error)
    assert_no_browser_left(home)


def test_fetcher_yields_an_unrecognised_list_then_says_so(site, home, tmp_path):
    site.route(LANCERS_LIST, "<!DOCTYPE html><html><body><h1>メンテナンス中</h1></body></html>")
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert isinstance(error, UnrecognisedList)
    assert len(items) == 1 and items[0].kind == "list"
    assert_no_browser_left(home)
