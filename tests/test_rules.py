"""The escalation rules, on captures of our own that put each corner case at a
known distance from the judging instant."""

import json
from datetime import timedelta

import pytest

from collector.timeutil import iso, parse_instant
from pagekit import crowdworks_capture, lancers_capture
from server import rules, service
from server.store import Store

CAPTURED = parse_instant("2026-11-21T10:00:00+09:00")


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "rules.db") as s:
        yield s


def cw_silent_since(store, last_client, *, status="in_progress", at, **kw):
    crowdworks_capture(
        messages=[("me", "2026-11-01T09:00:00+09:00", "よろしくお願いします"),
                  ("client", iso(last_client), "確認します")],
        status=status, **kw,
    ).ingest(store, CAPTURED)
    return service.verdict(store, "crowdworks", "9000001", at)


def test_six_days_twenty_three_hours_is_not_yet_seven(store):
    last = parse_instant("2026-11-14T10:00:00+09:00")
    v = cw_silent_since(store, last, at=last + timedelta(days=6, hours=23))
    assert (v.state, v.silent_days) == ("nudge", 6)
    assert v.eligible_at == parse_instant("2026-11-21T10:00:00+09:00")


def test_seven_whole_days_make_a_crowdworks_contract_eligible(store):
    last = parse_instant("2026-11-14T10:00:00+09:00")
    v = cw_silent_since(store, last, at=last + timedelta(days=7))
    assert (v.state, v.silent_days) == ("eligible", 7)


def test_under_three_days_is_ok_and_three_is_a_nudge(store):
    last = parse_instant("2026-11-18T10:00:00+09:00")
    assert cw_silent_since(store, last, at=last + timedelta(days=2, hours=23, minutes=59)).state == "ok"
    assert service.verdict(store, "crowdworks", "9000001", last + timedelta(days=3)).state == "nudge"


def test_a_client_who_never_wrote_on_a_folded_thread_gives_a_lower_bound(store):
    crowdworks_capture(
        messages=[("me", "2026-11-05T09:00:00+09:00", "ご確認ください"),
                  ("me", "2026-11-12T09:00:00+09:00", "いかがでしょうか")],
        collapsed=8, api=False,
    ).ingest(store, CAPTURED)
    v = service.verdict(store, "crowdworks", "9000001", CAPTURED)
    assert v.silent_since == parse_instant("2026-11-05T09:00:00+09:00")
    assert v.silence_is_lower_bound is True
    assert v.last_client_message_at is None
    assert v.silent_days == 16 and v.state == "eligible"


def test_a_client_who_never_wrote_on_a_whole_thread_counts_from_its_first_message(store):
    crowdworks_capture(
        messages=[("system", "2026-11-10T09:00:00+09:00", "契約が成立しました。"),
                  ("me", "2026-11-12T09:00:00+09:00", "よろしくお願いします")],
        api=False,
    ).ingest(store, CAPTURED)
    v = service.verdict(store, "crowdworks", "9000001", CAPTURED)
    assert v.silent_since == parse_instant("2026-11-10T09:00:00+09:00")
    assert v.silence_is_lower_bound is False


def test_lancers_is_eligible_exactly_when_the_page_shows_the_button(store):
    messages = [("client", "2026-11-01T10:00:00+09:00", "お願いします"), ("me", "2026-11-05T10:00:00+09:00", "いかがでしょうか")]
    lancers_capture("1", messages, job_id="1", contact_button=True).ingest(store, CAPTURED)
    lancers_capture("2", messages, job_id="2", contact_button=False).ingest(store, CAPTURED)
    assert service.verdict(store, "lancers", "1", CAPTURED).state == "eligible"
    v = service.verdict(store, "lancers", "2", CAPTURED)
    assert v.state == "not_eligible" and v.silent_days == 20


def test_lancers_hourly_and_plan_change_are_not_eligible_with_reasons(store):
    messages = [("client", "2026-11-01T10:00:00+09:00", "お願いします")]
    lancers_capture("3", messages, job_id="3", pay="時間報酬制").ingest(store, CAPTURED)
    lancers_capture("4", messages, job_id="4", status="計画変更中").ingest(store, CAPTURED)
    hourly = service.verdict(store, "lancers", "3", CAPTURED)
    plan = service.verdict(store, "lancers", "4", CAPTURED)
    assert hourly.state == plan.state == "not_eligible"
    assert any(r.met is False and "時間報酬" in r.text for r in hourly.reasons)
    assert any(r.met is False and "計画変更中" in r.text for r in plan.reasons)
    assert "時間報酬" in hourly.next_action.text


def test_lancers_eligible_work_in_progress_says_report_first(store):
    messages = [("client", "2026-11-01T10:00:00+09:00", "お願いします")]
    lancers_capture("5", messages, job_id="5", contact_button=True).ingest(store, CAPTURED)
    action = service.verdict(store, "lancers", "5", CAPTURED).next_action
    assert action.kind == "file_request"
    assert action.text.index("完了報告") < action.text.index("申請してください")
    store.add_step("lancers", "5", "report_filed", CAPTURED)
    action = service.verdict(store, "lancers", "5", CAPTURED).next_action
    assert "先に「完了報告」" not in action.text


def test_a_recorded_lancers_request_starts_its_seven_day_deadline(store):
    messages = [("client", "2026-11-01T10:00:00+09:00", "お願いします")]
    lancers_capture("6", messages, job_id="6", contact_button=True).ingest(store, CAPTURED)
    filed = parse_instant("2026-11-21T12:00:00+09:00")
    store.add_step("lancers", "6", "request_filed", filed)
    v = service.verdict(store, "lancers", "6", filed)
    assert v.state == "requested"
    assert v.deadline_at == parse_instant("2026-11-28T12:00:00+09:00")
    assert service.verdict(store, "lancers", "6", filed + timedelta(days=7)).state == "overdue"


def test_a_deadline_shown_on_the_page_makes_it_overdue_once_passed(store):
    messages = [("client", "2026-11-01T10:00:00+09:00", "お願いします")]
    lancers_capture("7", messages, job_id="7", requested_deadline="2026年11月25日 18:00").ingest(store, CAPTURED)
    assert service.verdict(store, "lancers", "7", parse_instant("2026-11-25T17:59:00+09:00")).state == "requested"
    v = service.verdict(store, "lancers", "7", parse_instant("2026-11-25T18:00:00+09:00"))
    assert v.state == "overdue" and v.deadline_at == parse_instant("2026-11-25T18:00:00+09:00")
    # The page is 4 days old by then: the deadline passes anyway, and the verdict says the page is old.
    assert v.stale is True and v.next_action.kind == "check_support"


def test_crowdworks_delivered_work_never_suggests_the_refunding_exit(store):
    last = parse_instant("2026-11-10T10:00:00+09:00")
    v = cw_silent_since(store, last, status="delivered", at=CAPTURED)
    assert v.state == "eligible"
    assert "事務局" in v.next_action.text
    assert "途中終了リクエストは返金になるため使わないでください" in v.next_action.text


def test_crowdworks_requested_banner(store):
    last = parse_instant("2026-11-10T10:00:00+09:00")
    v = cw_silent_since(store, last, requested=True, at=CAPTURED)
    assert v.state == "requested" and v.deadline_at is None


def test_an_unrecognised_layout_is_unreadable_and_says_so(store):
    last = parse_instant("2026-11-18T10:00:00+09:00")
    cw_silent_since(store, last, at=CAPTURED)
    later = CAPTURED + timedelta(days=1)
    store.ingest("https://crowdworks.jp/contracts/9000001", "<html><body><div class='new-layout'>…</div></body></html>", later)
    v = service.verdict(store, "crowdworks", "9000001", later)
    assert v.state == "unreadable"
    assert "#pack-message-thread" in v.unreadable_reason
    assert any("最新ではありません" in r.text for r in v.reasons)


def test_a_page_a_day_old_proves_its_state_only_and_asks_to_be_read_again(store):
    messages = [("client", "2026-11-15T10:00:00+09:00", "お願いします")]
    lancers_capture("8", messages, job_id="8").ingest(store, CAPTURED)  # 6 days of silence then
    fresh = service.verdict(store, "lancers", "8", CAPTURED + timedelta(hours=23))
    assert (fresh.state, fresh.stale) == ("nudge", False)
    v = service.verdict(store, "lancers", "8", CAPTURED + timedelta(days=2))
    # Not "not_eligible": no page has shown whether the button is there on day 8.
    assert v.state == "nudge" and v.stale is True and v.capture_age_days == 2
    assert v.silent_days == 8
    assert v.next_action.kind == "reread" and "開き直して" in v.next_action.text
    assert any("2日前" in r.text for r in v.reasons)


def test_a_lancers_page_read_before_the_seventh_day_the_same_day_asks_to_be_reopened(store):
    messages = [("client", "2026-11-14T14:00:00+09:00", "お願いします")]
    lancers_capture("15", messages, job_id="15").ingest(store, CAPTURED)  # 6 days 20 hours then
    v = service.verdict(store, "lancers", "15", CAPTURED + timedelta(hours=6))
    assert v.state == "not_eligible" and v.silent_days == 7 and not v.stale
    assert "開き直す" in v.next_action.text


def test_a_step_recorded_before_the_client_last_wrote_no_longer_counts(store):
    messages = [("client", "2026-11-18T10:00:00+09:00", "遅くなりました、確認します")]
    lancers_capture("9", messages, job_id="9").ingest(store, CAPTURED)
    store.add_step("lancers", "9", "request_filed", parse_instant("2026-11-12T10:00:00+09:00"))
    v = service.verdict(store, "lancers", "9", CAPTURED)
    assert v.state == "nudge" and v.deadline_at is None


def test_contracts_seen_only_on_a_list_are_unknown_until_their_page_is_read(store):
    from corpus import page

    listing = page("lancers/working_list")
    store.ingest(listing.url, listing.html.read_bytes(), parse_instant(listing.meta["captured_at"]))
    verdicts = service.status(store, CAPTURED)
    assert [v.contract_id for v in sorted(verdicts, key=lambda v: v.contract_id)] == sorted(
        c["contract_id"] for c in listing.expected["contracts"])
    assert {v.state for v in verdicts} == {"unknown"}
    # The working list links jobs, not boards: the link is the job's page until a board is read.
    assert all(v.url.startswith("https://www.lancers.jp/work/detail/") for v in verdicts)
    assert all(v.title for v in verdicts)
    assert all(v.fact_sources == {"status": "list"} for v in verdicts)


def test_a_lancers_contract_without_its_deal_panel_is_unconfirmed_from_seven_days(store):
    messages = [("client", "2026-11-10T10:00:00+09:00", "お願いします")]
    lancers_capture("10", messages, job_id="10", panel=False).ingest(store, CAPTURED)
    at6 = parse_instant("2026-11-16T09:59:00+09:00")
    assert service.verdict(store, "lancers", "10", at6).state == "nudge"
    v = service.verdict(store, "lancers", "10", parse_instant("2026-11-17T10:00:00+09:00"))
    assert v.state == "unconfirmed" and v.silent_days == 7
    assert v.next_action.kind == "check_page" and "連絡催促申請" in v.next_action.text
    assert any(r.met is None and "不明" in r.text for r in v.reasons)
    assert v.fact_sources["status"] is None and v.fact_sources["messages"] == "api"


def test_a_lancers_panel_whose_state_cannot_be_read_is_unconfirmed_not_refused(store):
    messages = [("client", "2026-11-01T10:00:00+09:00", "お願いします")]
    lancers_capture("11", messages, job_id="11", status="審査中").ingest(store, CAPTURED)
    v = service.verdict(store, "lancers", "11", CAPTURED)
    assert v.status is None and v.state == "unconfirmed"


def test_the_button_on_the_page_makes_lancers_eligible_whatever_the_silence(store):
    messages = [("client", "2026-11-20T10:00:00+09:00", "お願いします")]
    lancers_capture("12", messages, job_id="12", contact_button=True).ingest(store, CAPTURED)
    v = service.verdict(store, "lancers", "12", CAPTURED)
    assert (v.state, v.silent_days) == ("eligible", 1)


def test_a_crowdworks_contract_whose_status_is_not_shown_is_unconfirmed_from_seven_days(store):
    last = parse_instant("2026-11-10T10:00:00+09:00")
    v = cw_silent_since(store, last, status="unknown", at=CAPTURED)
    assert v.status is None and v.state == "unconfirmed"


def test_crowdworks_hourly_contracts_may_ask_the_office_too(store):
    last = parse_instant("2026-11-10T10:00:00+09:00")
    v = cw_silent_since(store, last, pay="時間単価制 2,000円/時間", at=CAPTURED)
    assert v.pay_type == "hourly" and v.state == "eligible"


def test_a_capture_with_no_message_at_all_has_no_days(store):
    lancers_capture("13", [], job_id="13").ingest(store, CAPTURED)
    v = service.verdict(store, "lancers", "13", CAPTURED)
    assert (v.state, v.silent_since, v.silent_days, v.eligible_at) == ("unknown", None, None, None)
    lancers_capture("14", [], job_id="14", contact_button=True).ingest(store, CAPTURED)
    assert service.verdict(store, "lancers", "14", CAPTURED).state == "eligible"


def test_your_answer_within_the_day_is_no_reminder_and_a_later_message_is(store):
    client = parse_instant("2026-11-14T10:00:00+09:00")
    answered = [("client", iso(client), "ご質問です"), ("me", "2026-11-14T12:00:00+09:00", "お答えします")]
    crowdworks_capture("1", answered).ingest(store, CAPTURED)
    v = service.verdict(store, "crowdworks", "1", parse_instant("2026-11-18T10:00:00+09:00"))
    assert (v.state, v.next_action.kind) == ("nudge", "remind")  # the client owes the next word

    reminded = [*answered, ("me", "2026-11-17T10:00:00+09:00", "ご確認いかがでしょうか")]
    crowdworks_capture("2", reminded).ingest(store, CAPTURED)
    v = service.verdict(store, "crowdworks", "2", parse_instant("2026-11-18T10:00:00+09:00"))
    assert (v.state, v.next_action.kind) == ("nudge", "wait_reply")
    assert v.next_action.date == parse_instant("2026-11-20T10:00:00+09:00")  # three days after the reminder
    assert "催促済み" in v.next_action.line and not v.next_action.line.startswith("今日")
    # Three days after the reminder with no answer: remind again.
    v = service.verdict(store, "crowdworks", "2", parse_instant("2026-11-20T10:00:00+09:00"))
    assert v.next_action.kind == "remind" and "もう一度" in v.next_action.text


def test_a_verdict_holds_instants_and_its_json_says_them_in_japan_time(store):
    """``judge`` gives datetimes (the web view, the calendar and the terminal
    format them); JSON, at the API and CLI edges, has ISO 8601 in Japan time."""
    last = parse_instant("2026-11-14T01:00:00+00:00")  # 10:00 in Japan
    v = cw_silent_since(store, last, at=last + timedelta(days=4))
    assert v.last_client_message_at == last and v.eligible_at == last + timedelta(days=7)
    assert v.next_action.date == v.eligible_at  # a reminder now, the request from the 7th day
    as_json = v.to_json()
    assert as_json["last_client_message_at"] == "2026-11-14T10:00:00+09:00"
    assert as_json["eligible_at"] == as_json["next_action"]["date"] == "2026-11-21T10:00:00+09:00"
    assert as_json["last_captured_at"] == iso(CAPTURED)
    assert as_json["reasons"][0] == {"text": v.reasons[0].text, "met": v.reasons[0].met}
    assert json.loads(json.dumps(as_json)) == as_json  # nothing in it but JSON


def test_the_help_of_each_state_says_the_rule_numbers_of_the_rules():
    assert f"{rules.ELIGIBLE_DAYS}日以上" in rules.STATE_HELP["unconfirmed"]
    assert f"{rules.ELIGIBLE_DAYS}日以上" in rules.STATE_HELP["not_eligible"]
    assert f"{rules.NUDGE_DAYS}日以上" in rules.STATE_HELP["nudge"]
    assert not any("{" in text for text in rules.STATE_HELP.values())


def test_a_verdicts_json_has_every_field_of_the_verdict(store):
    from dataclasses import fields

    from server.verdict import Verdict

    v = cw_silent_since(store, parse_instant("2026-11-14T10:00:00+09:00"), at=CAPTURED)
    assert list(v.to_json()) == [f.name for f in fields(Verdict)]  # the JSON's keys, in the class's order
