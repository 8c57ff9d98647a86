"""Calendar events of open contracts: the ``/calendar.ics`` feed (for a calendar
app on this computer to subscribe to, or a file to download and import) and
「Googleカレンダーに追加」 links (one per date).

One event per date that matters (RFC 5545, written by hand: it is a few lines):

- 「申請可能」 at ``eligible_at``: from then a request may be filed
  (Lancers 連絡催促申請 / CrowdWorks 連絡催促), while the contract stays silent;
- 「連絡期限」 at ``deadline_at``: the deadline of a filed request;
- 「検収の目安」 (CrowdWorks, delivered): ``rules.KENSHU_DAYS`` after the delivery;
- 「催促の目安」: while waiting, the day a reminder is due if the client stays silent.

Each event has alarms (VALARM): at its time, and a day before a deadline.
UIDs are stable (platform, contract, kind), so a calendar app updates an
event when the date moves (the client wrote, a step was recorded).  Titles
and client names come from pages: their bidirectional overrides and
zero-width characters are shown as ``<U+202E>`` (``server.app.plain``).

The feed takes its own read-only token (``?token=<calendar token>``), never
the API token; calendar apps on this computer can subscribe to it.  An online
calendar such as Google's cannot reach 127.0.0.1: for it, the web view offers
a link per date that fills Google's "new event" form instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlencode

from server import labels, rules, timeline
from server.neutral import plain
from server.verdict import Verdict

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


ALARMS = {"deadline": ("-P1D", "PT0S")}  # else one alarm, at the event's time
GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"


def events(v: Verdict, base_url: str) -> list[dict]:
    """The dated events of one open contract: kind, start, summary, description,
    uid and the contract's page in the web view (``link``)."""
    if v.state == "closed":
        return []
    name = plain(v.title or v.contract_id)
    client = plain(v.client or "")
    platform = labels.PLATFORM_LABELS.get(v.platform, v.platform)
    link = f"{base_url}/contracts/{v.platform}/{v.contract_id}"
    dated = []
    if v.eligible_at and v.state not in ("requested", "overdue"):
        dated.append(("eligible", v.eligible_at,
                      f"クライアントの沈黙が{rules.ELIGIBLE_DAYS}日になり、連絡催促を申請できる日です。"))
    if v.deadline_at:
        dated.append(("deadline", v.deadline_at, "連絡催促申請の連絡期限です。"))
    kenshu = timeline.kenshu_due(v)
    if kenshu is not None and v.status == "delivered":
        dated.append(("kenshu", kenshu, f"納品から{rules.KENSHU_DAYS}日、検収の目安の日です。検収されていなければ事務局に連絡します。"))
    if v.next_action is not None and v.next_action.kind == "wait" and v.next_action.date:
        dated.append(("nudge", v.next_action.date, "返信がなければ、催促メッセージを送る日です。"))
    found = []
    for kind, when, text in dated:
        found.append({
            "kind": kind,
            "start": labels.local(when),
            "summary": f"{labels.EVENT_LABELS[kind]}: {name}",
            "description": f"{platform}「{name}」（{client}）: {text}",
            "uid": f"{v.platform}-{v.contract_id}-{kind}@ghostwatch.local",
            "link": link,
        })
    return found


def google_url(event: dict) -> str:
    """「Googleカレンダーに追加」: Google's form for a new event, filled in."""
    start = event["start"]
    query = urlencode({
        "action": "TEMPLATE",
        "text": event["summary"],
        "dates": f"{utc(start)}/{utc(start + timedelta(minutes=EVENT_MINUTES))}",
        "details": event["description"],
        "ctz": "Asia/Tokyo",
    }, quote_via=quote)
    return f"{GOOGLE_TEMPLATE}?{query}"


def calendar_text(verdicts: list[Verdict], at: datetime, base_url: str) -> str:
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
        for event in events(v, base_url):
            start = event["start"]
            lines += [
                "BEGIN:VEVENT",
                f"UID:{event['uid']}",
                f"DTSTAMP:{utc(at)}",
                f"DTSTART:{utc(start)}",
                f"DTEND:{utc(start + timedelta(minutes=EVENT_MINUTES))}",
                f"SUMMARY:{escape_text(event['summary'])}",
                f"DESCRIPTION:{escape_text(event['description'] + ' ' + event['link'])}",
                f"URL:{event['link']}",
            ]
            for trigger in ALARMS.get(event["kind"], ("PT0S",)):
                lines += [
                    "BEGIN:VALARM",
                    "ACTION:DISPLAY",
                    f"TRIGGER:{trigger}",
                    f"DESCRIPTION:{escape_text(event['summary'])}",
                    "END:VALARM",
                ]
            lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(fold(line) for line in lines) + "\r\n"
