"""The Chrome extension in real Chromium, loaded unpacked from ``extension/``
unchanged, against the real server and the HTTPS stand-in of both platforms.

Pages are corpus captures (the page and the JSON the platform's app fetches)
whose times are moved so that the client's silence is known relative to now
(the extension captures "now", the server judges "now").
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta

import pytest

from conftest import free_port, stop_server
from extension_helpers import (
    AMBER, ERROR_PURPLE, EXTENSION_DIR, GREEN, GREY, INQUIRY, JST, PENDING, RED, UNCONFIRMED, FaultProxy,
    board_switching_app,
    expected_badge, extension_browser, extension_id, rendered_late, shifted, snapshot_rows, start_server_on,
    states_table, stored_capture, unreadable_page, wait_for, whole_days,
)

pytestmark = pytest.mark.browser

SILENT_AGO = timedelta(days=10, hours=3)
RECENT_AGO = timedelta(days=1, hours=3)
NUDGE_AGO = timedelta(days=4, hours=3)

# Every corpus page of one contract (a Lancers board with a job, a CrowdWorks contract).
CONTRACT_PAGES = [
    "lancers/thread_silent_fixed", "lancers/thread_recent", "lancers/thread_requested",
    "lancers/thread_hourly", "lancers/thread_plan_change", "lancers/thread_completed",
    "lancers/thread_long", "lancers/thread_paged_back", "lancers/thread_no_panel",
    "crowdworks/contract_recent", "crowdworks/contract_collapsed", "crowdworks/contract_completed",
    "crowdworks/contract_delivered_silent", "crowdworks/contract_hourly_nudge", "crowdworks/contract_long",
    "crowdworks/contract_awaiting_escrow", "crowdworks/contract_dom_only",
]

SETTLED = ("", "!", "…")  # no answer yet: nothing, the server problem, "being captured"


@pytest.fixture(autouse=True)
def restore_standin_routes(standin):
    """These tests serve shifted copies at corpus URLs: the session's stand-in
    serves the corpus again afterwards, for the tests that come later."""
    saved = dict(standin.routes)
    saved_failures = dict(standin.failures)
    saved_hang = standin.hang_seconds
    yield
    standin.routes.clear()
    standin.routes.update(saved)
    standin.failures.clear()
    standin.failures.update(saved_failures)
    standin.hang_seconds = saved_hang


def state_label(state):
    """The state's label in the server's one table (GET /api/states)."""
    return next(s["label"] for s in states_table()["states"] if s["state"] == state)


@pytest.fixture
def ext(playwright, standin):
    # GHOSTWATCH_EXT_LANG=en runs the UI in English (as on a Chromium without chromium-l10n).
    with extension_browser(playwright, standin, lang=os.environ.get("GHOSTWATCH_EXT_LANG", "ja")) as browser:
        # First install, no token: the settings page opens by itself.  Closed
        # here, so that it never takes over a tab a test opens.
        [options] = wait_for(lambda: browser.evaluate("1") and [
            p for p in browser.context.pages if p.url == browser.url("options.html")],
            what="the settings page opened at install")
        options.close()
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


def settled(ext, url, timeout=30, what="the page's badge"):
    """The tab's own badge once the server has answered for its page."""
    return ext.wait_badge(url, lambda t, c, ti: t not in SETTLED or (t == "" and ti != ext.message("titlePending")),
                          timeout=timeout, what=what)


def contract(server, capture):
    status, answer = server.json("GET", f"/api/contracts/{capture.platform}/{capture.contract_id}")
    assert status == 200, (capture.name, answer)
    return answer


# --- the manifest -------------------------------------------------------------------


def test_manifest_least_permissions_and_pinned_id():
    manifest = json.loads((EXTENSION_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["manifest_version"] == 3
    assert manifest["default_locale"] == "ja"
    assert manifest["background"] == {"service_worker": "background.js", "type": "module"}
    assert sorted(manifest["host_permissions"]) == sorted(
        ["https://www.lancers.jp/*", "https://crowdworks.jp/*", "http://127.0.0.1/*"])
    assert "<all_urls>" not in json.dumps(manifest)
    assert not {"tabs", "webNavigation", "webRequest"} & set(manifest["permissions"])
    [scripts] = manifest["content_scripts"]
    assert sorted(scripts["matches"]) == sorted([
        "https://www.lancers.jp/mypage/message*", "https://www.lancers.jp/mypage/proposals/all/working*",
        "https://crowdworks.jp/contracts/*", "https://crowdworks.jp/e/contracts*"])
    # The one capture routine first, then the script that uses it.
    assert scripts["js"] == ["capture.js", "content.js"]
    ja = json.loads((EXTENSION_DIR / "_locales" / "ja" / "messages.json").read_text(encoding="utf-8"))
    en = json.loads((EXTENSION_DIR / "_locales" / "en" / "messages.json").read_text(encoding="utf-8"))
    assert en.keys() == ja.keys()
    assert extension_id() == "mmnbdkilpncbfalgghnjedggnddnajgn"


def worker_modules() -> dict[str, str]:
    """The service worker's modules: background.js and what it imports, transitively."""
    found, todo = {}, ["background.js"]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found[name] = (EXTENSION_DIR / name).read_text(encoding="utf-8")
        todo += re.findall(r'^import[^"]*"\./([\w.]+)";', found[name], re.M)
    return found


def test_worker_modules_register_every_listener_at_the_top_level():
    modules = worker_modules()
    assert {"api.js", "queue.js", "badges.js", "notifications.js", "pairing.js"} <= set(modules)
    for name, text in modules.items():
        listeners = re.findall(r"^(.*)\bchrome\.\w+\.on\w+\.addListener\(", text, re.M)
        if name == "background.js":
            assert len(listeners) >= 6 and all(indent == "" for indent in listeners), listeners
        else:
            assert listeners == [], name  # a listener in a function is missed when Chrome starts the worker


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
    # State labels are not the extension's: they come from the server's table.
    assert not [k for k in messages if k.startswith("state_")]
    # Not paired yet: the badge says so, and what to do.
    text, color, title = wait_for(lambda: (b := ext.badge()) and b[0] == "!" and b, what="the '!' badge")
    assert color == ERROR_PURPLE
    assert title == ext.message("titleNoToken", 0)
    assert ext.message("optionsPairButton") in title


# --- captures and badges ---------------------------------------------------------------


def test_every_corpus_contract_page_badged_and_stored_with_its_responses(ext, live_server, standin):
    """Each contract page of the corpus, moved so that its expected verdict holds
    now: the badge the verdict calls for, and the server holds the capture, read
    as the corpus says (Lancers' messages come only from the JSON)."""
    paired(ext, live_server)
    captures = [shifted(name).serve(standin) for name in CONTRACT_PAGES]
    for capture in captures:
        open_tab(ext, capture.url)
    for capture in captures:
        verdict = capture.expected["verdict"]
        text, color, title = settled(ext, capture.url, timeout=45, what=f"the badge of {capture.name}")
        assert (text, color) == expected_badge(verdict), capture.name
        answer = contract(live_server, capture)
        assert answer["state"] == verdict["state"], (capture.name, answer)
        assert answer["silent_days"] == verdict["silent_days"], capture.name
        expected_last = capture.last_client
        assert answer["last_client_message_at"] == (expected_last.isoformat() if expected_last else None), capture.name
        if verdict["state"] == "unconfirmed":
            assert title == ext.message("titleUnconfirmed", answer["title"], verdict["silent_days"])
        elif verdict["state"] != "closed":
            assert title == ext.message("titleContract", answer["title"], state_label(verdict["state"]),
                                        verdict["silent_days"])
    # Every page was sent once, by the extension, with the JSON its app fetches.
    rows = snapshot_rows(live_server.home)
    assert sorted(r["url"] for r in rows) == sorted(c.url for c in captures)
    assert {r["source"] for r in rows} == {"extension"}
    assert all(r["read_state"] == "ok" for r in rows), rows
    by_url = {c.url: c for c in captures}
    for row in rows:
        capture = by_url[row["url"]]
        html, responses = stored_capture(live_server.home, row["id"])
        assert ('id="js-message-board"' if capture.platform == "lancers" else 'id="pack-message-thread"') in html
        # CrowdWorks: messages.json (a 404 where the platform gave none); Lancers:
        # the board detail and the newest messages (older pages while they hold
        # no client message), as the platform answered.
        got = {r["url"]: r for r in responses}
        first = [r for r in capture.responses
                 if re.search(r"/boards/\d+$|/boards/\d+/messages\?limit=20$|/messages\.json$", r["url"])]
        assert responses, capture.name
        for r in first:
            assert (got[r["url"]]["status"], got[r["url"]]["body"]) == (r["status"], r["body"]), capture.name
    assert ext.storage("queue")["queue"] == []


def test_lancers_thread_capture_holds_the_boards_json(ext, live_server, standin):
    paired(ext, live_server)
    capture = shifted("lancers/thread_silent_fixed", SILENT_AGO).serve(standin)
    started = datetime.now(JST)
    open_tab(ext, capture.url)
    days = whole_days(capture.last_client, started)
    assert days == 10
    text, color, title = settled(ext, capture.url)
    assert (text, color) == (str(days), RED)
    assert title == ext.message("titleContract", "美容サロンのLP制作（スマホ対応・1ページ）",
                                state_label("eligible"), days)
    answer = contract(live_server, capture)
    assert answer["contract_id"] == "4862017"  # the job, not the board
    assert answer["state"] == "eligible" and answer["silent_days"] == days
    assert len(answer["messages"]) == 9  # the API's messages: the page's HTML holds none
    [row] = snapshot_rows(live_server.home)
    assert (row["url"], row["source"]) == (capture.url, "extension")
    captured = datetime.fromisoformat(row["captured_at"])
    assert started - timedelta(seconds=5) <= captured <= datetime.now(JST)
    # The board detail and the messages were fetched by the page, with its cookies.
    hits = [k for k in standin.hits if k.startswith("www.lancers.jp/v1/message_api/boards/9058842")]
    assert any(k.endswith("9058842") for k in hits) and any("messages" in k for k in hits), hits


def test_unreadable_page_shows_a_question_mark_never_zero(ext, live_server, standin):
    paired(ext, live_server)
    # A board whose JSON the platform did not give (thread_no_api): unreadable.
    capture = shifted("lancers/thread_no_api").serve(standin)
    open_tab(ext, capture.url)
    text, color, title = settled(ext, capture.url, timeout=40)
    assert (text, color) == ("?", GREY)
    prefix = ext.message("titleUnreadable", "REASON").split("REASON")[0]
    assert title.startswith(prefix) and len(title) > len(prefix) + 2  # with the server's reason
    # A page that is not one ghostwatch can read at a thread's URL.
    url = "https://www.lancers.jp/mypage/message?boardId=999"
    standin.route(url, unreadable_page())
    open_tab(ext, url)
    text, color, _ = settled(ext, url, timeout=40)
    assert (text, color) == ("?", GREY)
    assert [r["read_state"] for r in snapshot_rows(live_server.home)] == ["unreadable", "unreadable"]


def test_inquiry_board_shows_no_days(ext, live_server, standin):
    paired(ext, live_server)
    capture = shifted("lancers/thread_inquiry").serve(standin)
    open_tab(ext, capture.url)
    text, color, title = settled(ext, capture.url)
    assert (text, color) == ("—", INQUIRY)
    assert title in (ext.message("titleInquiry", "名刺デザインのご相談"), ext.message("titleInquiry", "9070022"))
    assert not any(ch.isdigit() for ch in text)
    # Stored, and no contract made of it.
    assert [r["url"] for r in snapshot_rows(live_server.home)] == [capture.url]
    status, contracts = live_server.json("GET", "/api/contracts")
    assert status == 200 and contracts["contracts"] == []


def test_unconfirmed_contract_has_its_own_badge_and_is_listed_in_the_popup(ext, live_server, standin):
    paired(ext, live_server)
    capture = shifted("lancers/thread_no_panel").serve(standin)  # silent 9 days, no deal panel
    open_tab(ext, capture.url)
    text, color, title = settled(ext, capture.url, timeout=40)
    assert (text, color) == ("9?", UNCONFIRMED)
    assert title == ext.message("titleUnconfirmed", "地域情報誌のイラストマップ制作（A3・1点）", 9)

    popup = extension_page(ext, "popup.html")
    popup.wait_for_selector("li.contract")
    item = popup.locator("li.contract[data-state='unconfirmed']")
    assert item.count() == 1
    assert item.get_attribute("data-contract-id") == "4875530"
    assert item.locator(".chip").inner_text() == state_label("unconfirmed")
    assert item.locator(".days").inner_text() == "9?"
    assert item.locator(".next").inner_text()
    assert popup.errors == []


def test_list_pages_badge_the_contracts_needing_action(ext, live_server, standin):
    paired(ext, live_server)
    urls = [
        "https://crowdworks.jp/e/contracts?status=active",
        "https://www.lancers.jp/mypage/proposals/all/working",
        "https://www.lancers.jp/mypage/proposals/all/working/page:2",
    ]
    for url in urls:
        open_tab(ext, url)
    for url in urls:
        text, color, title = settled(ext, url)
        # Contracts seen only on a list are "unknown": none needs action yet.
        assert (text, color) == ("0", GREEN), url
        assert title == ext.message("titleList", 0)
    rows = snapshot_rows(live_server.home)
    assert sorted(r["url"] for r in rows) == sorted(urls)
    assert all(r["read_state"] == "ok" for r in rows), rows


def test_waits_for_messages_a_script_renders_late(ext, live_server, standin):
    # No messages.json for this contract: the page's own list is read, so the
    # extension must wait until the app has rendered it.
    paired(ext, live_server)
    capture = shifted("crowdworks/contract_dom_only")
    standin.route(capture.url, rendered_late(capture.html, "_messageList_", 2500))
    open_tab(ext, capture.url)
    text, color, _ = settled(ext, capture.url)
    assert (text, color) == expected_badge(capture.expected["verdict"]) == ("8+", RED)
    [row] = snapshot_rows(live_server.home)
    assert row["read_state"] == "ok"
    answer = contract(live_server, capture)
    assert answer["state"] == "eligible" and len(answer["messages"]) == 6


def test_new_messages_captured_again_other_changes_not(ext, live_server, standin):
    paired(ext, live_server)
    capture = shifted("crowdworks/contract_recent", RECENT_AGO).serve(standin)
    page = open_tab(ext, capture.url)
    ext.wait_badge(capture.url, lambda t, c, ti: t == "1")
    assert len(snapshot_rows(live_server.home)) == 1

    # DOM changes that are not messages: nothing sent.
    for n in range(5):
        page.evaluate("(n) => { const d = document.createElement('div'); d.textContent = 'typing ' + n;"
                      " document.body.append(d); }", n)
        time.sleep(0.2)
    time.sleep(3)
    assert len(snapshot_rows(live_server.home)) == 1

    # The client writes: the platform's JSON has the message, and the app adds it
    # to the page (a burst of DOM changes): captured once more.
    [messages] = [r for r in capture.responses if r["url"].endswith("/messages.json")]
    body = json.loads(messages["body"])
    newest = dict(max((m for m in body["messages"] if not m["own_message"]), key=lambda m: m["id"]))
    sent = datetime.now(JST)
    newest.update(id=newest["id"] + 1000, senddate=f"{sent:%Y年%m月%d日 %H:%M}", body="ご連絡ありがとうございます。確認します。")
    body["messages"].append(newest)
    standin.route_json(messages["url"], body)
    page.evaluate(
        """(when) => {
            const items = document.querySelectorAll("[class*='_messageItem_']");
            const client = [...items].filter((el) => el.querySelector("[class*='_senderName_']") &&
                                                     !el.querySelector("[class*='_messageSent_']")).pop();
            const copy = client.cloneNode(true);
            copy.id = 'message-new';
            copy.querySelector('time').setAttribute('datetime', when);
            copy.querySelector('time').textContent = when;
            items[items.length - 1].after(copy);
            copy.querySelector('p').textContent = 'ご連絡ありがとうございます。確認します。';
        }""", f"{sent:%Y年%m月%d日 %H:%M}")
    rows = wait_for(lambda: (r := snapshot_rows(live_server.home)) and len(r) >= 2 and r, timeout=15,
                    what="the second capture")
    time.sleep(3)
    assert len(snapshot_rows(live_server.home)) == 2 == len(rows)
    ext.wait_badge(capture.url, lambda t, c, ti: t == "0", what="the badge after the client wrote")


def test_lancers_board_captured_again_when_the_app_shows_a_new_message(ext, live_server, standin):
    paired(ext, live_server)
    capture = shifted("lancers/thread_recent", NUDGE_AGO).serve(standin)
    page = open_tab(ext, capture.url)
    ext.wait_badge(capture.url, lambda t, c, ti: (t, c) == ("4", AMBER))
    assert len(snapshot_rows(live_server.home)) == 1

    # The client writes: the messages API has it, and the app shows it in the list.
    [newest_page] = [r for r in capture.responses if r["url"].endswith("/messages?limit=20")]
    messages = json.loads(newest_page["body"])
    client = dict(max((m for m in messages if m["send_user"]["is_client"]), key=lambda m: m["id"]))
    client.update(id=max(m["id"] for m in messages) + 1, modified=datetime.now(JST).isoformat(timespec="seconds"),
                  description="お世話になっております。確認しました。")
    standin.route_json(newest_page["url"], [client, *messages])
    page.evaluate("""() => {
        const list = document.getElementById('js-message-list');
        list.replaceChildren();
        for (const text of ['…', '…', 'お世話になっております。確認しました。']) {
            const item = document.createElement('div');
            item.className = 'p-message-item';
            item.textContent = text;
            list.append(item);
        }
    }""")
    ext.wait_badge(capture.url, lambda t, c, ti: (t, c) == ("0", GREEN), what="the badge after the client wrote")
    assert len(snapshot_rows(live_server.home)) == 2


def test_nothing_sent_from_unrelated_pages(ext, live_server, standin):
    paired(ext, live_server)
    unrelated = [
        "https://www.lancers.jp/work/detail/1",
        # Under a content-script prefix, but not a page ghostwatch reads.
        "https://crowdworks.jp/contracts/63724402/contact_requests/new",
        "https://www.lancers.jp/mypage/message_list",
        "https://www.lancers.jp/mypage/message",  # the boards list, no board chosen
    ]
    page_html = unreadable_page("お仕事詳細")
    for url in unrelated:
        standin.route(url, page_html)
        open_tab(ext, url)
    time.sleep(10)  # longer than the content script's wait for a page (8 s)
    assert snapshot_rows(live_server.home) == []
    assert ext.storage("queue").get("queue", []) == []
    for url in unrelated:
        assert ext.badge(ext.tab_id(url))[0] not in ("!", "…")  # not even queued or pending

    # "Capture this page now" refuses them too.
    tab = ext.tab_id(unrelated[0])
    popup = extension_page(ext, "popup.html")
    result = popup.evaluate("(id) => chrome.runtime.sendMessage({type: 'capture-tab', tabId: id})", tab)
    assert result == {"ok": False, "reason": "not_watched"}
    assert snapshot_rows(live_server.home) == []
    assert popup.errors == []


# --- navigation: a tab never shows another page's days ------------------------------------


def watch_badges(ext, url_of_tab, seconds, interval=0.05):
    """Sample the tab's badge (text, colour, title) for ``seconds``."""
    tab = ext.tab_id(url_of_tab)
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(ext.badge(tab))
        time.sleep(interval)
    return tab, samples


def test_navigating_clears_the_badge_at_once(ext, live_server, standin):
    paired(ext, live_server)
    silent = shifted("lancers/thread_silent_fixed", SILENT_AGO).serve(standin)
    recent = shifted("crowdworks/contract_recent", RECENT_AGO).serve(standin)
    # The next contract's JSON comes slowly: its page is captured 4 s after it shows.
    [messages] = recent.responses
    standin.hang_seconds = 4
    standin.fail(messages["url"], times=None)

    page = open_tab(ext, silent.url)
    assert settled(ext, silent.url)[:2] == ("10", RED)
    tab = ext.tab_id(silent.url)

    page.goto(recent.url, wait_until="commit")
    # From the moment the tab shows the new page: "…", never the previous contract's 10.
    seen = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        seen.append(ext.badge(tab))
        time.sleep(0.05)
    assert seen and all(b[0] != "10" for b in seen), seen
    assert seen[-1] == ("…", PENDING, ext.message("titlePending"))
    # The JSON came late and was not recorded (a 504): the page's own list is read.
    text, color, _ = settled(ext, recent.url, timeout=40)
    assert text not in ("10", "…")

    # To a page ghostwatch does not read: the global badge again, not the contract's.
    standin.route("https://www.lancers.jp/work/detail/1", unreadable_page("お仕事詳細"))
    page.goto("https://www.lancers.jp/work/detail/1", wait_until="load")
    got = wait_for(lambda: (b := ext.badge(tab)) and b == ext.badge() and b, timeout=5,
                   what="the global badge on an unrelated page")
    assert "…" not in got[0] and recent.expected["title"] not in got[2]


def test_board_switch_without_a_reload_is_captured_and_the_badge_follows(ext, live_server, standin):
    """Lancers' message page is an app: choosing another board changes the URL
    with history.pushState and redraws the board; the extension captures the new
    board (with its own deal panel, not the previous one's) and the badge follows."""
    paired(ext, live_server)
    first = shifted("lancers/thread_silent_fixed", SILENT_AGO).serve(standin)
    second = shifted("lancers/thread_recent", RECENT_AGO).serve(standin)
    standin.route(first.url, board_switching_app([first, second]))
    page = open_tab(ext, first.url)
    assert settled(ext, first.url)[:2] == ("10", RED)
    tab = ext.tab_id(first.url)

    page.evaluate("() => switchBoard('9061183')")
    assert page.url == second.url
    # Within half a second the tab no longer shows the first board's days.
    time.sleep(0.5)
    assert ext.badge(tab)[0] != "10"
    text, color, title = settled(ext, second.url)
    assert (text, color) == ("1", GREEN)
    assert title == ext.message("titleContract", "飲食店向けメニュー表デザイン（A4両面・2種）",
                                state_label("ok"), 1)
    answer = contract(live_server, second)
    assert answer["contract_id"] == "4871203" and answer["state"] == "ok"
    # The second capture holds the second board's deal panel, not the first's:
    # the first contract's 連絡催促申請 button is not taken for the second's.
    assert answer["escalation"] != "available"
    assert [r["url"] for r in snapshot_rows(live_server.home)] == [first.url, second.url]
    assert page.url == second.url  # no reload happened
    assert page.evaluate("() => typeof switchBoard") == "function"

    # Back (popstate): the first board again, captured again, its badge again.
    page.go_back()
    assert page.url == first.url
    ext.wait_badge(first.url, lambda t, c, ti: (t, c) == ("10", RED), what="the first board's badge again")
    wait_for(lambda: len(snapshot_rows(live_server.home)) == 3, what="the third capture")

    # To the boards list (no board chosen), still without a reload: no page of
    # ghostwatch's, so the global badge (text, colour and title), and nothing sent.
    page.evaluate("() => history.pushState({}, '', '/mypage/message')")
    wait_for(lambda: ext.badge(tab) == ext.badge(), timeout=5, what="the global badge on the boards list")
    time.sleep(9)  # longer than the content script's wait for a page
    assert len(snapshot_rows(live_server.home)) == 3
    assert ext.badge(tab) == ext.badge()

    # From the boards list to a board: captured, its badge.
    page.evaluate("() => switchBoard('9061183')")
    ext.wait_badge(second.url, lambda t, c, ti: (t, c) == ("1", GREEN), what="the second board's badge again")
    assert [r["url"] for r in snapshot_rows(live_server.home)][3:] == [second.url]


# --- server down, token wrong: kept, sent later -------------------------------------------


def test_capture_taken_while_server_down_arrives_when_it_is_back(ext, tmp_path, standin):
    home = tmp_path / "home"
    server = start_server_on(home)
    paired(ext, server)
    stop_server(server)

    capture = shifted("lancers/thread_silent_fixed", SILENT_AGO).serve(standin)
    open_tab(ext, capture.url)
    text, color, title = ext.wait_badge(capture.url, lambda t, c, ti: t == "!" and "ghostwatch serve" in ti,
                                        what="the '!' badge")
    assert color == ERROR_PURPLE
    assert title == ext.message("titleServerDown", 1)
    queue = ext.storage("queue")["queue"]
    assert [e["url"] for e in queue] == [capture.url]
    key = f"snapshot:{queue[0]['id']}"
    kept = ext.storage(key)[key]
    assert "美容サロンのLP制作" in kept["html"]
    assert {r["url"] for r in kept["responses"]} == {r["url"] for r in capture.responses}
    assert all(r["status"] == 200 for r in kept["responses"])
    assert ext.badge()[0] == "!"

    # A while later (retries fail meanwhile), the user starts the server again.
    time.sleep(5)
    # Not running is not the page's fault: no attempt counted against it.
    assert [e["attempts"] for e in ext.storage("queue")["queue"]] == [0]
    server = start_server_on(home, server.port)
    try:
        text, color, _ = ext.wait_badge(capture.url, lambda t, c, ti: t not in SETTLED, timeout=90,
                                        what="the badge once the server is back")
        assert (text, color) == (str(whole_days(capture.last_client, datetime.now(JST))), RED)
        [row] = snapshot_rows(home)
        assert row["url"] == capture.url
        # Stored with the instant it was captured, not the instant it was sent.
        assert datetime.fromisoformat(row["captured_at"]) < datetime.now(JST) - timedelta(seconds=4)
        status, answer = server.json("GET", "/api/contracts/lancers/4862017")
        assert status == 200 and answer["state"] == "eligible"  # read from the JSON kept with the page
        assert ext.storage("queue")["queue"] == []
        assert not [k for k in ext.storage() if k.startswith("snapshot:")]
        wait_for(lambda: ext.badge()[0] == "1", what="the global badge from /api/summary")
    finally:
        stop_server(server)


def test_wrong_token_keeps_the_capture_until_paired(ext, live_server, standin):
    ext.configure(live_server.url, "not-the-token")
    capture = shifted("crowdworks/contract_recent", RECENT_AGO).serve(standin)
    open_tab(ext, capture.url)
    text, color, title = ext.wait_badge(capture.url,
                                        lambda t, c, ti: t == "!" and ti == ext.message("titleBadToken", 1))
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
    ext.wait_badge(capture.url, lambda t, c, ti: t == "1", timeout=30)
    assert [r["url"] for r in snapshot_rows(live_server.home)] == [capture.url]
    assert ext.storage("token")["token"] == live_server.token
    assert options.errors == []


# --- pairing, popup, notifications ----------------------------------------------------------


def pages_at(ext, prefix, pump):
    """The tabs whose URL starts with ``prefix`` (``pump``, a page, lets Playwright see new tabs)."""
    pump.wait_for_timeout(100)
    return [p for p in ext.context.pages if p.url.startswith(prefix)]


def confirmation_page(ext, server, pump):
    """The web view's confirmation page the extension opened, once it is there."""
    return wait_for(lambda: (found := pages_at(ext, f"{server.url}/pair/extension?", pump)) and found[0],
                    what="the confirmation page")


def test_pairing_after_the_user_confirms_on_another_port(ext, live_server):
    """Pairing with a server on another port than 8765, after a first attempt at
    a port where nothing listens: the URL typed stays; the token comes only
    after the user pressed 「この拡張機能を接続」 in the web view."""
    assert live_server.port != 8765
    # The user opened the address ghostwatch serve printed once (session and this origin's storage).
    ext.context.new_page().goto(f"{live_server.url}/?token={live_server.token}")
    options = extension_page(ext, "options.html")
    nowhere = f"http://127.0.0.1:{free_port()}"
    options.fill("#serverUrl", nowhere)
    options.get_by_role("button", name=ext.message("optionsPairButton")).click()
    wait_for(lambda: options.get_attribute("#pair-result", "data-ok") == "false", what="the failed attempt")
    assert options.inner_text("#pair-result") == ext.message("statusServerDown")
    time.sleep(1)
    assert options.input_value("#serverUrl") == nowhere  # kept as typed

    options.fill("#serverUrl", live_server.url)
    options.get_by_role("button", name=ext.message("optionsPairButton")).click()
    page = confirmation_page(ext, live_server, options)
    page.wait_for_selector("#pair-approve")
    code = page.inner_text("#pair-code")
    assert re.fullmatch(r"\d{4}", code)
    wait_for(lambda: options.inner_text("#pair-code") == code, what="the same code in the extension")
    time.sleep(2)
    assert ext.storage("token").get("token") in (None, "")  # nothing before the user's step

    page.get_by_role("button", name="この拡張機能を接続").click()
    wait_for(lambda: options.get_attribute("#pair-result", "data-ok") == "true", what="pairing")
    status, health = live_server.json("GET", "/api/health", token=False)
    assert options.inner_text("#pair-result") == ext.message("optionsPaired", health["version"])
    assert ext.storage("serverUrl", "token") == {"serverUrl": live_server.url, "token": live_server.token}
    assert options.input_value("#serverUrl") == live_server.url
    # The confirmation tab is closed again; the badge no longer says "not connected".
    wait_for(lambda: not pages_at(ext, f"{live_server.url}/pair/extension", options), what="the confirmation tab closed")
    wait_for(lambda: ext.badge()[0] != "!", what="the badge once paired")
    assert options.errors == []


def test_pairing_without_the_web_view_session_says_what_to_do(ext, live_server):
    options = extension_page(ext, "options.html")
    options.fill("#serverUrl", live_server.url)
    options.click("#pair")
    wait_for(lambda: options.get_attribute("#pair-result", "data-ok") == "false", what="the refusal")
    assert options.inner_text("#pair-result") == ext.message("optionsPairNoSession")
    assert "?token=" in options.inner_text("#pair-result")
    assert not pages_at(ext, f"{live_server.url}/pair/extension", options)
    assert ext.storage("token").get("token") in (None, "")
    assert options.errors == []


def test_popup_lists_what_needs_action_and_notifies_once(ext, live_server, standin):
    paired(ext, live_server)
    silent = shifted("lancers/thread_silent_fixed", SILENT_AGO).serve(standin)
    recent = shifted("crowdworks/contract_recent", RECENT_AGO).serve(standin)
    open_tab(ext, silent.url)
    open_tab(ext, recent.url)
    ext.wait_badge(silent.url, lambda t, c, ti: t == "10")
    ext.wait_badge(recent.url, lambda t, c, ti: t == "1")

    popup = extension_page(ext, "popup.html")
    popup.wait_for_selector("li.contract")
    items = popup.locator("li.contract")
    assert items.count() == 1  # the recent one needs nothing
    item = items.first
    assert item.get_attribute("data-contract-id") == "4862017"
    assert item.locator(".chip").inner_text() == state_label("eligible")
    assert item.locator(".days").inner_text() == "10"
    assert ext.message("popupDays", 10) in item.inner_text()
    # The server's next_action.line: today apart from later.
    assert item.locator(".next").inner_text() == "今日: 連絡催促申請をする"
    assert item.locator("a.open-contract").get_attribute("href") == silent.url
    assert item.locator("a.open-web").get_attribute("href") == f"{live_server.url}/contracts/lancers/4862017"
    assert popup.locator("#status").get_attribute("data-kind") == "ok"

    # One notification for the contract that became eligible, and only one.
    notifications = ext.evaluate("chrome.notifications.getAll()")
    assert [k for k in notifications if k.startswith("lancers/4862017/eligible/")], notifications
    notified = ext.storage("notified")["notified"]
    assert len(notified) == 1
    popup.reload()
    popup.wait_for_selector("li.contract")
    assert len(ext.storage("notified")["notified"]) == 1

    # "Capture this page now" for the recent contract's tab: one more capture,
    # with its JSON (the same routine as the content script).
    # (The server keeps one row for the same page captured in the same second.)
    time.sleep(1.1)
    before = len(snapshot_rows(live_server.home))
    tab = ext.tab_id(recent.url)
    hits = standin.hits.get("crowdworks.jp/message/threads/304918120/messages.json", 0)
    result = popup.evaluate("(id) => chrome.runtime.sendMessage({type: 'capture-tab', tabId: id})", tab)
    assert result == {"ok": True, "queued": False, "problem": None}
    assert len(snapshot_rows(live_server.home)) == before + 1
    assert standin.hits["crowdworks.jp/message/threads/304918120/messages.json"] == hits + 1
    assert popup.errors == []


def test_a_passed_deadline_notifies_once(ext, live_server, standin):
    paired(ext, live_server)
    # A filed Lancers request whose 7-day deadline passed (the deadline moves with the messages).
    capture = shifted("lancers/thread_requested", timedelta(days=21)).serve(standin)
    page = open_tab(ext, capture.url)
    text, color, title = settled(ext, capture.url)
    answer = contract(live_server, capture)
    assert answer["state"] == "overdue"
    assert (text, color) == (str(answer["silent_days"]), RED)
    assert title == ext.message("titleContract", answer["title"], state_label("overdue"),
                                answer["silent_days"])
    key = f"lancers/4839925/overdue/{answer['deadline_at']}"
    wait_for(lambda: key in ext.evaluate("chrome.notifications.getAll()"), what="the overdue notification")

    # Seen again (a reload, the summary alarm): no second notification.
    ext.evaluate("(k) => chrome.notifications.clear(k)", key)
    time.sleep(1.1)
    page.reload()
    wait_for(lambda: len(snapshot_rows(live_server.home)) == 2, what="the second capture")
    ext.evaluate("chrome.alarms.create('summary', {when: Date.now(), periodInMinutes: 1})")
    time.sleep(3)
    assert ext.evaluate("chrome.notifications.getAll()") == {}
    assert list(ext.storage("notified")["notified"]) == [key]


def test_global_badge_follows_the_summary_on_its_schedule(ext, live_server):
    paired(ext, live_server)
    alarm = wait_for(lambda: ext.evaluate("chrome.alarms.get('summary')"), what="the summary alarm")
    assert alarm["periodInMinutes"] == 1
    # The collector (not the extension) stores a silent contract.
    capture = shifted("lancers/thread_silent_fixed", SILENT_AGO)
    status, _ = live_server.json("POST", "/api/snapshots", {
        "url": capture.url, "html": capture.html, "responses": capture.responses,
        "captured_at": datetime.now(JST).isoformat(), "source": "collector"})
    assert status == 200
    ext.evaluate("chrome.alarms.create('summary', {when: Date.now(), periodInMinutes: 1})")
    text, color, title = wait_for(lambda: (b := ext.badge()) and b[0] == "1" and b, what="the global badge")
    assert color == RED
    assert title == ext.message("titleSummary", 1)


# --- the popup, the daily notification ------------------------------------------------------


def unhandled(ext):
    """The worker's unhandled promise rejections (background.js keeps the last ones)."""
    return ext.evaluate("chrome.storage.session.get('unhandled')").get("unhandled", [])


def post_collected(server, names):
    """Captures stored by the collector (not the extension), as of now."""
    for name in names:
        capture = shifted(name)
        status, _ = server.json("POST", "/api/snapshots", {
            "url": capture.url, "html": capture.html, "responses": capture.responses,
            "captured_at": datetime.now(JST).isoformat(), "source": "collector"})
        assert status == 200, name


def test_popup_before_pairing_says_it_is_not_connected(ext):
    popup = extension_page(ext, "popup.html")
    wait_for(lambda: popup.get_attribute("#status", "data-kind") == "no_token", what="the status line")
    assert popup.inner_text("#status") == ext.message("statusNoToken")
    assert popup.locator("li.contract").count() == 0
    assert popup.locator("#nothing").is_hidden()  # never 「いま対応が必要な契約はありません」
    body = popup.inner_text("body")
    assert ext.message("popupNothing") not in body and "対応不要" not in body and "対応は不要" not in body
    assert popup.errors == []


def test_popup_fits_600_px_with_capture_on_top_and_each_next_line(ext, live_server):
    paired(ext, live_server)
    needing = [n for n in CONTRACT_PAGES if shifted(n).expected["verdict"]["state"] in
               ("overdue", "eligible", "unconfirmed", "nudge", "unreadable")]
    assert len(needing) >= 5
    post_collected(live_server, needing)
    popup = ext.context.new_page()
    popup.errors = []
    popup.on("pageerror", lambda err: popup.errors.append(str(err)))
    popup.set_viewport_size({"width": 800, "height": 600})  # Chrome's largest popup
    popup.goto(ext.url("popup.html"))
    popup.wait_for_selector("li.contract")
    assert popup.locator("li.contract").count() == len(needing)
    size = popup.evaluate("""() => ({
        body: document.body.getBoundingClientRect().height,
        doc: document.documentElement.scrollHeight,
        width: document.body.getBoundingClientRect().width,
        list: [document.querySelector('main').scrollHeight, document.querySelector('main').clientHeight],
        capture: document.getElementById('capture').getBoundingClientRect().toJSON(),
        first: document.querySelector('li.contract').getBoundingClientRect().toJSON(),
    })""")
    assert size["body"] <= 600 and size["doc"] <= 600, size
    assert size["list"][0] > size["list"][1]  # the list scrolls inside
    assert size["capture"]["bottom"] < size["first"]["top"] and size["capture"]["top"] < 80, size
    assert popup.inner_text("#capture") == ext.message("popupCapture")
    # Each contract's next step, in the server's one line (today apart from later).
    _, summary = live_server.json("GET", "/api/summary")
    lines = {(v["platform"], v["contract_id"]): v["next_action"]["line"] for v in summary["needing_action"]}
    for item in popup.locator("li.contract").all():
        line = item.locator(".next").inner_text()
        assert line == lines[(item.get_attribute("data-platform"), item.get_attribute("data-contract-id"))]
        assert line.startswith("今日: ") or "から" in line or "まで" in line, line
    # The chips' colours are the server's table's.
    table = {s["state"]: s for s in states_table()["states"]}
    for item in popup.locator("li.contract").all():
        chip = item.locator(".chip")
        state = item.get_attribute("data-state")
        assert chip.inner_text() == table[state]["label"]
        color = chip.evaluate("(el) => getComputedStyle(el).backgroundColor")
        r, g, b = (int(x) for x in re.findall(r"\d+", color)[:3])
        assert f"#{r:02x}{g:02x}{b:02x}" == table[state]["color"]
    assert popup.errors == []


def test_daily_notification_at_the_time_set(ext, live_server):
    paired(ext, live_server)
    post_collected(live_server, ["lancers/thread_silent_fixed", "crowdworks/contract_delivered_silent",
                                 "crowdworks/contract_recent"])
    options = extension_page(ext, "options.html")
    assert options.input_value("#dailyTime") == "09:00"  # the default
    options.fill("#dailyTime", "07:30")
    options.click("#daily-save")
    wait_for(lambda: options.get_attribute("#daily-result", "data-ok") == "true", what="the time saved")
    alarm = ext.evaluate("""async () => { const a = await chrome.alarms.get('daily'); const d = new Date(a.scheduledTime);
        return {h: d.getHours(), m: d.getMinutes(), ahead: a.scheduledTime - Date.now()}; }""")
    assert (alarm["h"], alarm["m"]) == (7, 30) and 0 < alarm["ahead"] <= 24 * 3600 * 1000, alarm
    assert ext.storage("dailyTime")["dailyTime"] == "07:30"

    # No page of the extension open; the clock reaches 07:30 (the alarm fires now).
    for page in list(ext.context.pages):
        page.close()
    ext.evaluate("chrome.alarms.create('daily', {when: Date.now()})")
    wait_for(lambda: "daily" in ext.evaluate("chrome.notifications.getAll()"), what="the daily notification")
    shown = ext.storage("lastDaily")["lastDaily"]
    _, summary = live_server.json("GET", "/api/summary")
    count = len(summary["needing_action"])
    assert count == 2
    assert shown["title"] == ext.message("notifyDailyTitle", count)
    if ext.evaluate("chrome.i18n.getMessage('@@ui_locale')").startswith("ja"):
        assert shown["title"] == "今日やること 2件"
    for v in summary["needing_action"]:
        assert f"{v['title']}: {v['next_action']['line']}" in shown["message"]
    # ... and again tomorrow at 07:30.
    alarm = ext.evaluate("""async () => { const a = await chrome.alarms.get('daily'); const d = new Date(a.scheduledTime);
        return {h: d.getHours(), m: d.getMinutes(), ahead: a.scheduledTime - Date.now()}; }""")
    assert (alarm["h"], alarm["m"]) == (7, 30) and 0 < alarm["ahead"] <= 24 * 3600 * 1000, alarm
    assert unhandled(ext) == []


# --- the queue: nothing blocked, nothing dropped, nothing orphaned ---------------------------


def test_a_page_the_server_always_fails_on_does_not_block_the_others(ext, live_server, standin):
    proxy = FaultProxy(live_server)
    try:
        ext.configure(proxy.url, live_server.token)
        bad = shifted("crowdworks/contract_recent", RECENT_AGO).serve(standin)
        good = shifted("lancers/thread_silent_fixed", SILENT_AGO).serve(standin)
        proxy.fail_urls.add(bad.url)
        open_tab(ext, bad.url)
        text, color, title = ext.wait_badge(bad.url, lambda t, c, ti: t == "!", what="the server error on its tab")
        assert title.startswith(ext.message("titleServerError", "X", 1).split("X")[0])
        assert title != ext.message("titleServerDown", 1)  # a server error, not "not running"
        open_tab(ext, good.url)
        # The page behind it goes through.
        assert settled(ext, good.url)[:2] == ("10", RED)
        assert [r["url"] for r in snapshot_rows(live_server.home)] == [good.url]
        wait_for(lambda: ext.badge()[0] != "!", what="the global badge: the server is not 'down'")

        # Failed again and again: parked, with its count, out of the queue.
        text, color, title = ext.wait_badge(bad.url, lambda t, c, ti: t == "?", timeout=90, what="parked")
        assert color == GREY and title.startswith(ext.message("titleParked", 4, "X").split("4")[0])
        got = ext.storage("queue", "parked")
        assert got["queue"] == []
        [parked] = got["parked"]
        assert (parked["url"], parked["attempts"]) == (bad.url, 4)
        attempts = proxy.posted.count(bad.url)
        time.sleep(5)
        assert proxy.posted.count(bad.url) == attempts  # not sent again by itself

        # Listed on the settings page, with 「再送」.
        options = extension_page(ext, "options.html")
        item = options.locator("li.parked")
        item.wait_for()
        assert bad.url in item.inner_text()
        proxy.fail_urls.clear()
        item.get_by_role("button", name=ext.message("optionsRetry")).click()
        ext.wait_badge(bad.url, lambda t, c, ti: t == "1", what="the badge once sent")
        assert sorted(r["url"] for r in snapshot_rows(live_server.home)) == sorted([good.url, bad.url])
        wait_for(lambda: options.locator("li.parked").count() == 0, what="the parked list emptied")
        assert ext.storage("parked")["parked"] == []
        assert options.errors == []
        assert unhandled(ext) == []
    finally:
        proxy.close()


def test_a_capture_asked_for_while_a_send_is_in_flight_is_sent_too(ext, live_server, standin):
    proxy = FaultProxy(live_server)
    try:
        ext.configure(proxy.url, live_server.token)
        first = shifted("lancers/thread_silent_fixed", SILENT_AGO).serve(standin)
        second = shifted("crowdworks/contract_recent", RECENT_AGO).serve(standin)
        open_tab(ext, second.url)
        settled(ext, second.url)
        proxy.delay_seconds = 4  # the server takes its time over each capture
        open_tab(ext, first.url)
        wait_for(lambda: proxy.posted.count(first.url) == 1, what="the first send in flight")
        # Meanwhile, 「このページをいま記録」 on the other tab.
        popup = extension_page(ext, "popup.html")
        started = time.monotonic()
        result = popup.evaluate("(id) => chrome.runtime.sendMessage({type: 'capture-tab', tabId: id})",
                                ext.tab_id(second.url))
        assert result == {"ok": True, "queued": False, "problem": None}
        assert time.monotonic() - started < 20
        urls = [r["url"] for r in snapshot_rows(live_server.home)]
        assert urls.count(second.url) == 2 and urls.count(first.url) == 1
        assert ext.storage("queue")["queue"] == []
        assert unhandled(ext) == []
    finally:
        proxy.close()


def test_captures_orphaned_by_a_stopped_worker_are_swept_at_start(ext, live_server):
    paired(ext, live_server)
    capture = shifted("lancers/thread_silent_fixed", SILENT_AGO)
    captured_at = datetime.now(JST).isoformat()
    # A worker stopped in the middle: a capture whose entry was never written,
    # and an entry whose capture was already removed.
    ext.evaluate("""(c) => chrome.storage.local.set({
        'snapshot:orphan-1': {html: c.html, responses: c.responses,
                              entry: {id: 'orphan-1', url: c.url, captured_at: c.at, tabId: -1, attempts: 0}},
        queue: [{id: 'gone-1', url: c.url, captured_at: c.at, tabId: -1, attempts: 0}],
    })""", {"html": capture.html, "responses": capture.responses, "url": capture.url, "at": captured_at})
    ext.evaluate("globalThis.startedBefore = true")
    ext.stop_worker()
    extension_page(ext, "popup.html")  # an event: Chrome starts the worker again
    wait_for(lambda: ext.evaluate("globalThis.startedBefore") is None, what="a new worker")
    rows = wait_for(lambda: snapshot_rows(live_server.home), timeout=30, what="the orphaned capture sent")
    assert [(r["url"], r["source"]) for r in rows] == [(capture.url, "extension")]
    assert datetime.fromisoformat(rows[0]["captured_at"]) == datetime.fromisoformat(captured_at).replace(
        microsecond=datetime.fromisoformat(rows[0]["captured_at"]).microsecond)
    wait_for(lambda: ext.storage("queue")["queue"] == [], what="the queue emptied")
    assert not [k for k in ext.storage() if k.startswith("snapshot:")]
    assert unhandled(ext) == []


def test_the_summary_alarm_backs_off_while_the_server_is_down(ext, tmp_path):
    home = tmp_path / "home"
    server = start_server_on(home)
    paired(ext, server)
    wait_for(lambda: ext.evaluate("chrome.alarms.get('summary')"), what="the summary alarm")
    stop_server(server)

    def fire_and_wait(period):
        ext.evaluate("chrome.alarms.create('summary', {when: Date.now(), periodInMinutes: 1})")
        return wait_for(lambda: (a := ext.evaluate("chrome.alarms.get('summary')")) and
                        a["periodInMinutes"] == period and a, what=f"the summary every {period} min")

    fire_and_wait(2)
    fire_and_wait(4)
    alarm = fire_and_wait(8)
    assert alarm["scheduledTime"] / 1000 - time.time() > 7 * 60  # not before 8 minutes
    assert ext.badge()[0] == "!"
    assert ext.storage("status")["status"]["kind"] == "down"

    server = start_server_on(home, server.port)
    try:
        fire_and_wait(1)
        wait_for(lambda: ext.badge()[0] != "!", what="the badge once the server is back")
        assert unhandled(ext) == []
    finally:
        stop_server(server)


def test_invisible_controls_from_a_page_are_shown_neutralised(ext, live_server, standin):
    """A client's title with a right-to-left override and a zero-width space:
    the badge's tooltip, the popup and the notifications show them as <U+…>, as
    the web view does (server.neutral, whose pattern the table serves)."""
    paired(ext, live_server)
    capture = shifted("lancers/thread_silent_fixed", SILENT_AGO)
    title = "美容サロンのLP制作（スマホ対応・1ページ）"
    evil = "美容サロン\u202eのLP\u200b制作（スマホ対応・1ページ）"
    shown = "美容サロン<U+202E>のLP<U+200B>制作（スマホ対応・1ページ）"
    capture.html = capture.html.replace(title, evil)
    capture.responses = [{**r, "body": r["body"].replace(title, evil)} for r in capture.responses]
    assert any(evil in r["body"] for r in capture.responses) or evil in capture.html
    capture.serve(standin)
    open_tab(ext, capture.url)
    text, color, tooltip = settled(ext, capture.url)
    assert contract(live_server, capture)["title"] == evil  # stored as the page had it
    assert shown in tooltip and "\u202e" not in tooltip and "\u200b" not in tooltip

    popup = extension_page(ext, "popup.html")
    popup.wait_for_selector("li.contract")
    assert popup.locator("li.contract .title").first.inner_text() == shown

    ext.evaluate("chrome.alarms.create('daily', {when: Date.now()})")
    wait_for(lambda: (ext.storage("lastDaily").get("lastDaily") or {}).get("message"), what="the daily notification")
    message = ext.storage("lastDaily")["lastDaily"]["message"]
    assert shown in message and "\u202e" not in message
    assert popup.errors == [] and unhandled(ext) == []
