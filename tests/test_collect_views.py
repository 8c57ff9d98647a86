"""The web view's 「更新と自動収集」 (``server/collect_views.py``): 「いま更新」 runs the
collector for the platforms that have a logged-in profile, with progress, and the
collection schedule is set from the page.

Real ``ghostwatch serve`` over HTTP, real SQLite, real Chromium (the collector's,
and the page's in pytest-playwright), the HTTPS stand-in of both platforms at their
real URLs (``tests/standin.py``); nothing mocked.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

import pytest
from playwright.sync_api import expect

from conftest import start_server, stop_server
from test_collector import assert_no_browser_left, listed_ids

pytestmark = pytest.mark.browser


# --- helpers --------------------------------------------------------------------


class Session:
    """The web view as a signed-in browser uses it: the session cookie, and posts
    from the page's own origin (or another one)."""

    def __init__(self, server):
        self.server = server
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with self.opener.open(f"{server.url}/?token={server.token}", timeout=30) as resp:
            assert resp.status == 200

    def get(self, path):
        try:
            with self.opener.open(self.server.url + path, timeout=30) as resp:
                return resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8")

    def status(self) -> dict:
        code, body = self.get("/collect/status")
        assert code == 200, body
        return json.loads(body)

    def post(self, path, fields=(), origin=None):
        data = urllib.parse.urlencode(list(fields)).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Origin": origin or f"http://127.0.0.1:{self.server.port}"}
        req = urllib.request.Request(self.server.url + path, data=data, method="POST", headers=headers)
        try:
            with self.opener.open(req, timeout=30) as resp:  # a 303 is followed, as a browser does
                return resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8")


def standin_args(site, *extra) -> list[str]:
    return [f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors",
            "--delay", "0", "--backoff", "0.05", *extra]


def write_settings(home, settings: dict) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.json").write_text(json.dumps(settings), encoding="utf-8")


def log_in(site, ghostwatch, platform: str) -> None:
    """``ghostwatch login`` as the user does it (the stand-in's login form submits itself)."""
    site.require_session = True
    site.auto_login = True
    run = ghostwatch("login", "--platform", platform, "--headless", "--wait", "1",
                     f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors")
    assert run.returncode == 0, run.stderr
    site.auto_login = False


def wait_until_done(session, timeout=120) -> tuple[dict, list[dict]]:
    """Poll /collect/status until the run is done: (the last answer, every answer)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = session.status()
        seen.append(status)
        if status["run"] and status["run"]["done"] and not status["busy"]:
            return status, seen
        time.sleep(0.3)
    raise AssertionError(f"the run did not end in {timeout} s: {seen[-1]}")


@pytest.fixture
def chromium():
    """A Chromium of this test's own, closed after it (not pytest-playwright's
    session-wide one: its asyncio loop would stay running into test_collector.py,
    whose fetcher drives Playwright's sync API in this process)."""
    from playwright.sync_api import sync_playwright

    from conftest import chromium_path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    yield context.new_page()
    context.close()


@pytest.fixture
def server_factory(home):
    started = []

    def start(settings: dict | None = None):
        if settings is not None:
            write_settings(home, settings)
        server = start_server(home)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_server(server)


# --- 「いま更新」 ---------------------------------------------------------------


def test_collect_now_reads_the_logged_in_platform_with_progress_on_the_page(site, ghostwatch, home, page,
                                                                            server_factory):
    log_in(site, ghostwatch, "crowdworks")  # Lancers: no profile
    assert not (home / "profiles" / "lancers").exists()
    server = server_factory({"collect_args": standin_args(site), "user_name": "山田 花子"})

    page.goto(f"{server.url}/collect?token={server.token}")
    expect(page.locator("h1")).to_have_text("更新と自動収集")
    expect(page.locator("#profiles li[data-platform=lancers]")).to_contain_text("ghostwatch login --platform lancers")
    expect(page.locator("#profiles li[data-platform=lancers]")).to_contain_text("更新しません")
    expect(page.locator("#profiles li[data-platform=crowdworks]")).to_contain_text("ログイン済み")
    expect(page.locator("#run-summary")).to_have_text("まだ実行していません。")

    page.locator("#collect-now").click()
    page.wait_for_url("**/collect?started=1#progress")
    page.evaluate("window.ghostwatchNoReload = true")  # gone if the page reloads
    crowdworks = page.locator("#run-platforms li[data-platform=crowdworks]")
    expect(crowdworks).to_have_attribute("data-state", "done", timeout=120_000)
    count = len(listed_ids("crowdworks"))
    expect(crowdworks).to_contain_text("完了")
    expect(crowdworks).to_contain_text(f"{count}件中 {count}件を読み取り")
    expect(page.locator("#run-platforms li[data-platform=lancers]")).to_have_count(0)  # not run
    expect(page.locator("#run-summary")).to_contain_text("いま更新")
    expect(page.locator("#run-summary")).to_contain_text("終わりました")
    expect(page.locator("#collect-now")).to_be_enabled()
    assert page.evaluate("window.ghostwatchNoReload") is True  # polled, not reloaded

    # The API lists the corpus' contracts, with their ids; Lancers was not touched.
    status, answer = server.json("GET", "/api/contracts")
    assert status == 200
    ids = sorted(v["contract_id"] for v in answer["contracts"] if v["platform"] == "crowdworks")
    assert ids == sorted(listed_ids("crowdworks"))
    assert not [v for v in answer["contracts"] if v["platform"] == "lancers"]
    assert not (home / "profiles" / "lancers").exists()

    # The list shows the new verdicts.
    page.locator("#run-done a").click()
    expect(page.locator("h1")).to_contain_text("契約一覧")
    for cid in listed_ids("crowdworks"):
        expect(page.locator(f"a[href='/contracts/crowdworks/{cid}']").first).to_be_visible()

    # A reload shows the finished run as the page left it.
    page.goto(f"{server.url}/collect")
    expect(page.locator("#run-platforms li[data-platform=crowdworks]")).to_contain_text(f"{count}件中 {count}件を読み取り")


def test_progress_moves_from_running_to_done_and_a_second_run_is_refused(site, ghostwatch, home, server_factory):
    log_in(site, ghostwatch, "crowdworks")
    # One contract page hangs for a while, then fails (no retry): the run lasts, and ends with exit 4.
    slow = listed_ids("crowdworks")[2]
    site.fail(f"https://crowdworks.jp/contracts/{slow}", times=None)
    site.hang_seconds = 6
    server = server_factory({"collect_args": standin_args(site, "--retries", "0", "--timeout", "10")})
    session = Session(server)

    code, body = session.post("/collect/now")
    assert code == 200 and "いま更新" in body
    first = session.status()
    assert first["busy"] is True
    assert [p["platform"] for p in first["run"]["platforms"]] == ["crowdworks"]

    # A second 「いま更新」 while the first runs is refused, and says so.
    code, body = session.post("/collect/now")
    assert code == 409
    assert "実行中" in body

    running = None
    deadline = time.monotonic() + 60
    while running is None and time.monotonic() < deadline:
        part = session.status()["run"]["platforms"][0]
        if part["state"] == "running":
            running = part
        time.sleep(0.2)
    assert running is not None
    assert running["text"].startswith("実行中（") and "から）" in running["text"]
    assert datetime.fromisoformat(running["started_at"])

    done, seen = wait_until_done(session)
    states = [s["run"]["platforms"][0]["state"] for s in seen]
    assert "running" in states and states[-1] == "done"
    assert states.index("running") < states.index("done")
    part = done["run"]["platforms"][0]
    assert part["exit_code"] == 4
    assert part["meaning"].startswith("再試行しても開けないページがありました")
    assert "終了コード 4" in part["text"]
    count = len(listed_ids("crowdworks"))
    assert part["listed"] == count and part["read"] == count - 1

    # Once done, a new run may start.
    site.failures.clear()
    code, _ = session.post("/collect/now")
    assert code == 200
    done, _ = wait_until_done(session)
    assert done["run"]["platforms"][0]["exit_code"] == 0


def test_without_a_profile_nothing_runs(home, server_factory):
    server = server_factory({})
    session = Session(server)
    code, body = session.post("/collect/now")
    assert code == 409
    assert "ghostwatch login --platform lancers" in body
    status = session.status()
    assert status["run"] is None and status["busy"] is False
    assert [p["logged_in"] for p in status["profiles"]] == [False, False]
    assert not (home / "profiles").exists()  # looking never makes a profile


def test_stopping_the_server_ends_a_run_the_page_started(site, ghostwatch, home, server_factory):
    log_in(site, ghostwatch, "crowdworks")
    site.fail(f"https://crowdworks.jp/contracts/{listed_ids('crowdworks')[0]}", times=None)
    site.hang_seconds = 20
    server = server_factory({"collect_args": standin_args(site, "--timeout", "25")})
    session = Session(server)
    assert session.post("/collect/now")[0] == 200
    deadline = time.monotonic() + 30
    while session.status()["run"]["platforms"][0]["state"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # the browser is on the hung page
    stop_server(server)
    assert server.process.returncode == 0
    assert_no_browser_left(home)


# --- the schedule -------------------------------------------------------------


def settings_file(home) -> dict:
    path = home / "settings.json"
    assert (path.stat().st_mode & 0o777) == 0o600
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_schedule_form_saves_applies_and_shows_the_schedule(home, page, server_factory):
    server = server_factory({"user_name": "山田 花子"})
    page.goto(f"{server.url}/collect?token={server.token}")
    expect(page.locator("#schedule-text")).to_have_text("自動収集はオフです。")

    # Every 3 hours, CrowdWorks only.
    page.locator("#schedule-enabled").check()
    page.locator("#schedule-every").select_option("180")
    page.locator("#schedule-platforms input[value=lancers]").uncheck()
    page.locator("#schedule-form button[type=submit]").click()
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#schedule-text")).to_contain_text("クラウドワークスを3時間ごとに収集します（次回:")
    stored = settings_file(home)
    assert stored["collect_interval_minutes"] == 180 and stored["collect_platforms"] == ["crowdworks"]
    assert stored["collect_enabled"] is True and stored["user_name"] == "山田 花子"  # other settings kept

    # Applied to the running server's scheduler, at once: no run now, the next in 3 hours.
    session = Session(server)
    schedule = session.status()["schedule"]
    assert schedule["enabled"] and schedule["platforms"] == ["crowdworks"] and schedule["minutes"] == 180
    ahead = (datetime.fromisoformat(schedule["next_at"]) - datetime.now().astimezone()).total_seconds()
    assert 3 * 3600 - 60 < ahead <= 3 * 3600
    assert session.status()["busy"] is False
    code, index = session.get("/")
    assert "クラウドワークスを3時間ごと" in index and "停止中" not in index  # what the list says

    # Shown again on reload.
    page.reload()
    expect(page.locator("#schedule-enabled")).to_be_checked()
    expect(page.locator("#schedule-every")).to_have_value("180")
    expect(page.locator("#schedule-platforms input[value=lancers]")).not_to_be_checked()
    expect(page.locator("#schedule-platforms input[value=crowdworks]")).to_be_checked()

    # Daily at 07:30, both platforms.
    page.locator("#schedule-every").select_option("daily")
    page.locator("#schedule-daily-at").fill("07:30")
    page.locator("#schedule-platforms input[value=lancers]").check()
    page.locator("#schedule-form button[type=submit]").click()
    expect(page.locator("#schedule-text")).to_contain_text("ランサーズ・クラウドワークスを毎日 07:30に収集します")
    stored = settings_file(home)
    assert stored["collect_daily_at"] == "07:30" and stored["collect_platforms"] == ["lancers", "crowdworks"]
    schedule = session.status()["schedule"]
    next_at = datetime.fromisoformat(schedule["next_at"])
    assert (next_at.hour, next_at.minute) == (7, 30) and next_at.utcoffset().total_seconds() == 9 * 3600
    assert 0 < (next_at - datetime.now().astimezone()).total_seconds() <= 24 * 3600

    # Off: the choices are kept for next time.
    page.locator("#schedule-enabled").uncheck()
    page.locator("#schedule-form button[type=submit]").click()
    expect(page.locator("#schedule-text")).to_have_text("自動収集はオフです。")
    assert session.status()["schedule"]["enabled"] is False
    assert settings_file(home)["collect_enabled"] is False
    expect(page.locator("#schedule-every")).to_have_value("daily")
    expect(page.locator("#schedule-daily-at")).to_have_value("07:30")

    # A restarted server reads it back (daily: no run at start, so nothing is collected here).
    page.locator("#schedule-enabled").check()
    page.locator("#schedule-form button[type=submit]").click()
    stop_server(server)
    again = server_factory()
    page.goto(f"{again.url}/collect?token={again.token}")
    expect(page.locator("#schedule-text")).to_contain_text("毎日 07:30")
    expect(page.locator("#schedule-enabled")).to_be_checked()


def test_the_schedule_refuses_cross_site_posts_and_bad_values(home, server_factory):
    server = server_factory({"user_name": "山田 花子"})
    session = Session(server)
    before = (home / "settings.json").read_bytes()
    good = [("enabled", "1"), ("every", "60"), ("platforms", "lancers")]

    code, body = session.post("/collect/schedule", good, origin="http://evil.example")
    assert code == 403 and "別のサイト" in body
    code, _ = session.post("/collect/now", origin="http://evil.example")
    assert code == 403
    # Without the session, no page and no write either.
    req = urllib.request.Request(server.url + "/collect/schedule", data=urllib.parse.urlencode(good).encode(),
                                 method="POST", headers={"Origin": f"http://127.0.0.1:{server.port}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 401

    for fields in ([("enabled", "1"), ("every", "60")],  # no platform
                   [("enabled", "1"), ("every", "daily"), ("daily_at", "25:00"), ("platforms", "lancers")],
                   [("enabled", "1"), ("every", "1"), ("platforms", "lancers")],  # under 5 minutes
                   [("enabled", "1"), ("every", "60"), ("platforms", "example")]):
        code, _ = session.post("/collect/schedule", fields)
        assert code == 400, fields
    assert (home / "settings.json").read_bytes() == before
    assert session.status()["schedule"]["enabled"] is False

    code, _ = session.post("/collect/schedule", good)
    assert code == 200
    assert session.status()["schedule"]["enabled"] is True
    assert os.stat(home / "settings.json").st_mode & 0o777 == 0o600


def test_the_page_fits_a_phone_and_only_it_may_fetch_its_status(home, page, server_factory):
    server = server_factory({})
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(f"{server.url}/collect?token={server.token}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    csp = response.headers["content-security-policy"]
    assert "connect-src 'self'" in csp and "script-src 'self'" in csp and "default-src 'none'" in csp
    index = page.request.get(f"{server.url}/")
    assert "connect-src" not in index.headers["content-security-policy"]  # the other pages keep theirs
    page.locator("header.site nav a", has_text="更新").click()
    expect(page.locator("h1")).to_have_text("更新と自動収集")


def test_a_run_that_finds_the_session_gone_says_to_log_in_again(site, ghostwatch, home, server_factory):
    # A profile whose session is gone: a login nobody finished (the site wants its session).
    site.require_session = True
    run = ghostwatch("login", "--platform", "crowdworks", "--headless", "--wait", "0.05",
                     f"--browser-arg={site.offline_browser_args[0]}", "--ignore-https-errors")
    assert run.returncode == 3
    server = server_factory({"collect_args": standin_args(site)})
    session = Session(server)
    profile = session.status()["profiles"][1]
    assert profile["platform"] == "crowdworks" and profile["logged_in"] and not profile["expired"]
    assert session.post("/collect/now")[0] == 200
    done, _ = wait_until_done(session)
    part = done["run"]["platforms"][0]
    assert part["exit_code"] == 3
    assert part["meaning"] == "ログインしていません: ghostwatch login --platform crowdworks"
    assert done["profiles"][1]["expired"] is True
    code, body = session.get("/collect")
    assert "ログインが切れています" in body and "ghostwatch login --platform crowdworks" in body


def test_every_exit_code_of_collect_has_its_meaning_in_japanese():
    from server.collect_views import exit_meanings, meaning

    meanings = exit_meanings()
    assert set(meanings) == {0, 3, 4, 5, 6, 7, 8, 130}
    assert all(text and "(" not in text for text in meanings.values())  # the English left out
    assert meaning(8, "lancers").startswith("人間による確認")
    assert "ghostwatch login --platform lancers でブラウザを開いて" in meaning(8, "lancers")
    assert meaning(1, "lancers") == "予期しないエラーで終わりました（終了コード 1）"


def test_without_javascript_the_page_refreshes_itself_until_the_run_is_done(site, ghostwatch, home, chromium,
                                                                             server_factory):
    log_in(site, ghostwatch, "crowdworks")
    server = server_factory({"collect_args": standin_args(site)})
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/collect?token={server.token}")
        page.locator("#collect-now").click()
        crowdworks = page.locator("#run-platforms li[data-platform=crowdworks]")
        expect(crowdworks).to_have_attribute("data-state", "done", timeout=60_000)
        expect(crowdworks).to_contain_text("完了")
    finally:
        context.close()


def test_both_platforms_run_one_after_the_other(site, ghostwatch, home, server_factory):
    log_in(site, ghostwatch, "lancers")
    log_in(site, ghostwatch, "crowdworks")
    server = server_factory({"collect_args": standin_args(site)})
    session = Session(server)
    assert session.post("/collect/now")[0] == 200
    done, seen = wait_until_done(session, timeout=180)
    order = [tuple(p["state"] for p in s["run"]["platforms"]) for s in seen]
    assert [p["platform"] for p in done["run"]["platforms"]] == ["lancers", "crowdworks"]
    assert ("running", "waiting") in order  # CrowdWorks waits while Lancers runs
    waiting = next(s for s in seen if s["run"]["platforms"][1]["state"] == "waiting")
    assert waiting["run"]["platforms"][1]["text"] == "待機中"
    assert [p["exit_code"] for p in done["run"]["platforms"]] == [0, 0]
    status, answer = server.json("GET", "/api/contracts")
    got = sorted((v["platform"], v["contract_id"]) for v in answer["contracts"])
    assert got == sorted([("lancers", c) for c in listed_ids("lancers")]
                         + [("crowdworks", c) for c in listed_ids("crowdworks")])


def test_a_schedule_saved_on_the_page_runs_without_a_restart(site, ghostwatch, home, server_factory):
    """Daily at the next minute: the running server collects then (a scheduled run)."""
    from datetime import timedelta, timezone

    log_in(site, ghostwatch, "crowdworks")
    server = server_factory({"collect_args": standin_args(site)})
    session = Session(server)
    at = datetime.now(timezone(timedelta(hours=9))) + timedelta(minutes=1)
    if at.second > 50:  # keep clear of the minute's edge
        time.sleep(61 - at.second)
        at = datetime.now(timezone(timedelta(hours=9))) + timedelta(minutes=1)
    hhmm = at.strftime("%H:%M")
    code, _ = session.post("/collect/schedule", [("enabled", "1"), ("every", "daily"), ("daily_at", hhmm),
                                                 ("platforms", "crowdworks")])
    assert code == 200
    assert session.status()["schedule"]["next_at"].startswith(at.strftime("%Y-%m-%dT%H:%M:00"))
    done, _ = wait_until_done(session, timeout=150)
    assert done["run"]["kind"] == "scheduled" and done["run"]["kind_text"] == "定期収集"
    assert done["run"]["started_at"] >= at.strftime("%Y-%m-%dT%H:%M:00")
    assert done["run"]["platforms"][0]["exit_code"] == 0
    assert datetime.fromisoformat(done["schedule"]["next_at"]) - datetime.fromisoformat(
        done["run"]["started_at"]) > timedelta(hours=23)  # tomorrow's


def test_a_settings_file_that_cannot_be_read_is_never_written_over(home, server_factory):
    """The schedule form and the name form both change settings.json: when it is
    there but broken (a hand edit gone wrong), they answer 400 and say which file,
    and the file is left as it was, for the user to mend."""
    server = server_factory({"user_name": "山田 花子"})
    session = Session(server)
    broken = b'{"user_name": "\xe5\xb1\xb1\xe7\x94\xb0", "collect_enabled": tru'
    (home / "settings.json").write_bytes(broken)
    for path, fields in (("/collect/schedule", [("enabled", "1"), ("every", "60"), ("platforms", "lancers")]),
                         ("/settings", [("user_name", "佐藤")])):
        code, body = session.post(path, fields)
        assert code == 400, path
        assert "settings.json" in body and "上書きしません" in body
    assert (home / "settings.json").read_bytes() == broken
    (home / "settings.json").write_text("[1, 2]", encoding="utf-8")  # JSON, but not settings
    code, body = session.post("/settings", [("user_name", "佐藤")])
    assert code == 400 and "形式が正しくありません" in body
    assert (home / "settings.json").read_text(encoding="utf-8") == "[1, 2]"
    assert session.status()["schedule"]["enabled"] is False
