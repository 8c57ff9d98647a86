"""``/calendar.ics``: the dates of open contracts, for a calendar app to subscribe to.

One event per date that matters (RFC 5545, written by hand: it is a few lines):

- 「申請可能」 at ``eligible_at``: from then a request may be filed
  (Lancers 連絡催促申請 / CrowdWorks 連絡催促), while the contract stays silent;
- 「連絡期限」 at ``deadline_at``: the deadline of a filed request.

UIDs are stable (platform, contract, kind), so a calendar app updates an
event when the date moves (the client wrote, a step was recorded).  Titles
and client names come from pages: their bidirectional overrides and
zero-width characters are shown as ``<U+202E>`` (``server.app.plain``).

The feed takes its own read-only token (``?token=<calendar token>``), never
the API token; calendar apps on this computer can subscribe to it (an online
calendar such as Google's cannot reach 127.0.0.1).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from collector.timeutil import parse_instant
from server import labels
from server.neutral import plain

EVENT_MINUTES = 30


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Lines of at most 75 octets, continued with a space (RFC 5545 3.1)."""
    out, current, size = [], "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > 75:
            out.append(current)
            current, size = " ", 1
        current += ch
        size += n
    out.append(current)
    return "\r\n".join(out)


def utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def calendar_text(verdicts: list[dict], at: datetime, base_url: str) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ghostwatch//ghostwatch//JA",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:ghostwatch",
        "X-WR-TIMEZONE:Asia/Tokyo",
    ]
    for v in verdicts:
        name = plain(v.get("title") or v["contract_id"])
        client = plain(v.get("client") or "")
        platform = labels.PLATFORM_LABELS.get(v["platform"], v["platform"])
        link = f"{base_url}/contracts/{v['platform']}/{v['contract_id']}"
        events = []
        if v.get("eligible_at") and v["state"] not in ("requested", "overdue"):
            events.append(("eligible", v["eligible_at"], f"申請可能: {name}",
                           f"{platform}「{name}」（{client}）: クライアントの沈黙が7日になり、"
                           "連絡催促を申請できる日です。"))
        if v.get("deadline_at"):
            events.append(("deadline", v["deadline_at"], f"連絡期限: {name}",
                           f"{platform}「{name}」（{client}）: 連絡催促申請の連絡期限です。"))
        for kind, when, summary, description in events:
            start = parse_instant(when)
            lines += [
                "BEGIN:VEVENT",
                f"UID:{v['platform']}-{v['contract_id']}-{kind}@ghostwatch.local",
                f"DTSTAMP:{utc(at)}",
                f"DTSTART:{utc(start)}",
                f"DTEND:{utc(start + timedelta(minutes=EVENT_MINUTES))}",
                f"SUMMARY:{escape_text(summary)}",
                f"DESCRIPTION:{escape_text(description + ' ' + link)}",
                f"URL:{link}",
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(fold(line) for line in lines) + "\r\n"
