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

from serverkit import (
    CORPUS,
    SCRIPT,
    corpus_page,
    hostile_lancers_thread,
    post_all_corpus,
    post_corpus,
)

pytestmark = pytest.mark.browser

AT = "2026-11-21T09:00:00+09:00"
AT_Q = "at=2026-11-21T09%3A00%3A00%2B09%3A00"


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
    answers = post_all_corpus(live_server)
    sign_in(page, live_server, f"/?{AT_Q}")
    rows = page.locator("tr.contract")
    threads = {name: a for name, a in answers.items() if a["page"] == "thread"}
    open_threads = [a for a in threads.values() if a["status"] not in ("completed", "cancelled")]
    listed_only = {(c["platform"], c["contract_id"]) for a in answers.values() if a["page"] == "contract_list"
                   for c in a["contracts"]} - {(a["platform"], a["contract_id"]) for a in threads.values()}
    expect(rows).to_have_count(len(open_threads) + len(listed_only))
    for answer in open_threads:
        row = page.locator(f'tr.contract[data-platform="{answer["platform"]}"]'
                           f'[data-contract-id="{answer["contract_id"]}"]')
        expect(row.locator("a.title")).to_have_text(answer["title"])
        expect(row.locator(".client")).to_have_text(answer["client"])
    # The corpus says thread_silent_fixed is eligible with 10 days of silence at AT.
    silent = page.locator('tr.contract[data-contract-id="5198842"]')
    expect(silent.locator(".chip")).to_have_text("申請できます")
    expect(silent.locator(".days")).to_have_text("10")
    expect(silent.locator(".action")).to_contain_text("連絡催促申請をする")
    expect(silent.locator(".fresh")).to_contain_text("取得")
    order = ["overdue", "eligible", "unreadable", "requested", "not_eligible", "nudge", "ok", "unknown"]
    states = rows.evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert [order.index(s) for s in states] == sorted(order.index(s) for s in states)
    # Closed contracts are one click away.
    page.get_by_role("link", name="すべて表示").click()
    expect(page.locator('tr.contract[data-state="closed"]')).to_have_count(
        sum(a["status"] in ("completed", "cancelled") for a in threads.values()))


THREADS = sorted(
    f"{p.parent.name}/{p.stem}.html" for p in CORPUS.glob("*/*.json")
    if json.loads(p.read_text(encoding="utf-8"))["expected"]["page"] == "thread"
)


@pytest.mark.parametrize("name", THREADS)
def test_a_contract_page_shows_the_verdict_timeline_picture_and_messages(page, live_server, name):
    _, meta = corpus_page(name)
    expected = meta["expected"]
    _, answer = post_corpus(live_server, name)
    sign_in(page, live_server, f"/contracts/{answer['platform']}/{expected['contract_id']}?at={expected['at']}"
            .replace("+", "%2B"))
    expect(page.locator("#contract-title")).to_have_text(expected["title"])
    verdict = page.locator("#verdict")
    expect(verdict).to_have_attribute("data-state", expected["verdict"]["state"])
    expect(verdict.locator(".days")).to_have_text(
        f"{expected['verdict']['silent_days']}{'+' if expected['verdict']['silence_is_lower_bound'] else ''}")
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
    # The escalation checklist of the platform, and the texts to copy.
    steps = page.locator("ol.checklist li.step")
    expect(steps).to_have_count(4)
    expect(page.locator("#text-reminder")).to_have_value(re.compile(re.escape(expected["client"]) + " 様"))
    office = "ランサーズ事務局" if answer["platform"] == "lancers" else "クラウドワークス事務局"
    expect(page.locator("#text-office")).to_have_value(re.compile(office + " 御中"))
    expect(page.locator("#text-office")).to_have_value(re.compile(expected["contract_id"]))


def test_recording_a_lancers_request_starts_its_seven_day_deadline(page, live_server):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    sign_in(page, live_server, "/contracts/lancers/5198842?at=2026-11-21T12%3A00%3A00%2B09%3A00")
    expect(page.locator("#verdict")).to_have_attribute("data-state", "eligible")
    step = page.locator('li.step[data-step="request_filed"]')
    step.locator('input[name="done_at"]').fill("2026-11-21T10:00")
    step.locator('input[name="note"]').fill("ボタンから申請")
    step.get_by_role("button", name="記録する").click()
    expect(page.locator("#verdict")).to_have_attribute("data-state", "requested")
    expect(page.locator("#verdict .chip")).to_have_text("申請中")
    expect(page.locator("#deadline-at")).to_have_text("2026年11月28日(土) 10:00")
    expect(step.locator(".recorded")).to_contain_text("2026年11月21日(土) 10:00")
    expect(step.locator(".recorded")).to_contain_text("ボタンから申請")
    expect(page.locator("#timeline-svg line.mark-deadline")).to_have_count(1)
    _, api = live_server.json("GET", "/api/contracts/lancers/5198842?at=2026-11-21T12:00:00%2B09:00")
    assert api["state"] == "requested" and api["deadline_at"] == "2026-11-28T10:00:00+09:00"
    # A mistaken record can be taken back.
    page.once("dialog", lambda dialog: dialog.accept())
    step.get_by_role("button", name="取り消す").click()
    expect(page.locator("#verdict")).to_have_attribute("data-state", "eligible")


def test_a_reminder_sent_is_recorded_and_named_in_the_office_text(page, live_server):
    post_corpus(live_server, "crowdworks/contract_collapsed.html")
    sign_in(page, live_server, "/contracts/crowdworks/11655031")
    step = page.locator('li.step[data-step="reminder_sent"]')
    step.locator('input[name="done_at"]').fill("2026-11-20T18:30")
    step.get_by_role("button", name="記録する").click()
    expect(step).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#text-office")).to_have_value(re.compile("こちらからの催促: 2026年11月20日\\(金\\) 18:30"))


def test_a_message_or_title_with_a_script_never_runs_and_reads_as_text(page, live_server):
    url, html, captured_at = hostile_lancers_thread()
    status, answer = live_server.json("POST", "/api/snapshots", {"url": url, "html": html, "captured_at": captured_at})
    assert status == 200 and SCRIPT in answer["title"]
    for path in ("/", "/contracts/lancers/5198842", "/contracts/lancers/5198842/evidence"):
        sign_in(page, live_server, path)
        assert page.evaluate("window.__pwned") is None
        expect(page.locator("body")).to_contain_text(SCRIPT)
        expect(page.locator("body")).to_contain_text('<img src=x onerror="window.__pwned = 2">')
    page.goto(live_server.url + "/contracts/lancers/5198842")
    expect(page.locator("li.message.sender-client").last).to_contain_text(SCRIPT)
    expect(page.locator("#contract-title")).to_have_text(re.compile(re.escape(SCRIPT)))
    expect(page.locator("#text-office")).to_have_value(re.compile("・仕事: " + re.escape(SCRIPT)))
    assert page.locator("script:not([src])").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_the_evidence_page_is_printable_with_the_dated_timeline(page, live_server):
    post_corpus(live_server, "crowdworks/contract_delivered_silent.html")
    _, meta = corpus_page("crowdworks/contract_delivered_silent.html")
    sign_in(page, live_server, f"/contracts/crowdworks/{meta['expected']['contract_id']}")
    page.get_by_role("link", name="証拠として印刷できるページ").click()
    expect(page.locator("h1")).to_have_text("やりとりの記録")
    expect(page.locator("table.facts-table")).to_contain_text(meta["expected"]["client"])
    expect(page.locator("table.messages-table tr")).to_have_count(1 + sum(meta["expected"]["messages"].values()))
    pdf = page.pdf()  # what the print button gives
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_pair_page_offers_the_token_to_the_extension(page, live_server):
    sign_in(page, live_server, "/pair")
    expect(page.locator("code#ghostwatch-token")).to_have_text(live_server.token)
    assert page.locator("body").get_attribute("data-ghostwatch-token") == live_server.token
    assert page.locator("body").get_attribute("data-ghostwatch-server") == f"http://127.0.0.1:{live_server.port}"
    calendar_url = page.locator("#calendar-url").inner_text()
    assert calendar_url == f"http://127.0.0.1:{live_server.port}/calendar.ics?token={live_server.token}"
    assert live_server.request("GET", calendar_url.removeprefix(live_server.url), token=False)[0] == 200


def test_the_popup_link_of_a_contract_opens_its_page(page, live_server):
    _, answer = post_corpus(live_server, "lancers/thread_silent_fixed.html")
    sign_in(page, live_server)
    page.goto(answer["view_url"])
    expect(page.locator("#contract-title")).to_have_text(answer["title"])


def test_copy_buttons_put_the_text_on_the_clipboard(page, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    sign_in(page, live_server, "/contracts/lancers/5198842")
    button = page.locator('button[data-copy-target="text-reminder"]')
    button.click()
    expect(button).to_have_text("コピーしました")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("合同会社ルミエール 様")
    assert copied == page.locator("#text-reminder").input_value()


def test_a_form_on_another_site_cannot_record_a_step(page, live_server):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    sign_in(page, live_server)  # the user is signed in, in this browser
    target = f"{live_server.url}/contracts/lancers/5198842/steps"
    evil = ("<!DOCTYPE html><html><body><form method='post' action='" + target + "'>"
            "<input name='step' value='request_filed'><input name='done_at' value='2026-11-21T10:00'>"
            "<button>go</button></form></body></html>")
    page.route("https://evil.example/**", lambda route: route.fulfill(body=evil, content_type="text/html"))
    page.goto("https://evil.example/")
    with page.expect_response(target) as response:
        page.locator("button").click()
    assert response.value.status == 403
    _, api = live_server.json("GET", "/api/contracts/lancers/5198842")
    assert api["recorded_steps"] == []


def test_a_web_page_cannot_read_the_api_even_knowing_where_it_is(page, live_server):
    post_corpus(live_server, "lancers/thread_silent_fixed.html")
    page.route("https://evil.example/**", lambda route: route.fulfill(body="<html><body>hi</body></html>",
                                                                      content_type="text/html"))
    page.goto("https://evil.example/")
    result = page.evaluate("""async (url) => {
        try { const r = await fetch(url + '/api/summary'); return 'read ' + r.status; }
        catch (e) { return 'blocked'; }
    }""", live_server.url)
    assert result == "blocked"


def test_contracts_seen_only_on_a_list_or_unreadable_are_shown_as_such(page, live_server):
    post_corpus(live_server, "lancers/working_list.html")
    unreadable = {"url": "https://www.lancers.jp/mypage/message?boardId=7123456",
                  "html": "<!DOCTYPE html><html><body><h1>メンテナンス中です</h1></body></html>",
                  "captured_at": AT}
    assert live_server.json("POST", "/api/snapshots", unreadable)[0] == 200
    sign_in(page, live_server)
    row = page.locator('tr.contract[data-contract-id="7123456"]')
    expect(row.locator(".chip")).to_have_text("読み取り不可")
    expect(row.locator(".days")).to_have_text("—")  # never 0 days
    expect(row.locator(".action")).to_contain_text("ページを再取得")
    _, meta = corpus_page("lancers/working_list.html")
    listed = meta["expected"]["contracts"][0]
    row = page.locator(f'tr.contract[data-contract-id="{listed["contract_id"]}"]')
    expect(row.locator(".chip")).to_have_text("未確認")
    expect(row.locator("a.open-page")).to_have_attribute("href", re.compile(r"^https://www\.lancers\.jp/"))
    row.locator("a.title").click()
    expect(page.locator("#verdict")).to_have_attribute("data-state", "unknown")
    expect(page.locator("#messages")).to_contain_text("メッセージはまだ記録されていません")
    page.goto(f"{live_server.url}/contracts/lancers/7123456")
    expect(page.locator("ul.reasons")).to_contain_text("読み取れませんでした")
