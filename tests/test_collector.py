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

from standin import key  # noqa: E402

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


def options(site, **kw) -> FetchOptions:
    base = dict(browser_args=site.offline_browser_args, ignore_https_errors=True, delay=0, backoff=0.05, timeout=10)
    base.update(kw)
    return FetchOptions(**base)


def run_fetcher(platform, profile, opts, **kw):
    """Every item the fetcher yields, and the error it raised (or None)."""
    items, error = [], None
    try:
        with contextlib.closing(collect_pages(platform, profile, opts, **kw)) as pages:
            for item in pages:
                items.append(item)
    except Exception as err:  # noqa: BLE001 - the test looks at it
        error = err
    return items, error


# --- the corpus, as the collector should find it -------------------------------------

def corpus_by_name() -> dict:
    from standin import corpus_pages

    return {f"{path.parent.name}/{path.stem}": meta for path, meta in corpus_pages()}


def listed_ids(platform: str) -> list[str]:
    """Every contract the platform's list shows, over all its pages, in order."""
    pages = corpus_by_name()
    names = ["lancers/working_list", "lancers/working_list_page2"] if platform == "lancers" else [
        "crowdworks/contracts_active"]
    return [c["contract_id"] for name in names for c in pages[name]["expected"]["contracts"]]


def thread_pages(platform: str) -> dict:
    """{contract id: corpus metadata} of the platform's thread pages."""
    return {meta["expected"]["contract_id"]: meta for name, meta in corpus_by_name().items()
            if name.startswith(platform) and meta["expected"]["page"] == "thread"
            and "contract_id" in meta["expected"]}


def lancers_card(job_id: str, title: str = "追加の仕事") -> str:
    """A working-list card of the shape the corpus' working list uses."""
    return (
        '<li class="p-mypage-work__media c-media-job"><div class="c-media-job__body">'
        '<div class="c-media-job__statuses"><span class="c-media-job__status">プロジェクト</span>'
        '<span class="c-media-job__status c-media-job__status--active">進行中</span></div>'
        f'<p class="c-media-job__title"><a class="c-link c-link--black" href="/work/detail/{job_id}">{title}</a></p>'
        "</div></li>"
    )


def with_extra_job(job_id: str) -> str:
    """Page 2 of the working list with one more job (whose board does not exist)."""
    from standin import CORPUS

    html = (CORPUS / "lancers" / "working_list_page2.html").read_text(encoding="utf-8")
    marker = '<li class="p-mypage-work__media'
    at = html.index(marker)
    return html[:at] + lancers_card(job_id) + html[at:]


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


def test_fetcher_captures_every_lancers_job_on_its_board(site, home, tmp_path):
    from collector import lancers

    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert error is None
    lists = [i for i in items if i.kind == "list"]
    assert [i.url for i in lists] == [LANCERS_LIST, LANCERS_LIST + "/page:2"]  # the pager followed
    contracts = [i for i in items if i.kind == "contract"]
    assert [c.listed.contract_id for c in contracts] == listed_ids("lancers")
    threads = thread_pages("lancers")
    for page in contracts:
        assert isinstance(page, FetchedPage) and page.status == 200 and page.attempts == 1
        board = threads[page.listed.contract_id]["expected"]["thread_id"]
        assert page.thread_id == board  # job id -> board id, through the boards list
        assert page.url == lancers.thread_url(board)
        assert page.listed.url == f"https://www.lancers.jp/work/detail/{page.listed.contract_id}"
        urls = [r["url"] for r in page.responses]
        assert urls[:2] == [lancers.board_detail_url(board), lancers.messages_url(board)]
        assert all(r["status"] == 200 for r in page.responses)
        assert page.html.startswith("<!DOCTYPE html>") and page.captured_at.tzinfo is not None
    assert_no_browser_left(home)


def test_fetcher_captures_every_crowdworks_contract_with_its_messages(site, home, tmp_path):
    from collector import crowdworks
    from standin import corpus_pages, corpus_responses

    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site))
    assert error is None
    assert [i.kind for i in items].count("list") == 1 and items[0].url == CROWDWORKS_LIST
    contracts = items[1:]
    assert [c.listed.contract_id for c in contracts] == listed_ids("crowdworks")
    threads = thread_pages("crowdworks")
    for page in contracts:
        assert isinstance(page, FetchedPage) and page.status == 200
        expected = threads[page.listed.contract_id]
        assert page.url == crowdworks.contract_url(page.listed.contract_id)
        [response] = page.responses
        assert response["url"] == crowdworks.messages_json_url(expected["expected"]["thread_id"])
        path = next(path for path, meta in corpus_pages() if meta["url"] == expected["url"])
        held = corpus_responses(path)
        assert response["status"] == (200 if held else 404)  # contract_dom_only: no messages.json
    assert_no_browser_left(home)


def test_fetcher_joins_jobs_to_boards_and_stops_when_all_are_found(site, home, tmp_path):
    from collector import lancers

    detail = lambda board: key(lancers.board_detail_url(board))  # noqa: E731
    second_page = key(lancers.boards_list_url(modified="2026-11-18 22:57:36"))
    before = {k: site.hits.get(k, 0) for k in (detail("9036609"), detail("9070022"), detail("8980457"), second_page)}
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert error is None
    hits = {k: site.hits.get(k, 0) - n for k, n in before.items()}
    # The last job's board (9036609) is the first of the list's second page ...
    assert hits[second_page] == 1 and hits[detail("9036609")] == 2  # its detail, then its capture
    # ... and no board after it is asked for.
    assert hits[detail("9070022")] == 0 and hits[detail("8980457")] == 0


def test_fetcher_reports_a_job_whose_board_is_not_found(site, home, tmp_path):
    from collector.fetch import SkippedPage

    site.route(LANCERS_LIST + "/page:2", with_extra_job("4999999"))
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert error is None
    skipped = [i for i in items if isinstance(i, SkippedPage)]
    assert [s.listed.contract_id for s in skipped] == ["4999999"]
    assert "見つかりませんでした" in skipped[0].reason
    assert sum(isinstance(i, FetchedPage) and i.kind == "contract" for i in items) == 8


def known(platform="lancers") -> dict:
    """{job id: board id} of the listed jobs, as earlier captures found them."""
    listed = listed_ids(platform)
    return {cid: meta["expected"]["thread_id"] for cid, meta in thread_pages(platform).items() if cid in listed}


def test_fetcher_uses_the_boards_it_already_knows(site, home, tmp_path):
    from collector import lancers

    first = key(lancers.boards_list_url())
    before = site.hits.get(first, 0)
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site), known_boards=known())
    assert error is None
    assert site.hits.get(first, 0) == before  # the boards list is not needed
    contracts = [i for i in items if i.kind == "contract"]
    assert [(c.listed.contract_id, c.thread_id) for c in contracts] == [
        (cid, known()[cid]) for cid in listed_ids("lancers")]


def test_fetcher_looks_up_again_a_known_board_that_names_another_job(site, home, tmp_path):
    boards = known()
    boards["4871203"] = boards["4850311"]  # stale: that board is another job's
    del boards["4839925"]  # and one job is new
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site), known_boards=boards)
    assert error is None
    contracts = [i for i in items if i.kind == "contract"]
    assert all(isinstance(c, FetchedPage) for c in contracts)
    assert sorted(c.listed.contract_id for c in contracts) == sorted(listed_ids("lancers"))  # each once
    assert (contracts[-1].listed.contract_id, contracts[-1].thread_id) == ("4871203", known()["4871203"])
    assert {c.listed.contract_id: c.thread_id for c in contracts} == known()


def test_fetcher_ends_the_join_when_the_boards_list_repeats_itself(site, home, tmp_path):
    """A boards list that ignores ``modified`` (the same page again) ends the join: the job
    whose board is on the real second page is reported, and the page is not asked for again."""
    from collector import lancers
    from collector.fetch import SkippedPage
    from standin import site_responses

    first = next(r for r in site_responses() if r["url"] == lancers.boards_list_url())
    second = lancers.boards_list_url(modified="2026-11-18 22:57:36")
    site.route_json(second, first["body"])
    before = site.hits.get(key(second), 0)
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert error is None
    assert site.hits[key(second)] - before == 1
    assert [i.listed.contract_id for i in items if isinstance(i, SkippedPage)] == ["4839925"]


def test_fetcher_says_when_the_boards_list_is_not_json(site, home, tmp_path):
    from collector import lancers

    site.route(lancers.boards_list_url(), "<!DOCTYPE html><html><body>メンテナンス中</body></html>")
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert isinstance(error, UnrecognisedList) and "JSON" in str(error)
    assert [i.kind for i in items] == ["list", "list"]  # both list pages, to be stored
    assert_no_browser_left(home)


def test_fetcher_waits_politely_between_pages_and_requests(site, home, tmp_path):
    waits = []
    sleeper = Sleeper(sleep=waits.append)
    opts = options(site, delay=2.0, jitter=0.5)
    with contextlib.closing(collect_pages("crowdworks", tmp_path / "profile", opts, sleeper)) as pages:
        items = list(pages)
    assert len(items) == 8
    assert len(waits) == 7  # between pages, not before the first
    assert all(2.0 <= w <= 3.0 for w in waits)

    waits.clear()
    with contextlib.closing(collect_pages("lancers", tmp_path / "profile", opts, sleeper)) as pages:
        items = list(pages)
    pages_waits = [w for w in waits if w >= 2.0]
    requests_waits = [w for w in waits if w < 2.0]
    # page 2 of the list, the join, then 8 boards; a quarter of the delay between JSON requests
    assert len(pages_waits) == 1 + 1 + 8 and all(w <= 3.0 for w in pages_waits)
    assert requests_waits and all(0.5 <= w <= 0.75 for w in requests_waits)


def test_fetcher_retries_a_page_that_fails_twice(site, home, tmp_path):
    url = "https://crowdworks.jp/contracts/63724402"
    site.fail(url, times=2)
    before = site.hits.get(key(url), 0)
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site, retries=2))
    assert error is None
    page = next(i for i in items if i.listed and i.listed.contract_id == "63724402")
    assert isinstance(page, FetchedPage) and page.attempts == 3 and page.status == 200
    assert site.hits[key(url)] - before == 3


def test_fetcher_retries_a_capture_whose_json_was_busy(site, home, tmp_path):
    from collector import crowdworks

    url = crowdworks.messages_json_url("304918120")
    site.fail(url, times=1)
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site, retries=2))
    assert error is None
    page = next(i for i in items if i.listed and i.listed.contract_id == "63724402")
    assert page.attempts == 2 and [r["status"] for r in page.responses] == [200]


def test_fetcher_reports_a_page_that_never_loads_and_goes_on(site, home, tmp_path):
    url = "https://crowdworks.jp/contracts/63690155"
    site.fail(url, times=None)
    site.hang_seconds = 8
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site, timeout=1.5, retries=1))
    assert error is None
    failed = [i for i in items if isinstance(i, FailedPage)]
    assert [f.listed.contract_id for f in failed] == ["63690155"]
    assert failed[0].attempts == 2 and "1.5 秒" in failed[0].error
    assert sum(isinstance(i, FetchedPage) for i in items) == 7  # the list and 6 contracts
    assert_no_browser_left(home)


def test_fetcher_does_not_retry_a_missing_page(site, home, tmp_path):
    del site.routes["crowdworks.jp/contracts/63402218"]
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site))
    assert error is None
    failed = [i for i in items if isinstance(i, FailedPage)]
    assert len(failed) == 1 and failed[0].status == 404 and failed[0].attempts == 1


@pytest.mark.parametrize("platform, login", [
    ("lancers", "/user/login"),
    ("lancers", "/user/verify_code"),  # the e-mail code
    ("lancers", "/user/reminder"),
    ("lancers", "google"),
    ("crowdworks", "/login"),
])
def test_fetcher_stops_at_the_login_page(site, home, tmp_path, platform, login):
    from standin import GOOGLE_SIGN_IN

    host = "www.lancers.jp" if platform == "lancers" else "crowdworks.jp"
    site.login_paths[host] = GOOGLE_SIGN_IN if login == "google" else login
    site.logged_out = True
    items, error = run_fetcher(platform, tmp_path / "profile", options(site))
    assert isinstance(error, NotLoggedIn), error
    assert items == []  # the login page itself is never handed on
    assert f"ghostwatch login --platform {platform}" in str(error)
    assert_no_browser_left(home)


def test_fetcher_stops_when_the_json_is_sent_to_a_login_form(site, home, tmp_path):
    from collector import crowdworks
    from standin import LOGIN_PAGE

    site.route(crowdworks.messages_json_url("304918120"), LOGIN_PAGE.format(path="/login"))  # the third
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site))
    assert isinstance(error, NotLoggedIn), error
    assert [i.listed.contract_id for i in items if i.kind == "contract"] == listed_ids("crowdworks")[:2]


def test_fetcher_stops_at_a_human_check(site, home, tmp_path):
    from collector.fetch import HumanCheck

    site.human_check = True
    items, error = run_fetcher("crowdworks", tmp_path / "profile", options(site))
    assert isinstance(error, HumanCheck), error
    assert items == []
    assert "ghostwatch login --platform crowdworks" in str(error) and "確認" in str(error)
    assert_no_browser_left(home)


def test_fetcher_yields_an_unrecognised_list_then_says_so(site, home, tmp_path):
    site.route(LANCERS_LIST, "<!DOCTYPE html><html><body><h1>メンテナンス中</h1></body></html>")
    items, error = run_fetcher("lancers", tmp_path / "profile", options(site))
    assert isinstance(error, UnrecognisedList)
    assert len(items) == 1 and items[0].kind == "list"
    assert_no_browser_left(home)


# --- ghostwatch collect ---------------------------------------------------------

import re  # noqa: E402

from server import rules  # noqa: E402


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
    assert run.returncode in (0, 3, 4), run.stderr  # 3 and 4: some contract needs action
    return {(v["platform"], v["contract_id"]): v for v in run.json()}


def test_collect_stores_every_listed_contract_with_its_verdict(site, ghostwatch, home):
    run = ghostwatch(*collect_args(site, "--platform", "all", "--json"))
    assert run.returncode == 0, run.stderr
    report = run.json()
    assert report["exit_code"] == 0
    for result in report["platforms"]:
        listed = listed_ids(result["platform"])
        assert result["listed"] == len(listed) and result["read"] == len(listed)
        assert sorted(v["contract_id"] for v in result["verdicts"]) == sorted(listed)
        assert result["failed"] == [] and result["unreadable"] == [] and result["skipped"] == []
        assert result["needing_action"] == sum(v["state"] in rules.NEEDS_ACTION for v in result["verdicts"])
    # Every listed contract's verdict is the corpus' for what the collector captured
    # (a live capture of thread_long pages back less far: the same verdict).
    checked = 0
    by_at: dict[str, dict] = {}
    for platform in ("lancers", "crowdworks"):
        threads = thread_pages(platform)
        for cid in listed_ids(platform):
            expected = threads[cid]["expected"]
            if expected["at"] not in by_at:
                by_at[expected["at"]] = statuses_at(ghostwatch, expected["at"])
            verdict = by_at[expected["at"]][(platform, cid)]
            for name, value in expected["verdict"].items():
                assert verdict[name] == value, (platform, cid, name)
            checked += 1
    assert checked == 15
    assert_no_browser_left(home)


def test_collect_stores_what_ingest_reads_from_the_corpus_capture(site, corpus, ghostwatch, home, tmp_path):
    """The collector's capture of each Lancers board is judged as the corpus' own
    capture of it is, through ``ghostwatch ingest --responses``."""
    import json

    from standin import corpus_responses

    run = ghostwatch(*collect_args(site, "--platform", "lancers"))
    assert run.returncode == 0, run.stderr
    assert "ランサーズ: 8 件中 8 件の契約を読みました" in run.stdout
    at = "2026-12-01T12:00:00+09:00"
    collected = statuses_at(ghostwatch, at)
    by_url = {meta["url"]: (path, meta) for path, meta in corpus}
    ref_db = str(tmp_path / "reference.db")
    for (platform, cid), verdict in collected.items():
        path, meta = by_url[verdict["url"]]
        responses = tmp_path / f"{cid}.responses.json"
        responses.write_text(json.dumps(corpus_responses(path)), encoding="utf-8")
        # At the collector's capture instant: both captures equally old when judged.
        ref = ghostwatch("ingest", str(path), "--url", meta["url"], "--captured-at", verdict["last_captured_at"],
                         "--responses", str(responses), "--db", ref_db)
        assert ref.returncode == 0, ref.stderr
    reference = statuses_at(ghostwatch, at, "--db", ref_db)
    assert len(collected) == 8 and set(reference) == set(collected)
    for contract, verdict in collected.items():
        for field_name in ("state", "silent_since", "last_client_message_at", "eligible_at", "deadline_at"):
            assert verdict[field_name] == reference[contract][field_name], (contract, field_name)
    # The verdicts are printed, one line each.
    assert len([line for line in run.stdout.splitlines() if line.startswith("[")]) == 8


def test_collect_again_needs_the_boards_list_only_for_new_jobs(site, ghostwatch, home):
    from collector import lancers

    first = key(lancers.boards_list_url())
    run = ghostwatch(*collect_args(site, "--platform", "lancers"))
    assert run.returncode == 0, run.stderr
    before = site.hits.get(first, 0)
    again = ghostwatch(*collect_args(site, "--platform", "lancers", "--json"))
    assert again.returncode == 0, again.stderr
    assert site.hits.get(first, 0) == before  # every job's board known from the first run
    assert again.json()["platforms"][0]["read"] == 8
    site.route(LANCERS_LIST + "/page:2", with_extra_job("4999999"))  # a new job: looked up
    third = ghostwatch(*collect_args(site, "--platform", "lancers", "--json"))
    assert site.hits.get(first, 0) == before + 1
    assert [s["contract_id"] for s in third.json()["platforms"][0]["skipped"]] == ["4999999"]


def test_collect_reports_a_job_whose_board_is_not_found(site, ghostwatch, home):
    site.route(LANCERS_LIST + "/page:2", with_extra_job("4999999"))
    run = ghostwatch(*collect_args(site, "--platform", "lancers", "--json"))
    assert run.returncode == 0, run.stderr  # not an error
    result = run.json()["platforms"][0]
    assert result["listed"] == 9 and result["read"] == 8
    assert [s["contract_id"] for s in result["skipped"]] == ["4999999"]
    stored = statuses_at(ghostwatch, "2026-11-23T00:00:00+09:00")
    assert stored[("lancers", "4999999")]["state"] == "unknown"  # known from the list


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

    # The third listed job's board.
    site.route("https://www.lancers.jp/mypage/message?boardId=9047730", LOGIN_PAGE.format(path="/user/login"))
    run = ghostwatch(*collect_args(site, "--platform", "lancers", "--json"))
    assert run.returncode == 3
    result = run.json()["platforms"][0]
    assert result["read"] == 2  # the two contracts listed before it are kept
    assert "ghostwatch login --platform lancers" in run.stderr
    assert_no_browser_left(home)


def test_collect_when_the_site_shows_a_human_check(site, ghostwatch, home):
    from collector import lancers
    from standin import HUMAN_CHECK_PAGE

    # The second listed job's messages answer a bot check.
    site.route_response(lancers.messages_url("9052215"), 403, "text/html; charset=utf-8", HUMAN_CHECK_PAGE)
    run = ghostwatch(*collect_args(site, "--platform", "lancers", "--json"))
    assert run.returncode == 8, run.stderr
    assert run.json()["platforms"][0]["read"] == 1
    assert "ghostwatch login --platform lancers" in run.stderr and "確認を済ませて" in run.stderr
    assert "g-recaptcha" not in run.stdout + run.stderr
    assert_no_browser_left(home)


def test_collect_retries_a_page_that_fails_twice(site, ghostwatch, home):
    url = "https://www.lancers.jp/mypage/message?boardId=9047730"
    site.fail(url, times=2)
    hits_before = site.hits.get(key(url), 0)
    run = ghostwatch(*collect_args(site, "--platform", "lancers", "--retries", "2", "--json"))
    assert run.returncode == 0, run.stderr
    assert site.hits[key(url)] - hits_before == 3
    verdicts = {v["contract_id"]: v for v in run.json()["platforms"][0]["verdicts"]}
    assert verdicts["4850311"]["state"] not in ("unknown", "unreadable")
    assert statuses_at(ghostwatch, "2026-11-23T00:00:00+09:00")[("lancers", "4850311")]["last_captured_at"]


def test_collect_keeps_what_it_read_when_a_page_never_loads(site, ghostwatch, home):
    url = "https://crowdworks.jp/contracts/63690155"
    site.fail(url, times=None)
    site.hang_seconds = 10
    run = ghostwatch(*collect_args(site, "--platform", "crowdworks", "--timeout", "2", "--retries", "1", "--json"))
    assert run.returncode == 4, run.stderr
    result = run.json()["platforms"][0]
    assert [f["contract_id"] for f in result["failed"]] == ["63690155"]
    assert result["failed"][0]["attempts"] == 2
    assert result["read"] == 6
    assert "1 件のページを開けませんでした" in run.stderr
    stored = statuses_at(ghostwatch, "2026-11-23T00:00:00+09:00")
    assert len(stored) == 7  # the failed one is known from the list only
    assert stored[("crowdworks", "63690155")]["state"] == "unknown"
    assert all(v["state"] != "unknown" for k, v in stored.items() if k[1] != "63690155")
    assert_no_browser_left(home)


def test_collect_all_goes_on_when_one_list_cannot_be_loaded(site, ghostwatch, home):
    site.fail(LANCERS_LIST, times=100)  # 503, again and again
    run = ghostwatch(*collect_args(site, "--platform", "all", "--retries", "1", "--json"))
    assert run.returncode == 4, run.stderr
    report = {r["platform"]: r for r in run.json()["platforms"]}
    assert report["lancers"]["exit_code"] == 4 and report["lancers"]["read"] == 0
    assert report["lancers"]["failed"][0]["error"] == "HTTP 503"
    assert report["crowdworks"]["exit_code"] == 0 and report["crowdworks"]["read"] == 7
    assert "ランサーズの契約一覧を開けませんでした（2 回試行）: HTTP 503" in run.stderr


def test_collect_with_no_open_contracts(site, ghostwatch, home):
    from standin import CORPUS

    site.route(CROWDWORKS_LIST, (CORPUS / "crowdworks" / "contracts_active_empty.html").read_bytes())
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
    site.route("https://crowdworks.jp/contracts/63655031",
               "<!DOCTYPE html><html><body><div id='app'>新しい画面</div></body></html>")
    run = ghostwatch(*collect_args(site, "--platform", "crowdworks", "--timeout", "3", "--json"))
    assert run.returncode == 6, run.stderr
    result = run.json()["platforms"][0]
    assert [u["contract_id"] for u in result["unreadable"]] == ["63655031"]
    assert result["read"] == 6
    stored = statuses_at(ghostwatch, "2026-11-23T00:00:00+09:00")
    assert stored[("crowdworks", "63655031")]["state"] == "unreadable"
    assert "reparse" in run.stderr


def test_collect_help_documents_the_exit_codes(ghostwatch):
    run = ghostwatch("collect", "--help")
    assert run.returncode == 0
    for code in ("0", "3", "4", "5", "6", "7", "8"):
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
    assert after.json()["platforms"][0]["read"] == 7
    assert_no_browser_left(home)


def test_login_waits_until_a_human_check_is_passed(site, home):
    """`ghostwatch login` is where the user passes a human check: it does not close the
    window while the site shows one."""
    import subprocess
    import sys

    site.require_session = True
    site.auto_login = True
    site.human_check = True  # after the login form, the site asks for a human check
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "login", "--platform", "lancers", "--headless", "--wait", "1",
         f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors"],
        cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "GHOSTWATCH_HOME": str(home)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(6)
        assert proc.poll() is None, proc.communicate()  # still waiting for the check
        site.human_check = False  # the user passed it; the page reloads into the site
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "ログインしました" in out
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
    assert result.platform == "crowdworks" and result.exit_code == 0 and result.read == 7
    with Store(db) as store:
        assert len(store.contracts()) == 7
    assert_no_browser_left(home)


def test_stopping_the_schedule_ends_a_collect_in_progress(site, home):
    from server import schedule

    site.fail("https://www.lancers.jp/mypage/message?boardId=9061183", times=None)
    site.hang_seconds = 20
    settings = {
        "collect_interval_minutes": 30,
        "collect_platforms": ["lancers"],
        "collect_args": [f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors",
                         "--delay", "0", "--timeout", "15"],
    }
    key = "www.lancers.jp/mypage/message?boardId=9061183"
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

    key = "www.lancers.jp/mypage/message?boardId=9047730"  # the third listed job's board
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
