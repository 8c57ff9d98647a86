"""Lancers writes times relative to when the page was shown; ghostwatch reads
them against the capture instant in Japan time, never against today's clock."""

from datetime import datetime

import pytest

from collector.lancers import resolve_time
from collector.pages import LayoutError, read_page
from collector.timeutil import JST, iso, parse_instant
from pagekit import lancers_thread, lancers_url


def at(text):
    return parse_instant(text)


@pytest.mark.parametrize(
    ("shown", "captured", "expected"),
    [
        ("今日 14:32", "2026-11-21T20:00:00+09:00", "2026-11-21T14:32:00+09:00"),
        ("昨日 09:10", "2026-11-21T20:00:00+09:00", "2026-11-20T09:10:00+09:00"),
        ("11月12日 14:32", "2026-11-21T20:00:00+09:00", "2026-11-12T14:32:00+09:00"),
        ("2025年12月28日 14:32", "2026-11-21T20:00:00+09:00", "2025-12-28T14:32:00+09:00"),
        # Year boundary: in early January "12月28日" is last December...
        ("12月28日 10:00", "2026-01-03T09:00:00+09:00", "2025-12-28T10:00:00+09:00"),
        # ...and "昨日" on New Year's Day is New Year's Eve.
        ("昨日 23:50", "2026-01-01T08:00:00+09:00", "2025-12-31T23:50:00+09:00"),
        # A capture instant in UTC is first put in Japan time: 16:30Z is already the 21st in Tokyo.
        ("今日 00:45", "2026-11-20T16:30:00+00:00", "2026-11-21T00:45:00+09:00"),
        ("昨日 23:00", "2026-11-20T16:30:00Z", "2026-11-20T23:00:00+09:00"),
    ],
)
def test_relative_times_resolve_against_the_capture_instant(shown, captured, expected):
    assert iso(resolve_time(shown, at(captured))) == expected


def test_a_snapshot_re_read_a_month_later_gives_the_same_instants():
    html = lancers_thread(messages=[("client", "昨日 18:00", "了解です"), ("me", "今日 09:00", "ありがとうございます")])
    first = read_page(html, lancers_url(), at("2026-11-21T10:00:00+09:00"))
    again = read_page(html, lancers_url(), at("2026-11-21T10:00:00+09:00"))
    assert [m.sent_at for m in first.messages] == [m.sent_at for m in again.messages]
    assert iso(first.last_client_message_at) == "2026-11-20T18:00:00+09:00"


def test_dates_inside_message_bodies_are_text_not_timestamps():
    html = lancers_thread(
        messages=[
            ("client", "11月2日 10:00", "納期は2026年11月30日 18:00です。11月25日 12:00に中間確認します。"),
            ("me", "今日 09:00", "今日 23:59 までに送ります"),
        ]
    )
    thread = read_page(html, lancers_url(), at("2026-11-21T10:00:00+09:00"))
    assert iso(thread.last_client_message_at) == "2026-11-02T10:00:00+09:00"
    assert "2026年11月30日 18:00" in thread.messages[0].text


@pytest.mark.parametrize("shown", ["3時間前", "2026/11/20 10:00", "11月31日 10:00", ""])
def test_an_unknown_time_format_makes_the_page_unreadable(shown):
    html = lancers_thread(messages=[("client", shown, "こんにちは")])
    reading = read_page(html, lancers_url(), at("2026-11-21T10:00:00+09:00"))
    assert reading.to_json()["unreadable"] is True
    assert "日時" in reading.reason
    with pytest.raises(LayoutError):
        resolve_time(shown, at("2026-11-21T10:00:00+09:00"))


def test_capture_instant_without_offset_is_japan_time():
    assert parse_instant("2026-11-21T10:00:00") == datetime(2026, 11, 21, 10, tzinfo=JST)
