"""The web view in real Chromium (pytest-playwright), against the real server.

A freelancer opens the address ``ghostwatch serve`` printed, sees their
contracts most urgent first, opens one, records what they did, copies a
polite text, prints the evidence.  Whatever a client wrote stays text.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from corpus import page as corpus_page
from pagekit import crowdworks_capture
from serverkit import IMG, SCRIPT, hostile_lancers_thread
from test_api import (
    AT,
    INQUIRY,
    LISTS,
    NO_API,
    SILENT,
    THREADS,
    contract_key,
    days_text,
    post_all,
    post_page,
)

pytestmark = pytest.mark.browser

JOB = SILENT.expected["contract_id"]  # Lancers: the contract is the job
URGENCY = ["overdue", "eligible", "unconfirmed", "unreadable", "requested", "not_eligible", "nudge", "ok", "unknown"]
SOURCE_TEXTS = {"api": "プラットフォームの JSON", "page": "ページ", "list": "一覧"}


def at_query(at: str) -> str:
    return "at=" + at.replace(":", "%3A").replace("+", "%2B")


def sign_in(page, server, path="/"):
    """Open the address ``ghostwatch serve`` prints, as the user does."""
    sep = "&" if "?" in path else "?"
    page.goto(f"{server.url}{path}{sep}token={server.token}")
    assert "token=" not in page.url  # the token leaves the address bar


def test_the_printed_address_signs_in_and_the_cookie_keeps_you_in(page, live_server):
    sign_in(page, live_server)
    expect(page.locator("h1")).to_contain_text("契約一覧")
    page.goto(live_server.url + "/pair")
    expect(page.locator("h1")).to_have_text("拡張機能と接続")


def test_without_the_token_the_page_says_how_to_get_in(page, live_server):
    response = page.goto(live_server.url + "/")
    assert response.status == 401
    expect(page.locator("h1")).to_have_text("このページを見るにはトークンが必要です")
    expect(page.locator("main")).to_contain_text("ghostwatch serve")
    expect(page.locator("main")).to_contain_text(f"http://127.0.0.1:{live_server.port}/?token=")


def test_an_empty_database_explains_how_to_start(page, live_server):
    sign_in(page, live_server)
    empty = page.locator("section.empty")
    expect(empty).to_contain_text("まだ契約がありません")
    expect(empty).to_contain_text("chrome://extensions")
    expect(empty).to_contain_text("ghostwatch collect")
    expect(empty.get_by_role("link", name="拡張機能と接続")).to_be_visible()


def test_the_list_shows_every_open_corpus_contract_most_urgent_first(page, live_server):
    post_all(live_server)
    sign_in(page, live_server, f"/?{at_query(AT)}")
    rows = page.locator("tr.contract")
    closed = [p for p in THREADS if p.expected["verdict"]["state"] == "closed"]
    open_threads = [p for p in THREADS if p not in closed]
    listed_only = ({c["contract_id"] for p in LISTS for c in p.expected["contracts"]}
                   - {contract_key(p) for p in THREADS})
    expect(rows).to_have_count(len(open_threads) + len(listed_only))
    for p in open_threads:
        expected = p.expected
        row = page.locator(f'tr.contract[data-platform="{p.html.parent.name}"]'
                           f'[data-contract-id="{contract_key(p)}"]')
        expect(row).to_have_attribute("data-thread-id", expected["thread_id"])
        if expected.get("unreadable"):
            continue  # shown as a board, below
        expect(row.locator("a.title")).to_have_text(expected["title"])
        expect(row.locator(".client")).to_have_text(expected["client"] or re.compile("不明"))
    # The corpus says thread_silent_fixed is eligible with 10 days of silence at AT.
    silent = page.locator(f'tr.contract[data-contract-id="{JOB}"]')
    expect(silent.locator(".chip")).to_have_text("申請できます")
    expect(silent.locator(".days")).to_have_text(days_text(SILENT.expected["verdict"]))
    expect(silent.locator(".action")).to_contain_text("連絡催促申請をする")
    expect(silent.locator(".fresh")).to_contain_text("取得")
    states = rows.evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert [URGENCY.index(s) for s in states] == sorted(URGENCY.index(s) for s in states)
    # An inquiry is no contract: not in the list.
    expect(page.locator(f'tr.contract[data-thread-id="{INQUIRY.expected["thread_id"]}"]')).to_have_count(0)
    # Closed contracts are one click away.
    page.get_by_role("link", name="すべて表示").click()
    expect(page.locator('tr.contract[data-state="closed"]')).to_have_count(len(closed))


READABLE = [p for p in THREADS if not p.expected.get("unreadable")]


@pytest.mark.parametrize("p", READABLE, ids=[p.name for p in READABLE])
def test_a_contract_page_shows_the_verdict_timeline_picture_and_messages(page, live_server, p):
    expected = p.expected
    platform = p.html.parent.name
    post_page(live_server, p)
    sign_in(page, live_server, f"/contracts/{platform}/{expected['contract_id']}?{at_query(expected['at'])}")
    expect(page.locator("#contract-title")).to_have_text(expected["title"])
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-state", expected["verdict"]["state"])
    expect(verdict.locator(".days")).to_have_text(days_text(expected["verdict"]))
    messages = page.locator("li.message")
    expect(messages).to_have_count(sum(expected["messages"].values()))
    expect(page.locator("li.message.sender-client")).to_have_count(expected["messages"]["client"])
    svg = page.locator("#timeline-svg")
    expect(svg.locator("circle.dot")).to_have_count(sum(expected["messages"].values()))
    expect(svg.locator("circle.dot-client")).to_have_count(expected["messages"]["client"])
    closed = expected["verdict"]["state"] == "closed"
    expect(svg.locator("rect.gap")).to_have_count(0 if closed else 1)
    expect(svg.locator("line.mark-eligible")).to_have_count(0 if closed else 1)
    expect(svg.locator("line.mark-now")).to_have_count(1)
    if expected["verdict"]["deadline_at"]:
        expect(svg.locator("line.mark-deadline")).to_have_count(1)
        expect(page.locator("#deadline-at")).to_be_visible()
    # Where each fact came from, and which are unknown.
    facts = page.locator("#facts")
    for key in ("title", "client", "pay_type", "status", "escalation"):
        fact = facts.locator(f'tr[data-fact="{key}"]')
        if expected[key] is None:
            expect(fact.locator("td.value")).to_have_text("不明")
            expect(fact).to_have_attribute("data-source", "")
        else:
            expect(fact.locator("td.source")).to_have_text(re.compile("プラットフォームの JSON|ページ"))
    expect(facts.locator('tr[data-fact="messages"] td.source')).to_have_text(SOURCE_TEXTS[expected["source"]])
    expect(facts.locator('tr[data-fact="messages"] td.value')).to_have_text(
        f"{sum(expected['messages'].values())}件")
    if platform == "lancers":  # the job and its board, each with its link
        expect(page.get_by_role("link", name=expected["contract_id"], exact=True)).to_have_attribute(
            "href", f"https://www.lancers.jp/work/detail/{expected['contract_id']}")
        expect(page.get_by_role("link", name=expected["thread_id"], exact=True)).to_have_attribute(
            "href", p.url)
    # The escalation checklist of the platform, and the texts to copy.
    steps = page.locator("ol.checklist li.step")
    expect(steps).to_have_count(4)
    expect(page.locator("#text-reminder")).to_have_value(
        re.compile(re.escape(expected["client"] or "ご担当者") + " 様"))
    office = "ランサーズ事務局" if platform == "lancers" else "クラウドワークス事務局"
    expect(page.locator("#text-office")).to_have_value(re.compile(office + " 御中"))
    expect(page.locator("#text-office")).to_have_value(re.compile(expected["contract_id"]))


def test_an_unconfirmed_contract_says_to_open_the_deal_and_look_for_the_button(page, live_server):
    [p] = [p for p in READABLE if p.expected["verdict"]["state"] == "unconfirmed"]
    expected = p.expected
    post_page(live_server, p)
    sign_in(page, live_server, f"/?{at_query(expected['at'])}")
    row = page.locator(f'tr.contract[data-contract-id="{expected["contract_id"]}"]')
    expect(row).to_have_attribute("data-state", "unconfirmed")
    expect(row.locator(".chip")).to_have_text("要確認")
    expect(row.locator(".days")).to_have_text(days_text(expected["verdict"]))
    expect(row.locator(".action")).to_contain_text("連絡催促申請")
    # The legend says what 要確認 means.
    legend = page.locator("#legend")
    expect(legend.locator('dd[data-state="unconfirmed"]')).to_contain_text("「連絡催促申請」ボタン")
    for state in URGENCY + ["closed"]:
        expect(legend.locator(f'dt .chip[data-state="{state}"]')).to_have_count(1)
    # 要確認 has its own colour, not the grey of the unknown.
    colour = row.locator(".chip").evaluate("e => getComputedStyle(e).backgroundColor")
    unknown = legend.locator('dt .chip[data-state="unknown"]').evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour != unknown
    row.locator("a.title").click()
    notice = page.locator("#unconfirmed")
    expect(notice).to_contain_text("要確認")
    expect(notice).to_contain_text("「連絡催促申請」ボタンが表示されているか確認")
    expect(notice.get_by_role("link", name=re.compile("メッセージページを開"))).to_have_attribute("href", p.url)
    # Which facts are unknown.
    for key in ("client", "pay_type", "status", "escalation"):
        assert expected[key] is None
        expect(page.locator(f'#facts tr[data-fact="{key}"] td.value')).to_have_text("不明")
    expect(page.locator('#facts tr[data-fact="title"] td.source')).to_have_text("プラットフォームの JSON")


def test_a_crowdworks_contract_whose_status_is_unknown_says_to_check_it_on_the_contract_page(page, live_server):
    capture = crowdworks_capture("71230001", [("me", "2026-11-09T10:00:00+09:00", "ご確認をお願いします。"),
                                              ("client", "2026-11-10T09:00:00+09:00", "確認します。")],
                                 status="unknown", title="店舗ロゴの制作", client="株式会社みどり")
    at = "2026-11-21T09:00:00+09:00"
    status, answer = live_server.json("POST", "/api/snapshots", {
        "url": capture.url, "html": capture.html, "captured_at": at, "responses": capture.responses, "at": at})
    assert status == 200 and answer["state"] == "unconfirmed", answer  # 11 days, status not shown
    sign_in(page, live_server, f"/contracts/crowdworks/71230001?{at_query(at)}")
    expect(page.locator("#verdict .chip")).to_have_text("要確認")
    notice = page.locator("#unconfirmed")
    expect(notice).to_contain_text("契約の状態を確認")
    expect(notice.get_by_role("link", name=re.compile("契約ページを開"))).to_have_attribute("href", capture.url)
    expect(page.locator('#facts tr[data-fact="status"] td.value')).to_have_text("不明")
    expect(page.locator('#facts tr[data-fact="client"] td.value')).to_have_text("株式会社みどり")
    expect(page.locator('#facts tr[data-fact="client"] td.source')).to_have_text("ページ")
    expect(page.locator('#facts tr[data-fact="messages"] td.source')).to_have_text("プラットフォームの JSON")


def test_a_lancers_board_whose_job_is_unknown_is_shown_as_a_board(page, live_server):
    board = NO_API.expected["thread_id"]
    post_page(live_server, NO_API)
    sign_in(page, live_server)
    row = page.locator(f'tr.contract[data-thread-id="{board}"]')
    expect(row.locator("a.title")).to_have_text("案件不明のメッセージボード")
    expect(row.locator(".chip")).to_have_text("読み取り不可")
    expect(row.locator(".days")).to_have_text("—")  # never 0 days
    expect(row).to_contain_text(board)
    expect(row.locator("a.open-page")).to_have_attribute("href", NO_API.url)
    expect(row.locator("a.open-page")).to_contain_text("メッセージボード")
    row.locator("a.title").click()
    expect(page.locator("#contract-title")).to_have_text("案件不明のメッセージボード")
    expect(page.locator("#board-without-job").get_by_role("link")).to_have_attribute("href", NO_API.url)
    expect(page.locator("ul.reasons")).to_contain_text(f"/v1/message_api/boards/{board}")
    expect(page.locator("body")).not_to_contain_text("board-")  # the store's key is not shown
    for key in ("title", "client", "pay_type", "status", "escalation", "messages"):
        expect(page.locator(f'#facts tr[data-fact="{key}"] td.value')).to_have_text("不明")
    expect(page.locator("#text-office")).to_have_value(re.compile(f"メッセージボード {board}"))
    page.get_by_role("link", name="証拠として印刷できるページ").click()
    expect(page.locator("h1")).to_have_text("やりとりの記録")
    expect(page.locator("table.facts-table")).to_contain_text(board)
    expect(page.locator("body")).to_contain_text("（1回）")  # the capture that could not be read is kept
    expect(page.locator("body")).to_contain_text("読み取り不可")


def test_recording_a_lancers_request_starts_its_seven_day_deadline(page, live_server):
    post_page(live_server, SILENT)
    sign_in(page, live_server, f"/contracts/lancers/{JOB}?at=2026-11-21T12%3A00%3A00%2B09%3A00")
    expect(page.locator("#verdict")).to_have_attribute("data-state", "eligible")
    step = page.locator('li.step[data-step="request_filed"]')
    expect(step.locator("input.step-check")).not_to_be_checked()
    step.locator('input[name="done_at"]').fill("2026-11-21T10:00")
    step.locator('input[name="note"]').fill("ボタンから申請")
    step.locator("input.step-check").click()  # a real checkbox: ticking it saves the step
    expect(page.locator("#verdict")).to_have_attribute("data-state", "requested")
    expect(step.locator("input.step-check")).to_be_checked()
    expect(page.locator("#verdict .chip")).to_have_text("申請中")
    expect(page.locator("#deadline-at")).to_have_text("2026年11月28日(土) 10:00")
    expect(step.locator(".recorded")).to_contain_text("2026年11月21日(土) 10:00")
    expect(step.locator(".recorded")).to_contain_text("ボタンから申請")
    expect(page.locator("#timeline-svg line.mark-deadline")).to_have_count(1)
    _, api = live_server.json("GET", f"/api/contracts/lancers/{JOB}?at=2026-11-21T12:00:00%2B09:00")
    assert api["state"] == "requested" and api["deadline_at"] == "2026-11-28T10:00:00+09:00"
    # A mistaken record can be taken back: untick it (after a confirmation).
    page.once("dialog", lambda dialog: dialog.accept())
    step.locator("input.step-check").click()
    expect(page.locator("#verdict")).to_have_attribute("data-state", "eligible")
    expect(step.locator("input.step-check")).not_to_be_checked()
    _, api = live_server.json("GET", f"/api/contracts/lancers/{JOB}")
    assert api["recorded_steps"] == []


def test_a_reminder_sent_is_recorded_and_named_in_the_office_text(page, live_server):
    p = corpus_page("crowdworks/contract_collapsed")
    post_page(live_server, p)
    sign_in(page, live_server, f"/contracts/crowdworks/{p.expected['contract_id']}")
    step = page.locator('li.step[data-step="reminder_sent"]')
    # The page shows the user's messages a day or more after the client's last (11/17 19:22): ticked already.
    from collector.timeutil import parse_instant
    from server.rules import REMINDER_AFTER

    last_client = parse_instant(p.expected["last_client_message_at"])
    from collector.crowdworks import japanese_time

    sent = [japanese_time(m["senddate"]) for r in p.responses_list() for m in json.loads(r["body"])["messages"]
            if m["own_message"]]
    reminders = [t for t in sent if t >= last_client + REMINDER_AFTER]
    assert len(reminders) == 1 and len([t for t in sent if t > last_client]) == 2  # one answer, one reminder
    expect(step.locator("input.step-check")).to_be_checked()
    expect(step.locator(".shown")).to_have_count(len(reminders))
    step.locator('input[name="done_at"]').fill("2026-11-20T18:30")
    step.get_by_role("button", name="保存").click()  # ticked: saving records this reminder
    expect(step).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#text-office")).to_have_value(re.compile("こちらからの催促: 2026年11月20日\\(金\\) 18:30"))


def test_a_message_or_title_with_a_script_never_runs_and_reads_as_text(page, live_server):
    url, html, captured_at, responses = hostile_lancers_thread()
    status, answer = live_server.json(
        "POST", "/api/snapshots", {"url": url, "html": html, "captured_at": captured_at, "responses": responses})
    assert status == 200 and SCRIPT in answer["title"]
    for path in ("/", f"/contracts/lancers/{JOB}", f"/contracts/lancers/{JOB}/evidence"):
        sign_in(page, live_server, path)
        assert page.evaluate("window.__pwned") is None
        expect(page.locator("body")).to_contain_text(SCRIPT)
        expect(page.locator("body")).to_contain_text(IMG)
    page.goto(f"{live_server.url}/contracts/lancers/{JOB}")
    expect(page.locator("li.message.sender-client").last).to_contain_text(SCRIPT)
    expect(page.locator("#contract-title")).to_have_text(re.compile(re.escape(SCRIPT)))
    expect(page.locator("#text-office")).to_have_value(re.compile("・仕事: " + re.escape(SCRIPT)))
    assert page.locator("script:not([src])").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_the_evidence_page_is_printable_with_the_dated_timeline(page, live_server):
    p = corpus_page("crowdworks/contract_delivered_silent")
    post_page(live_server, p)
    sign_in(page, live_server, f"/contracts/crowdworks/{p.expected['contract_id']}")
    page.get_by_role("link", name="証拠として印刷できるページ").click()
    expect(page.locator("h1")).to_have_text("やりとりの記録")
    facts = page.locator("table.facts-table")
    expect(facts).to_contain_text(p.expected["client"])
    expect(facts.locator('tr[data-fact="messages"] td.source')).to_have_text(SOURCE_TEXTS[p.expected["source"]])
    expect(page.locator("table.messages-table tr")).to_have_count(1 + sum(p.expected["messages"].values()))
    pdf = page.pdf()  # what the print button gives
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_pair_page_shows_the_token_to_the_user_only(page, live_server):
    sign_in(page, live_server, "/pair")
    expect(page.locator("code#ghostwatch-token")).to_have_text(live_server.token)
    # Not in an attribute another extension with access to 127.0.0.1 could read;
    # the extension pairs through the confirmation of server/pairing.py.
    assert page.locator("body").get_attribute("data-ghostwatch-token") is None
    assert page.locator("body").get_attribute("data-ghostwatch-server") == f"http://127.0.0.1:{live_server.port}"
    calendar_url = page.locator("#calendar-url").inner_text()
    assert calendar_url.startswith(f"http://127.0.0.1:{live_server.port}/calendar.ics?token=")
    assert live_server.request("GET", calendar_url.removeprefix(live_server.url), token=False)[0] == 200


def test_the_popup_link_of_a_contract_opens_its_page(page, live_server):
    _, answer = post_page(live_server, SILENT)
    sign_in(page, live_server)
    page.goto(answer["view_url"])
    expect(page.locator("#contract-title")).to_have_text(SILENT.expected["title"])


def test_copy_buttons_put_the_text_on_the_clipboard(page, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    post_page(live_server, SILENT)
    sign_in(page, live_server, f"/contracts/lancers/{JOB}")
    button = page.locator('button[data-copy-target="text-reminder"]')
    button.click()
    expect(button).to_have_text("コピーしました")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(f"{SILENT.expected['client']} 様")
    assert copied == page.locator("#text-reminder").input_value()


def test_a_form_on_another_site_cannot_record_a_step(page, live_server):
    post_page(live_server, SILENT)
    sign_in(page, live_server)  # the user is signed in, in this browser
    target = f"{live_server.url}/contracts/lancers/{JOB}/steps"
    evil = ("<!DOCTYPE html><html><body><form method='post' action='" + target + "'>"
            "<input name='step' value='request_filed'><input name='done_at' value='2026-11-21T10:00'>"
            "<button>go</button></form></body></html>")
    page.route("https://evil.example/**", lambda route: route.fulfill(body=evil, content_type="text/html"))
    page.goto("https://evil.example/")
    with page.expect_response(target) as response:
        page.locator("button").click()
    assert response.value.status == 403
    _, api = live_server.json("GET", f"/api/contracts/lancers/{JOB}")
    assert api["recorded_steps"] == []


def test_a_web_page_cannot_read_the_api_even_knowing_where_it_is(page, live_server):
    post_page(live_server, SILENT)
    page.route("https://evil.example/**", lambda route: route.fulfill(body="<html><body>hi</body></html>",
                                                                      content_type="text/html"))
    page.goto("https://evil.example/")
    result = page.evaluate("""async (url) => {
        try { const r = await fetch(url + '/api/summary'); return 'read ' + r.status; }
        catch (e) { return 'blocked'; }
    }""", live_server.url)
    assert result == "blocked"


def test_contracts_seen_only_on_a_list_or_unreadable_are_shown_as_such(page, live_server):
    working_list = corpus_page("lancers/working_list")
    post_page(live_server, working_list)
    unreadable = {"url": "https://crowdworks.jp/contracts/71234567",
                  "html": "<!DOCTYPE html><html><body><h1>メンテナンス中です</h1></body></html>",
                  "captured_at": AT, "responses": []}
    assert live_server.json("POST", "/api/snapshots", unreadable)[0] == 200
    sign_in(page, live_server)
    row = page.locator('tr.contract[data-contract-id="71234567"]')
    expect(row.locator(".chip")).to_have_text("読み取り不可")
    expect(row.locator(".days")).to_have_text("—")  # never 0 days
    expect(row.locator(".action")).to_contain_text("ページを再取得")
    listed = working_list.expected["contracts"][0]
    row = page.locator(f'tr.contract[data-contract-id="{listed["contract_id"]}"]')
    expect(row.locator(".chip")).to_have_text("未確認")
    expect(row.locator("a.open-page")).to_have_attribute(
        "href", f"https://www.lancers.jp/work/detail/{listed['contract_id']}")
    row.locator("a.title").click()
    expect(page.locator("#verdict")).to_have_attribute("data-state", "unknown")
    expect(page.locator("#messages")).to_contain_text("メッセージはまだ記録されていません")
    # The status seen on the list, said to be the list's.
    status = page.locator('#facts tr[data-fact="status"]')
    expect(status.locator("td.source")).to_have_text("一覧")
    expect(status.locator("td.value")).to_contain_text("進行中")
    expect(page.locator('#facts tr[data-fact="client"] td.value')).to_have_text("不明")
    page.goto(f"{live_server.url}/contracts/crowdworks/71234567")
    expect(page.locator("ul.reasons")).to_contain_text("読み取れませんでした")


def test_an_inquiry_never_appears_as_a_contract(page, live_server):
    status, answer = post_page(live_server, INQUIRY)
    assert status == 200 and answer["page"] == "inquiry"
    sign_in(page, live_server)
    expect(page.locator("section.empty")).to_contain_text("まだ契約がありません")
    expect(page.locator("tr.contract")).to_have_count(0)
    board = INQUIRY.expected["thread_id"]
    for cid in (board, f"board-{board}"):
        assert page.goto(f"{live_server.url}/contracts/lancers/{cid}").status == 404


def test_an_unreadable_contract_offers_its_structure_report(page, live_server):
    """「構造レポートを保存」 on an unreadable contract's page downloads a report of
    the page's structure that holds none of its names or ids."""
    unreadable = corpus_page("lancers/thread_no_api")
    status, answer = post_page(live_server, unreadable)
    assert status == 200 and answer["state"] == "unreadable"
    sign_in(page, live_server, f"/contracts/lancers/{answer['contract_id']}")
    with page.expect_download() as download:
        page.get_by_role("button", name="構造レポートを保存").click()
    report = download.value.path().read_text(encoding="utf-8")
    assert "p-message-board" in report  # the structure is there
    html = unreadable.html.read_text(encoding="utf-8")
    for secret in re.findall(r'<p class="p-message-board-list__name">([^<]+)</p>', html)[:5]:
        assert secret not in report
    assert unreadable.expected["thread_id"] not in report
    readable = corpus_page("lancers/thread_recent")
    post_page(live_server, readable)
    sign_in(page, live_server, f"/contracts/lancers/{readable.expected['contract_id']}")
    expect(page.get_by_role("button", name="構造レポートを保存")).to_have_count(0)
