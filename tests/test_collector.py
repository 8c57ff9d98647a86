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


def test_fetcher_does_not_depend_on_the_server():
    import subprocess
    import sys

    code = ("import sys, collector.fetch, collector.browser; "
            "bad = sorted(m for m in sys.modules if m == 'server' or m.startswith('server.')); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


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


def test_fetcher_follows_the_pager_of_a_long_list(site, corpus, home, tmp_path):
    from standin import CORPUS

    page1 = (CORPUS / "lancers" / "working_list.html").read_text(encoding="utf-8")
    pager = '<nav class="c-pager"><a class="c-pager__next" rel="next" href="/mypage/proposals/all/working?page=2">次へ</a></nav>'
    site.route(LANCERS_LIST, page1.replace('<p class="p-mypage-work__count">', pager + '<p class="p-mypage-work__count">', 1))
    # The second page lists one more contract (a copy of a corpus thread under another id).
    page2 = page1.replace("boardId=5203118", "boardId=5300001")
    start, end = page2.index('<ul class="p-mypage-work__list">'), page2.index("</ul>", page2.index("boardId=5300001"))
    first_item_end = page2.index("</li>", page2.index("boardId=5300001")) + len("</li>")
    page2 = page2[:start] + '<ul class="p-mypage-work__list">' + page2[page2.index("<li", start):first_item_end] + page2[end:]
    site.route(LANCERS_LIST + "?page=2", page2)
    thread = (CORPUS / "lancers" / "thread_recent.html").read_text(encoding="utf-8")
    site.route("https://www.lancers.jp/mypage/message?boardId=5300001", thread.replace("5203118", "5300001"))

    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert error is None
    assert [i.url for i in items if i.kind == "list"] == [LANCERS_LIST, LANCERS_LIST + "?page=2"]
    contracts = [i.listed.contract_id for i in items if i.kind == "contract"]
    assert contracts[-1] == "5300001" and len(contracts) == 8
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


# --- ghostwatch collect ---------------------------------------------------------

import re  # noqa: E402

from collector.lancers import resolve_time  # noqa: E402
from collector.timeutil import parse_instant  # noqa: E402

LANCERS_TIME = re.compile(r'(<time class="p-message-list__time">)([^<]+)(</time>)')


def absolute_dates(html: str, captured_at: str) -> str:
    """A Lancers thread whose relative times (今日, 昨日, 11月12日) are written out
    in full, as they read at ``captured_at``: the same page, whenever it is fetched."""
    at = parse_instant(captured_at)

    def full(m):
        t = resolve_time(m.group(2), at)
        return f"{m.group(1)}{t.year}年{t.month}月{t.day}日 {t.hour:02d}:{t.minute:02d}{m.group(3)}"

    return LANCERS_TIME.sub(full, html)


def collect_args(site, *extra):
    return (
        "collect",
        f"--browser-arg={site.offline_browser_args[0]}",
        "--ignore-https-errors",
        "--delay", "0",
        "--backoff", "0.05",
        *extra,
    )


def statuses_at(ghostwatch, at: str, *db) -> dict:
    run = ghostwatch("status", "--json", "--at", at, *db)
    assert run.returncode == 0, run.stderr
    return {(v["platform"], v["contract_id"]): v for v in run.json()}


def test_collect_stores_every_listed_contract_with_its_verdict(site, corpus, ghostwatch, home):
    # Lancers' relative times are pinned to the corpus' capture instants, so
    # that the pages read the same now as when they were saved.
    for html_path, meta in corpus:
        if meta["url"].startswith("https://www.lancers.jp/mypage/message"):
            site.route(meta["url"], absolute_dates(html_path.read_text(encoding="utf-8"), meta["captured_at"]))
    run = ghostwatch(*collect_args(site, "--platform", "all", "--json"))
    assert run.returncode == 0, run.stderr
    report = run.json()
    assert report["exit_code"] == 0
    lists = {meta["url"]: meta for _, meta in corpus if meta["expected"]["page"] == "contract_list"}
    for result in report["platforms"]:
        listed = [c["contract_id"] for c in lists[LIST_URLS[result["platform"]]]["expected"]["contracts"]]
        assert result["listed"] == len(listed) and result["read"] == len(listed)
        assert sorted(v["contract_id"] for v in result["verdicts"]) == sorted(listed)
        assert result["failed"] == [] and result["unreadable"] == []
        assert result["needing_action"] == sum(v["state"] in ("overdue", "eligible", "nudge", "unreadable")
                                               for v in result["verdicts"])
    # Every corpus verdict holds for what the collector stored.
    checked = 0
    for _, meta in corpus:
        expected = meta["expected"]
        if "verdict" not in expected or expected["page"] != "thread":
            continue
        platform = "lancers" if "lancers.jp" in meta["url"] else "crowdworks"
        listed_ids = [c["contract_id"] for c in lists[LIST_URLS[platform]]["expected"]["contracts"]]
        if expected["contract_id"] not in listed_ids:
            continue
        verdict = statuses_at(ghostwatch, expected["at"])[(platform, expected["contract_id"])]
        for key, value in expected["verdict"].items():
            assert verdict[key] == value, (meta["url"], key)
        checked += 1
    assert checked >= 8
    assert_no_browser_left(home)


def test_collect_stores_what_ingest_reads_from_the_same_bytes(site, corpus, ghostwatch, home, tmp_path):
    """The pages as saved (relative times): the collector's snapshot is read
    against the instant it was captured, exactly as ``ghostwatch ingest`` would."""
    run = ghostwatch(*collect_args(site, "--platform", "lancers"))
    assert run.returncode == 0, run.stderr
    assert "ランサーズ: 7 件中 7 件の契約を読みました" in run.stdout
    at = "2026-12-01T12:00:00+09:00"
    collected = statuses_at(ghostwatch, at)
    by_url = {meta["url"]: path for path, meta in corpus}
    ref_db = str(tmp_path / "reference.db")
    compared = 0
    for (platform, cid), verdict in collected.items():
        path = by_url[f"https://www.lancers.jp/mypage/message?boardId={cid}"]
        ref = ghostwatch("ingest", str(path), "--url", verdict["url"], "--captured-at",
                         verdict["last_captured_at"], "--db", ref_db)
        assert ref.returncode == 0, ref.stderr
        compared += 1
    reference = statuses_at(ghostwatch, at, "--db", ref_db)
    assert compared == 7 and set(reference) == set(collected)
    for key, verdict in collected.items():
        for field_name in ("state", "silent_since", "last_client_message_at", "eligible_at", "deadline_at"):
            assert verdict[field_name] == reference[key][field_name], (key, field_name)
    # The verdicts are printed, one line each.
    assert len([line for line in run.stdout.splitlines() if line.startswith("[")]) == 7


def test_collect_when_the_session_expired(site, ghostwatch, home):
    site.logged_out = True
    run = ghostwatch(*collect_args(site, "--platform", "crowdworks"))
    assert run.returncode == 3
    assert "ログインしていません" in run.stderr
    assert "ghostwatch login --platform crowdworks" in run.stderr
    assert "<form" not in run.stdout + run.stderr  # no page body in the output
    assert statuses_at(ghostwatch, "2026-11-23T00:00:00+09:00") == {}
    assert_no_browser_left(home)


def test_collect_when_a_login_form_is_shown_in_place_of_a_page(site, ghostwatch, home):
    from standin import LOGIN_PAGE

    site.route("https://www.lancers.jp/mypage/message?boardId=5198842", LOGIN_PAGE.format(path="/user/login"))
    run = ghostwatch(*collect_args(site, "--platform", "lancers", "--json"))
    assert run.returncode == 3
    result = run.json()["platforms"][0]
    assert result["read"] == 2  # the two contracts listed before it are kept
    assert "ghostwatch login --platform lancers" in run.stderr
    assert_no_browser_left(home)


def test_collect_retries_a_page_that_fails_twice(site, ghostwatch, home):
    url = "https://www.lancers.jp/mypage/message?boardId=5198842"
    site.fail(url, times=2)
    hits_before = site.hits.get("www.lancers.jp/mypage/message?boardId=5198842", 0)
    run = ghostwatch(*collect_args(site, "--platform", "lancers", "--retries", "2", "--json"))
    assert run.returncode == 0, run.stderr
    assert site.hits["www.lancers.jp/mypage/message?boardId=5198842"] - hits_before == 3
    verdicts = {v["contract_id"]: v for v in run.json()["platforms"][0]["verdicts"]}
    assert verdicts["5198842"]["state"] not in ("unknown", "unreadable")
    assert statuses_at(ghostwatch, "2026-11-23T00:00:00+09:00")[("lancers", "5198842")]["last_captured_at"]


def test_collect_keeps_what_it_read_when_a_page_never_loads(site, ghostwatch, home):
    url = "https://crowdworks.jp/contracts/11873402"
    site.fail(url, times=None)
    site.hang_seconds = 10
    run = ghostwatch(*collect_args(site, "--platform", "crowdworks", "--timeout", "2", "--retries", "1", "--json"))
    assert run.returncode == 4, run.stderr
    result = run.json()["platforms"][0]
    assert [f["contract_id"] for f in result["failed"]] == ["11873402"]
    assert result["failed"][0]["attempts"] == 2
    assert result["read"] == 5
    assert "1 件のページを開けませんでした" in run.stderr
    stored = statuses_at(ghostwatch, "2026-11-23T00:00:00+09:00")
    assert len(stored) == 6  # the failed one is known from the list only
    assert stored[("crowdworks", "11873402")]["state"] == "unknown"
    assert all(v["state"] != "unknown" for k, v in stored.items() if k[1] != "11873402")
    assert_no_browser_left(home)


def test_collect_all_goes_on_when_one_list_cannot_be_loaded(site, ghostwatch, home):
    site.fail(LANCERS_LIST, times=100)  # 503, again and again
    run = ghostwatch(*collect_args(site, "--platform", "all", "--retries", "1", "--json"))
    assert run.returncode == 4, run.stderr
    report = {r["platform"]: r for r in run.json()["platforms"]}
    assert report["lancers"]["exit_code"] == 4 and report["lancers"]["read"] == 0
    assert report["lancers"]["failed"][0]["error"] == "HTTP 503"
    assert report["crowdworks"]["exit_code"] == 0 and report["crowdworks"]["read"] == 6
    assert "ランサーズの契約一覧を開けませんでした（2 回試行）: HTTP 503" in run.stderr


def test_collect_with_no_open_contracts(site, ghostwatch, home):
    site.route(CROWDWORKS_LIST, "<!DOCTYPE html><html><body><main><p>契約中の仕事はありません</p></main></body></html>")
    run = ghostwatch(*collect_args(site, "--platform", "crowdworks"))
    assert run.returncode == 0, run.stderr
    assert "クラウドワークス: 進行中の契約はありません" in run.stdout


def test_collect_an_unrecognised_list_page(site, ghostwatch, home):
    site.route(CROWDWORKS_LIST, "<!DOCTYPE html><html><body><p>ただいまメンテナンス中です</p></body></html>")
    run = ghostwatch(*collect_args(site, "--platform", "crowdworks"))
    assert run.returncode == 5
    assert "契約一覧ページを認識できません" in run.stderr
    assert_no_browser_left(home)


def test_collect_an_unreadable_contract_page(site, ghostwatch, home):
    site.route("https://crowdworks.jp/contracts/11655031",
               "<!DOCTYPE html><html><body><div id='app'>新しい画面</div></body></html>")
    run = ghostwatch(*collect_args(site, "--platform", "crowdworks", "--json"))
    assert run.returncode == 6, run.stderr
    result = run.json()["platforms"][0]
    assert [u["contract_id"] for u in result["unreadable"]] == ["11655031"]
    assert result["read"] == 5
    stored = statuses_at(ghostwatch, "2026-11-23T00:00:00+09:00")
    assert stored[("crowdworks", "11655031")]["state"] == "unreadable"
    assert "reparse" in run.stderr


def test_collect_help_documents_the_exit_codes(ghostwatch):
    run = ghostwatch("collect", "--help")
    assert run.returncode == 0
    for code in ("0", "3", "4", "5", "6", "7"):
        assert re.search(rf"^\s+{code}\s", run.stdout, re.M), code
    for option in ("--browser-path", "GHOSTWATCH_BROWSER", "--browser-arg", "--ignore-https-errors",
                   "--headed", "--delay", "--timeout", "--retries", "--db", "--profile-dir"):
        assert option in run.stdout


def test_collect_with_a_browser_that_does_not_exist(site, ghostwatch, home):
    run = ghostwatch(*collect_args(site, "--platform", "lancers", "--browser-path", str(home / "no-chromium")))
    assert run.returncode == 7
    assert "ブラウザが見つかりません" in run.stderr


# --- ghostwatch login ------------------------------------------------------------


def test_login_then_collect_uses_the_saved_session(site, ghostwatch, home):
    site.require_session = True
    before = ghostwatch(*collect_args(site, "--platform", "crowdworks"))
    assert before.returncode == 3, before.stderr

    # The stand-in's login page submits itself, as a user logging in would.
    site.auto_login = True
    login = ghostwatch("login", "--platform", "crowdworks", "--headless", "--wait", "1",
                       f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors")
    assert login.returncode == 0, login.stderr
    assert "ログインしました" in login.stdout
    assert "gw_session" not in login.stdout + login.stderr  # cookies never printed
    profile = home / "profiles" / "crowdworks"
    assert profile.is_dir() and (profile.stat().st_mode & 0o777) == 0o700
    assert_no_browser_left(home)

    site.auto_login = False
    after = ghostwatch(*collect_args(site, "--platform", "crowdworks", "--json"))
    assert after.returncode == 0, after.stderr
    assert after.json()["platforms"][0]["read"] == 6
    assert_no_browser_left(home)


def test_login_gives_up_when_nobody_logs_in(site, ghostwatch, home):
    site.require_session = True
    run = ghostwatch("login", "--platform", "lancers", "--headless", "--wait", "0.05",
                     f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors")
    assert run.returncode == 3
    assert "ログインは完了していません" in run.stderr
    assert_no_browser_left(home)


# --- collecting on a schedule (ghostwatch serve) ---------------------------------


def test_schedule_is_off_by_default(home):
    from server import schedule

    stop = schedule.start(home / "ghostwatch.db", {})
    stop()
    stop = schedule.start(home / "ghostwatch.db", {"collect_interval_minutes": 0})
    assert not isinstance(stop, schedule.Scheduler)
    assert stop.results == [] and not stop.running
    stop()


def test_schedule_collects_right_away_then_stops_cleanly(site, home):
    from server import schedule
    from server.store import Store

    db = home / "ghostwatch.db"
    settings = {
        "collect_interval_minutes": 30,
        "collect_platforms": ["crowdworks"],
        "collect_args": [f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors",
                         "--delay", "0"],
    }
    stop = schedule.start(db, settings)
    try:
        deadline = time.monotonic() + 60
        while not stop.results and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop()
    assert not stop.running
    [result] = stop.results
    assert result.platform == "crowdworks" and result.exit_code == 0 and result.read == 6
    with Store(db) as store:
        assert len(store.contracts()) == 6
    assert_no_browser_left(home)


def test_stopping_the_schedule_ends_a_collect_in_progress(site, home):
    from server import schedule

    site.fail("https://www.lancers.jp/mypage/message?boardId=5012876", times=None)
    site.hang_seconds = 20
    settings = {
        "collect_interval_minutes": 30,
        "collect_platforms": ["lancers"],
        "collect_args": [f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors",
                         "--delay", "0", "--timeout", "15"],
    }
    key = "www.lancers.jp/mypage/message?boardId=5012876"
    hits_before = site.hits.get(key, 0)
    stop = schedule.start(home / "ghostwatch.db", settings)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the browser waits on the hung page
        if site.hits.get(key, 0) > hits_before:
            break
        time.sleep(0.1)
    assert processes_with_env("GHOSTWATCH_HOME", str(home)), "the collect should be running"
    started = time.monotonic()
    stop()
    assert time.monotonic() - started < 15
    assert not stop.running
    assert stop.results and stop.results[0].exit_code == 130
    assert_no_browser_left(home)


# --- the browser is always closed ----------------------------------------------------


def test_collect_while_the_profile_is_in_use(site, ghostwatch, home):
    from collector.fetch import Browser

    with Browser(home / "profiles" / "lancers", options(site)):
        run = ghostwatch(*collect_args(site, "--platform", "lancers"))
    assert run.returncode == 7
    assert "使用中" in run.stderr
    assert_no_browser_left(home)


def test_ctrl_c_closes_the_browser_and_keeps_what_was_read(site, home):
    import signal
    import subprocess
    import sys

    key = "www.lancers.jp/mypage/message?boardId=5198842"  # the third listed contract
    site.fail("https://" + key, times=None)
    site.hang_seconds = 20
    hits_before = site.hits.get(key, 0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", *collect_args(site, "--platform", "lancers", "--timeout", "15")],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "GHOSTWATCH_HOME": str(home)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while site.hits.get(key, 0) == hits_before and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "中断しました" in err
    assert out.count("[") >= 2  # the two contracts read before stay printed ...
    from server.store import Store

    with Store(home / "ghostwatch.db") as store:  # ... and stored
        read = [c for c in store.contracts() if c.get("last_captured_at")]
    assert len(read) >= 2
    assert_no_browser_left(home)
