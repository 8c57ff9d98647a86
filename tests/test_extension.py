"""The Chrome extension in real Chromium, loaded unpacked from ``extension/``
unchanged, against the real server and the HTTPS stand-in of both platforms.

Pages are corpus pages whose times are moved so that the client's silence is
known relative to now (the extension captures "now", the server judges "now").
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta

import pytest

from conftest import stop_server
from extension_helpers import (
    AMBER, ERROR_PURPLE, EXTENSION_DIR, GREEN, GREY, JST, RED, crowdworks_shifted, extension_browser,
    extension_id, lancers_shifted, rendered_late, snapshot_rows, start_server_on, unreadable_page, wait_for, whole_days,
)

SILENT_AGO = timedelta(days=10, hours=3)
RECENT_AGO = timedelta(days=1, hours=3)
NUDGE_AGO = timedelta(days=4, hours=3)


@pytest.fixture(autouse=True)
def restore_standin_routes(standin):
    """These tests serve shifted copies at corpus URLs: the session's stand-in
    serves the corpus again afterwards, for the tests that come later."""
    saved = dict(standin.routes)
    yield
    standin.routes.clear()
    standin.routes.update(saved)


@pytest.fixture
def ext(playwright, standin):
    # GHOSTWATCH_EXT_LANG=en runs the UI in English (as on a Chromium without chromium-l10n).
    with extension_browser(playwright, standin, lang=os.environ.get("GHOSTWATCH_EXT_LANG", "ja")) as browser:
        yield browser


def paired(ext, server):
    ext.configure(server.url, server.token)
    return ext


def extension_page(ext, path):
    """An extension page in a tab, with the script errors it raises collected."""
    page = ext.context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
    page.goto(ext.url(path))
    return page


def open_tab(ext, url):
    page = ext.context.new_page()
    page.goto(url, wait_until="load")
    return page


# --- the manifest -------------------------------------------------------------------


def test_manifest_least_permissions_and_pinned_id():
    manifest = json.loads((EXTENSION_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["manifest_version"] == 3
    assert manifest["default_locale"] == "ja"
    assert manifest["background"] == {"service_worker": "background.js", "type": "module"}
    assert sorted(manifest["host_permissions"]) == sorted(
        ["https://www.lancers.jp/*", "https://crowdworks.jp/*", "http://127.0.0.1/*"])
    assert "<all_urls>" not in json.dumps(manifest) and "tabs" not in manifest["permissions"]
    [scripts] = manifest["content_scripts"]
    assert sorted(scripts["matches"]) == sorted([
        "https://www.lancers.jp/mypage/message*", "https://www.lancers.jp/mypage/proposals/all/working*",
        "https://crowdworks.jp/contracts/*", "https://crowdworks.jp/e/contracts*"])
    for lang in ("ja", "en"):
        messages = json.loads((EXTENSION_DIR / "_locales" / lang / "messages.json").read_text(encoding="utf-8"))
        ja = json.loads((EXTENSION_DIR / "_locales" / "ja" / "messages.json").read_text(encoding="utf-8"))
        assert messages.keys() == ja.keys()
    assert extension_id() == "mmnbdkilpncbfalgghnjedggnddnajgn"


def test_extension_loads_with_its_pinned_id_and_locale(ext):
    assert ext.worker.url == f"chrome-extension://{ext.id}/background.js"
    # Japanese unless the browser's UI is English (Debian's chromium without
    # chromium-l10n has only en-US).
    ui = ext.evaluate("chrome.i18n.getMessage('@@ui_locale')")
    lang = "en" if ui.startswith("en") else "ja"
    messages = json.loads((EXTENSION_DIR / "_locales" / lang / "messages.json").read_text(encoding="utf-8"))
    assert ext.message("popupCapture") == messages["popupCapture"]["message"]
    if lang == "ja":
        assert ext.message("popupCapture") == "このページをいま記録"
    # Not paired yet: the badge says so, and what to do.
    text, color, title = wait_for(lambda: (b := ext.badge()) and b[0] == "!" and b, what="the '!' badge")
    assert color == ERROR_PURPLE
    assert title == ext.message("titleNoToken", 0)
    assert ext.message("optionsPairButton") in title


# --- snapshots and badges ---------------------------------------------------------------


def test_silent_recent_and_unreadable_contracts_badged_and_stored(ext, live_server, standin):
    paired(ext, live_server)
    started = datetime.now(JST)

    # A silent Lancers fixed-price thread: red, the days of silence.
    url, html, last_client = lancers_shifted("thread_silent_fixed", SILENT_AGO)
    standin.route(url, html)
    open_tab(ext, url)
    days = whole_days(last_client, started)
    assert days == 10
    text, color, title = ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"), what="the silent thread's badge")
    assert (text, color) == (str(days), RED)
    assert title == ext.message("titleContract", "美容サロンのLP制作（スマホ対応・1ページ）",
                                ext.message("state_eligible"), days)

    status, contract = live_server.json("GET", "/api/contracts/lancers/5198842")
    assert status == 200, contract
    assert contract["state"] == "eligible"
    assert contract["silent_days"] == days
    assert contract["last_client_message_at"] == last_client.isoformat()
    assert len(contract["messages"]) == 12
    [row] = snapshot_rows(live_server.home)
    assert (row["url"], row["source"]) == (url, "extension")
    captured = datetime.fromisoformat(row["captured_at"])
    assert started - timedelta(seconds=5) <= captured <= datetime.now(JST)

    # A recent CrowdWorks contract: green, 1 day.
    url, html, last_client = crowdworks_shifted("contract_recent", RECENT_AGO)
    standin.route(url, html)
    open_tab(ext, url)
    text, color, _ = ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"), what="the recent contract's badge")
    assert (text, color) == (str(whole_days(last_client, datetime.now(JST))), GREEN) == ("1", GREEN)
    status, contract = live_server.json("GET", "/api/contracts/crowdworks/11873402")
    assert status == 200 and contract["state"] == "ok" and contract["silent_days"] == 1

    # A thread URL whose page is not one ghostwatch can read: "?" in grey, never "0".
    url = "https://www.lancers.jp/mypage/message?boardId=999"
    standin.route(url, unreadable_page())
    open_tab(ext, url)
    text, color, title = ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"), timeout=40,
                                        what="the unreadable page's badge")
    assert (text, color) == ("?", GREY)
    status, contract = live_server.json("GET", "/api/contracts/lancers/999")
    assert status == 200 and contract["state"] == "unreadable"
    assert title == ext.message("titleUnreadable", contract["unreadable_reason"])
    rows = snapshot_rows(live_server.home)
    assert [r["read_state"] for r in rows] == ["ok", "ok", "unreadable"]
    assert ext.storage("queue")["queue"] == []


def test_amber_from_three_days(ext, live_server, standin):
    paired(ext, live_server)
    url, html, last_client = crowdworks_shifted("contract_recent", NUDGE_AGO)
    standin.route(url, html)
    open_tab(ext, url)
    text, color, _ = ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"))
    assert (text, color) == (str(whole_days(last_client, datetime.now(JST))), AMBER) == ("4", AMBER)


def test_list_page_badges_the_contracts_needing_action(ext, live_server, standin):
    paired(ext, live_server)
    url = "https://crowdworks.jp/e/contracts?status=active"
    open_tab(ext, url)
    text, color, title = ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"))
    rows = snapshot_rows(live_server.home)
    assert [r["url"] for r in rows] == [url]
    # Contracts seen only on a list are "unknown": none needs action yet.
    assert (text, color) == ("0", GREEN)
    assert title == ext.message("titleList", 0)


def test_waits_for_messages_rendered_by_script(ext, live_server, standin):
    paired(ext, live_server)
    url, html, _ = crowdworks_shifted("contract_recent", RECENT_AGO)
    standin.route(url, rendered_late(html, "_messageList_", 2500))
    open_tab(ext, url)
    text, color, _ = ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"))
    assert (text, color) == ("1", GREEN)
    # One snapshot, taken once the messages were there (not an empty page before).
    [row] = snapshot_rows(live_server.home)
    assert row["read_state"] == "ok"
    status, contract = live_server.json("GET", "/api/contracts/crowdworks/11873402")
    assert contract["state"] == "ok" and len(contract["messages"]) == 9


def test_new_messages_sent_again_other_changes_not(ext, live_server, standin):
    paired(ext, live_server)
    url, html, _ = crowdworks_shifted("contract_recent", RECENT_AGO)
    standin.route(url, html)
    page = open_tab(ext, url)
    ext.wait_badge(url, lambda t, c, ti: t == "1")
    assert len(snapshot_rows(live_server.home)) == 1

    # DOM changes that are not messages: nothing sent.
    for n in range(5):
        page.evaluate("(n) => { const d = document.createElement('div'); d.textContent = 'typing ' + n;"
                      " document.body.append(d); }", n)
        time.sleep(0.2)
    time.sleep(3)
    assert len(snapshot_rows(live_server.home)) == 1

    # The client writes (a burst of DOM changes for one new message): sent once more.
    now = datetime.now(JST).isoformat(timespec="seconds")
    page.evaluate(
        """(when) => {
            const items = document.querySelectorAll("[class*='_messageItem_']");
            const last = items[items.length - 1];
            const own = [...items].find((el) => !/_ownMessage_|_systemMessage_/.test(el.className));
            const copy = own.cloneNode(true);
            copy.dataset.messageId = 'new-' + Date.now();
            copy.querySelector('time').setAttribute('datetime', when);
            last.after(copy);
            copy.querySelector('p').textContent = 'ご連絡ありがとうございます。確認します。';
        }""", now)
    rows = wait_for(lambda: (r := snapshot_rows(live_server.home)) and len(r) >= 2 and r, timeout=15,
                    what="the second snapshot")
    time.sleep(3)
    assert len(snapshot_rows(live_server.home)) == 2 == len(rows)
    ext.wait_badge(url, lambda t, c, ti: t == "0", what="the badge after the client wrote")


def test_nothing_sent_from_unrelated_pages(ext, live_server, standin):
    paired(ext, live_server)
    unrelated = [
        "https://www.lancers.jp/work/detail/1",
        # Under a content-script prefix, but not a page ghostwatch reads.
        "https://crowdworks.jp/contracts/11873402/contact_requests/new",
        "https://www.lancers.jp/mypage/message_list",
    ]
    page_html = unreadable_page("お仕事詳細")
    for url in unrelated:
        standin.route(url, page_html)
        open_tab(ext, url)
    time.sleep(10)  # longer than the content script's wait for messages (8 s)
    assert snapshot_rows(live_server.home) == []
    assert ext.storage("queue").get("queue", []) == []
    for url in unrelated:
        assert ext.badge(ext.tab_id(url))[0] != "!"  # not even queued

    # "Capture this page now" refuses them too.
    tab = ext.tab_id(unrelated[0])
    popup = extension_page(ext, "popup.html")
    result = popup.evaluate("(id) => chrome.runtime.sendMessage({type: 'capture-tab', tabId: id})", tab)
    assert result == {"ok": False, "reason": "not_watched"}
    assert snapshot_rows(live_server.home) == []
    assert popup.errors == []


# --- server down, token wrong: kept, sent later -------------------------------------------


def test_snapshot_taken_while_server_down_arrives_when_it_is_back(ext, tmp_path, standin):
    home = tmp_path / "home"
    server = start_server_on(home)
    paired(ext, server)
    stop_server(server)

    url, html, last_client = lancers_shifted("thread_silent_fixed", SILENT_AGO)
    standin.route(url, html)
    open_tab(ext, url)
    text, color, title = ext.wait_badge(url, lambda t, c, ti: t == "!" and "ghostwatch serve" in ti,
                                        what="the '!' badge")
    assert color == ERROR_PURPLE
    assert title == ext.message("titleServerDown", 1)
    queue = ext.storage("queue")["queue"]
    assert [e["url"] for e in queue] == [url]
    kept = ext.storage(f"snapshot:{queue[0]['id']}")[f"snapshot:{queue[0]['id']}"]
    assert kept.startswith("<html") and "美容サロンのLP制作" in kept
    assert ext.badge()[0] == "!"

    # A while later (retries fail meanwhile), the user starts the server again.
    time.sleep(5)
    server = start_server_on(home, server.port)
    try:
        text, color, _ = ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"), timeout=90,
                                        what="the badge once the server is back")
        assert (text, color) == (str(whole_days(last_client, datetime.now(JST))), RED)
        [row] = snapshot_rows(home)
        assert row["url"] == url
        # Stored with the instant it was captured, not the instant it was sent.
        assert datetime.fromisoformat(row["captured_at"]) < datetime.now(JST) - timedelta(seconds=4)
        assert ext.storage("queue")["queue"] == []
        assert not [k for k in ext.storage() if k.startswith("snapshot:")]
        wait_for(lambda: ext.badge()[0] == "1", what="the global badge from /api/summary")
    finally:
        stop_server(server)


def test_wrong_token_keeps_the_snapshot_until_paired(ext, live_server, standin):
    ext.configure(live_server.url, "not-the-token")
    url, html, _ = crowdworks_shifted("contract_recent", RECENT_AGO)
    standin.route(url, html)
    open_tab(ext, url)
    text, color, title = ext.wait_badge(url, lambda t, c, ti: t == "!" and ti == ext.message("titleBadToken", 1))
    assert color == ERROR_PURPLE and title == ext.message("titleBadToken", 1)
    assert snapshot_rows(live_server.home) == []
    assert len(ext.storage("queue")["queue"]) == 1

    # Paired by hand on the options page: the queue goes out.
    options = extension_page(ext, "options.html")
    options.fill("#token", live_server.token)
    options.click("#test")
    wait_for(lambda: options.get_attribute("#settings-result", "data-ok") == "true", what="the connection test")
    assert options.inner_text("#settings-result").startswith(ext.message("optionsTestOk", "x", 0).split("x")[0])
    options.click("#save")
    ext.wait_badge(url, lambda t, c, ti: t == "1", timeout=30)
    assert [r["url"] for r in snapshot_rows(live_server.home)] == [url]
    assert ext.storage("token")["token"] == live_server.token
    assert options.errors == []


# --- pairing, popup, notifications ----------------------------------------------------------


def test_pairing_in_one_step_from_the_options_page(ext, live_server):
    # The user opened the address ghostwatch serve printed once (the web view's cookie).
    page = ext.context.new_page()
    page.goto(f"{live_server.url}/?token={live_server.token}")
    options = extension_page(ext, "options.html")
    options.fill("#serverUrl", live_server.url)
    options.get_by_role("button", name=ext.message("optionsPairButton")).click()
    wait_for(lambda: options.get_attribute("#pair-result", "data-ok") == "true", what="pairing")
    status, health = live_server.json("GET", "/api/health", token=False)
    assert options.inner_text("#pair-result") == ext.message("optionsPaired", health["version"])
    assert ext.storage("serverUrl", "token") == {"serverUrl": live_server.url, "token": live_server.token}
    # The pairing tab it opened is closed again.
    assert not [p for p in ext.context.pages if p.url.startswith(f"{live_server.url}/pair")]
    assert options.errors == []


def test_pairing_without_the_web_view_session_says_what_to_do(ext, live_server):
    options = extension_page(ext, "options.html")
    options.fill("#serverUrl", live_server.url)
    options.click("#pair")
    wait_for(lambda: options.get_attribute("#pair-result", "data-ok") == "false", what="the refusal")
    assert "?token=" in options.inner_text("#pair-result")
    assert ext.storage("token").get("token") in (None, "")
    assert options.errors == []


def test_popup_lists_what_needs_action_and_notifies_once(ext, live_server, standin):
    paired(ext, live_server)
    silent_url, html, _ = lancers_shifted("thread_silent_fixed", SILENT_AGO)
    standin.route(silent_url, html)
    recent_url, html, _ = crowdworks_shifted("contract_recent", RECENT_AGO)
    standin.route(recent_url, html)
    open_tab(ext, silent_url)
    open_tab(ext, recent_url)
    ext.wait_badge(silent_url, lambda t, c, ti: t == "10")
    ext.wait_badge(recent_url, lambda t, c, ti: t == "1")

    popup = extension_page(ext, "popup.html")
    popup.wait_for_selector("li.contract")
    items = popup.locator("li.contract")
    assert items.count() == 1  # the recent one needs nothing
    item = items.first
    assert item.get_attribute("data-contract-id") == "5198842"
    assert item.locator(".chip").inner_text() == ext.message("state_eligible")
    assert item.locator(".days").inner_text() == "10"
    assert ext.message("popupDays", 10) in item.inner_text()
    assert "連絡催促申請ができます" in item.locator(".next").inner_text()
    assert item.locator("a.open-contract").get_attribute("href") == silent_url
    assert item.locator("a.open-web").get_attribute("href") == f"{live_server.url}/contracts/lancers/5198842"
    assert popup.locator("#status").get_attribute("data-kind") == "ok"

    # One notification for the contract that became eligible, and only one.
    notifications = ext.evaluate("chrome.notifications.getAll()")
    assert [k for k in notifications if k.startswith("lancers/5198842/eligible/")], notifications
    notified = ext.storage("notified")["notified"]
    assert len(notified) == 1
    popup.reload()
    popup.wait_for_selector("li.contract")
    assert len(ext.storage("notified")["notified"]) == 1

    # "Capture this page now" for the recent contract's tab: one more snapshot.
    # (The server keeps one row for the same page captured in the same second.)
    time.sleep(1.1)
    before = len(snapshot_rows(live_server.home))
    tab = ext.tab_id(recent_url)
    result = popup.evaluate("(id) => chrome.runtime.sendMessage({type: 'capture-tab', tabId: id})", tab)
    assert result == {"ok": True, "queued": False, "problem": None}
    assert len(snapshot_rows(live_server.home)) == before + 1
    assert popup.errors == []


def test_a_passed_deadline_notifies_once(ext, live_server, standin):
    paired(ext, live_server)
    # A filed Lancers request whose 7-day deadline passed yesterday.
    url, html, _ = lancers_shifted("thread_requested", timedelta(days=21))
    standin.route(url, html)
    page = open_tab(ext, url)
    text, color, title = ext.wait_badge(url, lambda t, c, ti: t not in ("", "!"))
    status, contract = live_server.json("GET", "/api/contracts/lancers/5176609")
    assert contract["state"] == "overdue"
    assert (text, color) == (str(contract["silent_days"]), RED)
    assert title == ext.message("titleContract", contract["title"], ext.message("state_overdue"),
                                contract["silent_days"])
    key = f"lancers/5176609/overdue/{contract['deadline_at']}"
    wait_for(lambda: key in ext.evaluate("chrome.notifications.getAll()"), what="the overdue notification")

    # Seen again (a reload, the summary alarm): no second notification.
    ext.evaluate("(k) => chrome.notifications.clear(k)", key)
    time.sleep(1.1)
    page.reload()
    wait_for(lambda: len(snapshot_rows(live_server.home)) == 2, what="the second snapshot")
    ext.evaluate("chrome.alarms.create('summary', {when: Date.now(), periodInMinutes: 1})")
    time.sleep(3)
    assert ext.evaluate("chrome.notifications.getAll()") == {}
    assert list(ext.storage("notified")["notified"]) == [key]


def test_global_badge_follows_the_summary_on_its_schedule(ext, live_server):
    paired(ext, live_server)
    alarm = wait_for(lambda: ext.evaluate("chrome.alarms.get('summary')"), what="the summary alarm")
    assert alarm["periodInMinutes"] == 1
    # The collector (not the extension) stores a silent contract.
    url, html, _ = lancers_shifted("thread_silent_fixed", SILENT_AGO)
    status, _ = live_server.json("POST", "/api/snapshots", {
        "url": url, "html": html, "captured_at": datetime.now(JST).isoformat(), "source": "collector"})
    assert status == 200
    ext.evaluate("chrome.alarms.create('summary', {when: Date.now(), periodInMinutes: 1})")
    text, color, title = wait_for(lambda: (b := ext.badge()) and b[0] == "1" and b, what="the global badge")
    assert color == RED
    assert title == ext.message("titleSummary", 1)
