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
