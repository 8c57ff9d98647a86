"""A freelancer's day with the web view (issue 10), in real Chromium against the
real server: truthful dates (a stale contract, the silence the saved pages
prove, CrowdWorks' delivery and 検収 week), today's list, the phone layout,
the texts with the user's name, the checklist from the pages, calendar links.

Expectations come from the corpus JSON and the rules' constants, never from
the server's own answers.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from collector.timeutil import parse_instant
from corpus import page as corpus_page
from server import rules
from test_api import post_page
from test_web import at_query, sign_in

pytestmark = pytest.mark.browser

DELIVERED = corpus_page("crowdworks/contract_delivered_silent")
LATER = "2026-11-25T13:00:00+09:00"  # four days after the capture: the page is stale


def whole_days(since: str, until: str) -> int:
    return (parse_instant(until) - parse_instant(since)) // timedelta(days=1)


def jdt(iso: str) -> str:
    d = parse_instant(iso)
    return f"{d.year}年{d.month}月{d.day}日({'月火水木金土日'[d.weekday()]}) {d:%H:%M}"


def test_a_stale_contract_says_how_old_its_page_is_and_draws_the_unobserved_stretch(page, live_server):
    meta = DELIVERED.meta
    cid = DELIVERED.expected["contract_id"]
    post_page(live_server, DELIVERED)
    proven = whole_days(DELIVERED.expected["last_client_message_at"], meta["captured_at"])
    age = whole_days(meta["captured_at"], LATER)
    assert proven == 9 and age == 4
    sign_in(page, live_server, f"/contracts/crowdworks/{cid}?{at_query(LATER)}")
    notice = page.locator("#stale")
    expect(notice).to_contain_text(f"{age}日前")
    expect(notice).to_contain_text(jdt(meta["captured_at"]))
    expect(notice).to_contain_text(f"{proven}日")
    expect(notice.get_by_role("link")).to_have_attribute("href", DELIVERED.url)
    svg = page.locator("#timeline-svg")
    expect(svg.locator("rect.gap")).to_have_attribute("data-days", str(proven))
    expect(svg.locator("rect.unobserved")).to_have_attribute("data-days", str(age))
    # The unobserved stretch starts where the proven silence ends, and reaches now.
    gap = svg.locator("rect.gap").evaluate("r => [r.x.baseVal.value, r.width.baseVal.value]")
    unobserved = svg.locator("rect.unobserved").evaluate("r => [r.x.baseVal.value, r.width.baseVal.value]")
    now_x = float(svg.locator("line.mark-now").get_attribute("x1"))
    assert abs(gap[0] + gap[1] - unobserved[0]) < 0.2
    assert abs(unobserved[0] + unobserved[1] - now_x) < 0.2
    assert svg.locator("rect.unobserved").get_attribute("fill") != svg.locator("rect.gap").get_attribute("fill")
    # CrowdWorks: the delivery and the 検収 guideline, KENSHU_DAYS later.
    delivered = parse_instant("2026-11-12T17:31:00+09:00")  # the corpus page's 納品 message
    kenshu = delivered + timedelta(days=rules.KENSHU_DAYS)
    expect(svg.locator("g.mark-delivered text")).to_have_text(f"納品 {delivered.month}/{delivered.day}")
    expect(svg.locator("g.mark-kenshu text")).to_have_text(f"検収の目安 {kenshu.month}/{kenshu.day}")
    delivered_x = float(svg.locator("line.mark-delivered").get_attribute("x1"))
    kenshu_x = float(svg.locator("line.mark-kenshu").get_attribute("x1"))
    assert delivered_x < kenshu_x < now_x
    # No two mark labels overlap.
    boxes = svg.locator("text.mark-label").evaluate_all(
        "ts => ts.map(t => { const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_a_fresh_contract_has_no_stale_notice(page, live_server):
    post_page(live_server, DELIVERED)
    cid = DELIVERED.expected["contract_id"]
    sign_in(page, live_server, f"/contracts/crowdworks/{cid}?{at_query(DELIVERED.expected['at'])}")
    expect(page.locator("#verdict")).to_have_attribute("data-state", DELIVERED.expected["verdict"]["state"])
    expect(page.locator("#stale")).to_have_count(0)


def test_the_evidence_page_states_the_silence_its_saved_pages_prove(page, live_server):
    meta = DELIVERED.meta
    cid = DELIVERED.expected["contract_id"]
    post_page(live_server, DELIVERED)
    sign_in(page, live_server, f"/contracts/crowdworks/{cid}/evidence?{at_query(LATER)}")
    row = page.locator("#proven-silence")
    expect(row).to_contain_text(jdt(DELIVERED.expected["last_client_message_at"]))
    expect(row).to_contain_text(jdt(meta["captured_at"]))
    proven = whole_days(DELIVERED.expected["last_client_message_at"], meta["captured_at"])
    expect(row.locator(".proven-days")).to_have_text(f"{proven}日")
    expect(row).to_contain_text("含まれていません")  # nothing after the capture is claimed
    up_to_now = whole_days(DELIVERED.expected["last_client_message_at"], LATER)
    expect(page.locator("body")).not_to_contain_text(f"{up_to_now}日")
    expect(page.locator("#delivered")).to_contain_text("検収の目安")


# --- one glance each morning ------------------------------------------------------

MORNING = "2026-11-25T09:00:00+09:00"


def post_capture(server, capture, captured_at=MORNING):
    status, answer = server.json("POST", "/api/snapshots", {
        "url": capture.url, "html": capture.html, "captured_at": captured_at, "responses": capture.responses})
    assert status == 200, answer
    return answer


def test_today_lists_the_contracts_whose_next_action_is_due_today(page, live_server):
    from pagekit import lancers_capture

    # Silent since 11/20 15:26: a reminder today, a request from 11/27 15:26 (ELIGIBLE_DAYS later).
    nudge = lancers_capture("7100001", [("me", "2026-11-20T10:00:00+09:00", "初稿です。"),
                                        ("client", "2026-11-20T15:26:00+09:00", "確認します。")], title="ロゴ制作")
    # Silent since 11/22 12:00: the reminder falls today at 12:00 (NUDGE_DAYS later).
    later_today = lancers_capture("7100002", [("client", "2026-11-22T12:00:00+09:00", "よろしくお願いします。")],
                                  title="バナー制作")
    # The client wrote yesterday: nothing to do today.
    quiet = lancers_capture("7100003", [("client", "2026-11-24T10:00:00+09:00", "ありがとうございます。")],
                            title="記事作成")
    for capture in (nudge, later_today, quiet):
        post_capture(live_server, capture)
    eligible = parse_instant("2026-11-20T15:26:00+09:00") + timedelta(days=rules.ELIGIBLE_DAYS)
    reminder = parse_instant("2026-11-22T12:00:00+09:00") + timedelta(days=rules.NUDGE_DAYS)
    sign_in(page, live_server, f"/?{at_query(MORNING)}")
    today = page.locator("#today")
    expect(today.locator("h2")).to_have_text("今日やること（2件）")
    # At the top of the page, before the list of every contract.
    assert today.bounding_box()["y"] < page.locator("table.contracts").bounding_box()["y"]
    items = today.locator("li.today-item")
    expect(items).to_have_count(2)
    first = today.locator(f'li[data-contract-id="{nudge.contract_id}"]')
    expect(first.locator("a.title")).to_have_text("ロゴ制作")
    expect(first.locator(".line")).to_have_text(
        f"今日: 催促メッセージを送る · {eligible.month}月{eligible.day}日 {eligible:%H:%M} から連絡催促申請できます")
    second = today.locator(f'li[data-contract-id="{later_today.contract_id}"]')
    expect(second.locator(".line")).to_contain_text(f"{reminder.month}月{reminder.day}日 {reminder:%H:%M} まで待つ")
    expect(today.locator(f'li[data-contract-id="{quiet.contract_id}"]')).to_have_count(0)
    first.locator("a.title").click()
    expect(page.locator("#contract-title")).to_have_text("ロゴ制作")


def test_nothing_due_today_says_so(page, live_server):
    from pagekit import lancers_capture

    post_capture(live_server, lancers_capture("7100003", [("client", "2026-11-24T10:00:00+09:00", "了解です。")]))
    sign_in(page, live_server, f"/?{at_query(MORNING)}")
    expect(page.locator("#today")).to_contain_text("今日やることはありません")


def test_every_page_has_a_favicon(page, live_server):
    post_page(live_server, DELIVERED)
    cid = DELIVERED.expected["contract_id"]
    for path in ("/", f"/contracts/crowdworks/{cid}", f"/contracts/crowdworks/{cid}/evidence", "/pair"):
        sign_in(page, live_server, path)
        href = page.locator('link[rel="icon"]').get_attribute("href")
        response = page.request.get(live_server.url + href)
        assert response.status == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert b"<svg" in response.body()


PHONE = {"width": 390, "height": 844}


def test_a_phone_never_scrolls_sideways(page, live_server):
    from test_api import AT, post_all

    post_all(live_server)
    page.set_viewport_size(PHONE)
    long_cw = corpus_page("crowdworks/contract_long").expected["contract_id"]
    long_lancers = corpus_page("lancers/thread_long").expected["contract_id"]
    cid = DELIVERED.expected["contract_id"]
    paths = [f"/?{at_query(AT)}", f"/?all=1&{at_query(AT)}",
             f"/contracts/crowdworks/{cid}?{at_query(LATER)}", f"/contracts/crowdworks/{cid}/evidence",
             f"/contracts/crowdworks/{long_cw}", f"/contracts/lancers/{long_lancers}",
             f"/contracts/lancers/{long_lancers}/evidence", "/pair", "/settings"]
    for path in paths:
        sign_in(page, live_server, path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    # The list still shows what matters on a phone: the days, the state, the title.
    sign_in(page, live_server, f"/?{at_query(AT)}")
    row = page.locator("tr.contract").first
    for part in (".days", ".chip", "a.title"):
        box = row.locator(part).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], part


# --- the checklist uses what the pages show --------------------------------------


def corpus_crowdworks_messages(p) -> list[tuple[bool, str]]:
    """(own message?, ISO instant) of a CrowdWorks corpus capture's messages.json."""
    import json

    found = []
    for response in p.responses_list():
        for m in json.loads(response["body"]).get("messages", []):
            y, rest = m["senddate"].split("年")
            mo, rest = rest.split("月")
            d, hm = rest.split("日 ")
            found.append((m["own_message"], f"{y}-{int(mo):02d}-{int(d):02d}T{hm}:00+09:00"))
    return found


def test_a_delivered_contract_has_its_delivery_and_the_users_later_messages_ticked(page, live_server):
    cid = DELIVERED.expected["contract_id"]
    post_page(live_server, DELIVERED)
    last_client = DELIVERED.expected["last_client_message_at"]
    # Reminders: your messages a day or more after the client's last (an answer the same day is none).
    mine_after = [when for own, when in corpus_crowdworks_messages(DELIVERED)
                  if own and parse_instant(when) >= parse_instant(last_client) + rules.REMINDER_AFTER]
    assert len(mine_after) == 2
    sign_in(page, live_server, f"/contracts/crowdworks/{cid}?{at_query(DELIVERED.expected['at'])}")
    delivery = page.locator('li.step[data-step="report_filed"]')
    expect(delivery.locator("input.step-check")).to_be_checked()
    expect(delivery.locator(".shown")).to_contain_text("納品済み")
    reminders = page.locator('li.step[data-step="reminder_sent"]')
    expect(reminders.locator("input.step-check")).to_be_checked()
    expect(reminders.locator(".shown time")).to_have_text([jdt(when) for when in mine_after])
    for kind in ("request_filed", "office_contacted"):
        expect(page.locator(f'li.step[data-step="{kind}"] input.step-check')).not_to_be_checked()
    # The 事務局 text names the latest reminder the page shows.
    expect(page.locator("#text-office")).to_have_value(re.compile(re.escape(f"こちらからの催促: {jdt(mine_after[-1])}")))
    # Unticking what the pages show changes nothing (there is no record to take back).
    reminders.locator("input.step-check").click()
    expect(reminders.locator("input.step-check")).to_be_checked()
    _, api = live_server.json("GET", f"/api/contracts/crowdworks/{cid}")
    assert api["recorded_steps"] == []


def test_a_client_who_wrote_last_leaves_the_reminder_unticked(page, live_server):
    from pagekit import crowdworks_capture

    capture = crowdworks_capture("71230002", [("me", "2026-11-20T10:00:00+09:00", "初稿です。"),
                                              ("client", "2026-11-21T09:00:00+09:00", "確認します。")])
    post_capture(live_server, capture)
    sign_in(page, live_server, f"/contracts/crowdworks/71230002?{at_query(MORNING)}")
    for kind in ("reminder_sent", "report_filed", "request_filed", "office_contacted"):
        expect(page.locator(f'li.step[data-step="{kind}"] input.step-check')).not_to_be_checked()


@pytest.mark.parametrize("javascript", [False, True], ids=["without-js", "with-js"])
def test_checklist_checkboxes_record_and_delete_steps(browser, live_server, javascript):
    from pagekit import crowdworks_capture

    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    capture = crowdworks_capture("71230003", [("client", "2026-11-20T09:00:00+09:00", "確認します。")])
    post_capture(live_server, capture)
    sign_in(page, live_server, f"/contracts/crowdworks/71230003?{at_query(MORNING)}")
    step = page.locator('li.step[data-step="office_contacted"]')
    box = step.locator("input.step-check")
    expect(box).not_to_be_checked()
    step.locator('input[name="done_at"]').fill("2026-11-24T15:00")
    step.locator('input[name="note"]').fill("問い合わせフォームから")
    box.click()
    if not javascript:
        step.get_by_role("button", name="保存").click()
    expect(step.locator(".recorded")).to_contain_text("2026年11月24日(火) 15:00")
    expect(box).to_be_checked()
    _, api = live_server.json("GET", "/api/contracts/crowdworks/71230003")
    assert [(s["step"], s["done_at"], s["note"]) for s in api["recorded_steps"]] == [
        ("office_contacted", "2026-11-24T15:00:00+09:00", "問い合わせフォームから")]
    # Saving it again unchanged records nothing more.
    step.get_by_role("button", name="保存").click()
    expect(step.locator(".recorded")).to_have_count(1)
    # Unticked and saved: the record is gone.
    page.once("dialog", lambda dialog: dialog.accept())
    box.click()
    if not javascript:
        step.get_by_role("button", name="保存").click()
    expect(step.locator(".recorded")).to_have_count(0)
    expect(box).not_to_be_checked()
    assert live_server.json("GET", "/api/contracts/crowdworks/71230003")[1]["recorded_steps"] == []
    context.close()


# --- texts: the user's name, edited before copying, copy and open the thread -------------


def test_the_users_name_is_a_setting_that_fills_both_texts(page, live_server):
    import json
    import stat

    from test_api import SILENT

    post_page(live_server, SILENT)
    job = SILENT.expected["contract_id"]
    sign_in(page, live_server, f"/contracts/lancers/{job}")
    expect(page.locator("#text-reminder")).to_have_value(re.compile("担当しております、（お名前）です。"))
    page.locator("#texts-help").get_by_role("link", name="設定").click()
    expect(page.locator("h1")).to_have_text("設定")
    page.locator("#user-name").fill("  山田 花子 ")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#saved")).to_contain_text("保存しました")
    expect(page.locator("#user-name")).to_have_value("山田 花子")
    settings = live_server.home / "settings.json"
    assert json.loads(settings.read_text(encoding="utf-8"))["user_name"] == "山田 花子"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    page.goto(f"{live_server.url}/contracts/lancers/{job}")
    reminder = page.locator("#text-reminder")
    expect(reminder).to_have_value(re.compile("担当しております、山田 花子です。"))
    expect(reminder).to_have_value(re.compile("山田 花子\n$"))  # signed
    expect(page.locator("#text-office")).to_have_value(re.compile("受注者の山田 花子です。"))
    expect(page.locator("body")).not_to_contain_text("（お名前）")
    # Emptied: the placeholder again, and the setting is gone from the file.
    page.goto(f"{live_server.url}/settings")
    page.locator("#user-name").fill("")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#saved")).to_contain_text("消しました")
    assert "user_name" not in json.loads(settings.read_text(encoding="utf-8"))


def test_the_name_setting_keeps_other_settings_and_refuses_other_sites(live_server):
    import json

    from serverkit import no_redirect

    settings = live_server.home / "settings.json"
    settings.write_text(json.dumps({"collect_platforms": ["lancers"]}), encoding="utf-8")
    origin = {"Content-Type": "application/x-www-form-urlencoded"}
    # Another site's form: refused before anything is read.
    status, _, _ = no_redirect(live_server, "POST", "/settings", "user_name=evil".encode(),
                               {**origin, "Origin": "https://evil.example"})
    assert status == 403
    assert json.loads(settings.read_text(encoding="utf-8")) == {"collect_platforms": ["lancers"]}


def test_settings_form_works_without_javascript_and_keeps_other_keys(browser, live_server):
    import json

    settings = live_server.home / "settings.json"
    settings.write_text(json.dumps({"collect_platforms": ["lancers"]}), encoding="utf-8")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, "/settings")
    page.locator("#user-name").fill("佐藤")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#saved")).to_be_visible()
    assert json.loads(settings.read_text(encoding="utf-8")) == {"collect_platforms": ["lancers"], "user_name": "佐藤"}
    # A name with an invisible control (a right-to-left override) is refused; line breaks fold to spaces.
    page.locator("#user-name").evaluate("e => e.value = '佐藤\\u202e'")
    page.get_by_role("button", name="保存").click()
    assert page.locator("h1").inner_text() == "リクエストが正しくありません"
    assert json.loads(settings.read_text(encoding="utf-8"))["user_name"] == "佐藤"
    # Markup in a name stays text in the texts.
    from test_api import SILENT

    post_page(live_server, SILENT)
    page.goto(f"{live_server.url}/settings")
    page.locator("#user-name").fill("<b>佐藤</b>")
    page.get_by_role("button", name="保存").click()
    page.goto(f"{live_server.url}/contracts/lancers/{SILENT.expected['contract_id']}")
    expect(page.locator("#text-reminder")).to_have_value(re.compile("担当しております、<b>佐藤</b>です。"))
    context.close()


def test_texts_can_be_edited_then_copied_and_the_thread_opened(page, live_server):
    from test_api import SILENT

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    # The thread opens at its real address: served here, never from the internet.
    page.context.route("https://www.lancers.jp/**",
                       lambda route: route.fulfill(body="<html><body>thread</body></html>", content_type="text/html"))
    post_page(live_server, SILENT)
    sign_in(page, live_server, f"/contracts/lancers/{SILENT.expected['contract_id']}")
    reminder = page.locator("#text-reminder")
    reminder.press("ControlOrMeta+End")  # not readonly: the user edits it
    reminder.type("\n追伸: 明日までにご確認いただけると助かります。")
    edited = reminder.input_value()
    assert edited.endswith("追伸: 明日までにご確認いただけると助かります。")
    link = page.get_by_role("link", name="コピーしてスレッドを開く")
    expect(link).to_have_attribute("href", SILENT.url)  # the verdict's url: the thread
    with page.context.expect_page() as opened:
        link.click()
    thread = opened.value
    thread.wait_for_load_state()
    assert thread.url == SILENT.url
    page.bring_to_front()
    assert page.evaluate("navigator.clipboard.readText()") == edited


# --- calendar: a Google link per date, a .ics file with alarms ---------------------------


def google_query(href: str) -> dict:
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "calendar.google.com", "/calendar/render")
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_each_date_to_come_has_a_google_calendar_link(page, live_server):
    from pagekit import lancers_capture

    capture = lancers_capture("7100001", [("client", "2026-11-20T15:26:00+09:00", "確認します。")], title="ロゴ制作")
    post_capture(live_server, capture)
    eligible = parse_instant("2026-11-20T15:26:00+09:00") + timedelta(days=rules.ELIGIBLE_DAYS)
    sign_in(page, live_server, f"/contracts/lancers/{capture.contract_id}?{at_query(MORNING)}")
    dates = page.locator("#calendar-dates li")
    expect(dates).to_have_count(1)  # the reminder is due already; the request date is to come
    item = page.locator('#calendar-dates li[data-kind="eligible"]')
    expect(item.locator("time")).to_have_text(jdt(eligible.isoformat()))
    link = item.get_by_role("link", name="Googleカレンダーに追加")
    expect(link).to_have_attribute("target", "_blank")
    query = google_query(link.get_attribute("href"))
    start = eligible.astimezone(__import__("datetime").timezone.utc)
    assert query["action"] == "TEMPLATE"
    assert query["text"] == "申請可能: ロゴ制作"
    assert query["dates"].startswith(start.strftime("%Y%m%dT%H%M%SZ") + "/")
    assert "ランサーズ「ロゴ制作」" in query["details"]
    # Google cannot reach this computer: no subscription is suggested for it.
    assert "購読" not in page.locator("#verdict").inner_text()


def test_a_contract_and_all_contracts_download_as_ics_with_alarms(page, live_server):
    cid = DELIVERED.expected["contract_id"]
    post_page(live_server, DELIVERED)
    at = DELIVERED.expected["at"]
    sign_in(page, live_server, f"/contracts/crowdworks/{cid}?{at_query(at)}")
    with page.expect_download() as download:
        page.get_by_role("link", name="カレンダーファイル（.ics）をダウンロード").click()
    assert download.value.suggested_filename == f"ghostwatch-crowdworks-{cid}.ics"
    text = open(download.value.path(), encoding="utf-8", newline="").read().replace("\r\n ", "")
    events = {block.split("UID:")[1].split("\r\n")[0]: block for block in text.split("BEGIN:VEVENT")[1:]}
    kenshu = parse_instant("2026-11-12T17:31:00+09:00") + timedelta(days=rules.KENSHU_DAYS)  # the page's 納品
    eligible = parse_instant(DELIVERED.expected["verdict"]["eligible_at"])
    utc = __import__("datetime").timezone.utc
    assert set(events) == {f"crowdworks-{cid}-eligible@ghostwatch.local", f"crowdworks-{cid}-kenshu@ghostwatch.local"}
    assert f"DTSTART:{kenshu.astimezone(utc):%Y%m%dT%H%M%SZ}" in events[f"crowdworks-{cid}-kenshu@ghostwatch.local"]
    assert f"DTSTART:{eligible.astimezone(utc):%Y%m%dT%H%M%SZ}" in events[f"crowdworks-{cid}-eligible@ghostwatch.local"]
    for block in events.values():
        assert "BEGIN:VALARM" in block and "ACTION:DISPLAY" in block and "TRIGGER:PT0S" in block
    # Every contract's dates, from the list.
    page.goto(f"{live_server.url}/?{at_query(at)}")
    with page.expect_download() as download:
        page.locator("#calendar-download").get_by_role("link", name="カレンダーファイル（.ics）をダウンロード").click()
    assert download.value.suggested_filename == "ghostwatch.ics"
    assert f"UID:crowdworks-{cid}-kenshu@ghostwatch.local" in open(download.value.path(), encoding="utf-8", newline="").read()


def test_a_deadline_alarms_a_day_before_in_the_subscribed_feed(live_server):
    from test_api import calendar_url, page as api_page

    requested = api_page("lancers/thread_requested")
    post_page(live_server, requested)
    feed = calendar_url(live_server)
    status, headers, raw = live_server.request("GET", feed.removeprefix(live_server.url), token=False)
    assert status == 200 and headers["Content-Disposition"].startswith("inline")
    text = raw.decode("utf-8").replace("\r\n ", "")
    deadline = text.split(f"UID:lancers-{requested.expected['contract_id']}-deadline@ghostwatch.local")[1]
    deadline = deadline.split("END:VEVENT")[0]
    assert "TRIGGER:-P1D" in deadline and "TRIGGER:PT0S" in deadline


def test_the_list_says_how_many_days_a_stale_page_proves(page, live_server):
    cid = DELIVERED.expected["contract_id"]
    post_page(live_server, DELIVERED)
    proven = whole_days(DELIVERED.expected["last_client_message_at"], DELIVERED.meta["captured_at"])
    age = whole_days(DELIVERED.meta["captured_at"], LATER)
    sign_in(page, live_server, f"/?{at_query(LATER)}")
    row = page.locator(f'tr.contract[data-contract-id="{cid}"]')
    expect(row.locator(".proven")).to_have_text(f"ページで確認: {proven}日")
    expect(row.locator(".fresh")).to_have_text(f"{age}日前に取得")
    row.locator("a.title").click()
    expect(page.locator("#proven-short")).to_have_text(f"ページで確認: {proven}日")
    # Judged when the page was fresh, no such line.
    page.goto(f"{live_server.url}/?{at_query(DELIVERED.expected['at'])}")
    expect(page.locator(f'tr.contract[data-contract-id="{cid}"] .proven')).to_have_count(0)


def test_on_a_phone_the_timeline_scrolls_in_its_frame_showing_now(page, live_server):
    post_page(live_server, DELIVERED)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, f"/contracts/crowdworks/{DELIVERED.expected['contract_id']}?{at_query(LATER)}")
    figure = page.locator("figure.timeline-picture")
    assert figure.evaluate("f => f.scrollWidth > f.clientWidth")  # legible: wider than the phone, in its frame
    now_mark = page.locator("#timeline-svg line.mark-now").bounding_box()
    frame = figure.bounding_box()
    assert frame["x"] <= now_mark["x"] <= frame["x"] + frame["width"]  # scrolled to now
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
