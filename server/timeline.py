"""The contract page's SVG timeline, as coordinates (``contract.html`` draws them),
and the silence the saved pages prove.

What is drawn:

- every message, on its sender's lane, at its instant;
- the silence the pages prove: from the client's last message (or the thread's
  first, when the client never wrote) to the latest readable capture;
- after the latest capture, up to now, the stretch no page has seen: drawn
  apart (hatched), since a reply may have come meanwhile;
- marks: the day a request may be filed (``rules.ELIGIBLE_DAYS`` of silence),
  a filed request's deadline, CrowdWorks' delivery and its 検収 guideline
  (``rules.KENSHU_DAYS`` after the delivery), the latest capture, now.

Mark labels that would overlap go to the next row below the axis.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from collector.timeutil import DAY, JST
from server import labels, rules
from server.labels import jdatetime, local, slash_date
from server.verdict import Verdict

SVG_W = 960
LEFT, RIGHT = 92, 24
LANE_Y = {"client": 44, "me": 84, "system": 124}
AXIS_Y = 150
TOP = 22
LABEL_ROWS = (AXIS_Y + 30, AXIS_Y + 44, AXIS_Y + 58, AXIS_Y + 72)
COLOURS = {"eligible": "#c62828", "deadline": "#6a1b9a", "delivered": "#2e7d32", "kenshu": "#ef6c00",
           "captured": "#455a64", "now": "#212121"}
MARK_ORDER = ("eligible", "deadline", "delivered", "kenshu", "captured", "now")


def proven_silence(verdict: Verdict, proven_until) -> dict | None:
    """The silence the saved pages prove: from the verdict's ``silent_since``
    (the client's last message) to ``proven_until`` (the latest readable
    capture), in whole days; None when either is unknown."""
    since, until = local(verdict.silent_since), local(proven_until)
    if since is None or until is None:
        return None
    return {
        "since": since,
        "until": until,
        "days": rules.whole_days(since, until),
        "lower_bound": bool(verdict.silence_is_lower_bound),
        "client_wrote": verdict.last_client_message_at is not None,
    }


def kenshu_due(verdict: Verdict) -> datetime | None:
    """CrowdWorks: the end of the one-week 検収 guideline after the delivery."""
    delivered = local(verdict.delivered_at)
    if verdict.platform != "crowdworks" or delivered is None:
        return None
    return delivered + rules.KENSHU_DAYS * DAY


def _text_width(text: str) -> float:
    """About how wide a label is at font-size 11 (CJK full width, ASCII half)."""
    return sum(11.0 if ord(ch) > 0x2000 else 6.5 for ch in text)


def _place_labels(lines: list[dict]) -> None:
    """Give each mark's label a row below the axis where it overlaps no other."""
    ends = [float("-inf")] * len(LABEL_ROWS)
    for line in sorted(lines, key=lambda m: m["x"]):
        half = _text_width(line["label"]) / 2 + 4
        row = next((i for i, end in enumerate(ends) if end <= line["x"] - half), None)
        if row is None:
            row = min(range(len(ends)), key=lambda i: ends[i])
        ends[row] = line["x"] + half
        line["label_y"] = LABEL_ROWS[row]


def picture(messages: list[dict], verdict: Verdict, at: datetime, proven_until=None) -> dict | None:
    """Coordinates for the SVG, or None when no message has an instant.

    ``proven_until`` is the latest readable capture (the store's
    ``last_read_at``); silence after it is drawn as unobserved."""
    times = [local(m["sent_at"]) for m in messages if m.get("sent_at")]
    if not times:
        return None
    captured = local(proven_until) or local(verdict.last_captured_at)
    delivered = local(verdict.delivered_at) if verdict.platform == "crowdworks" else None
    marks = {
        "eligible": local(verdict.eligible_at),
        "deadline": local(verdict.deadline_at),
        "delivered": delivered,
        "kenshu": kenshu_due(verdict),
        "captured": captured,
        "now": at,
    }
    instants = times + [t for t in marks.values() if t is not None] + [local(verdict.silent_since) or at]
    start, end = min(instants), max(instants)
    span = max((end - start).total_seconds(), 3600.0)
    start -= timedelta(seconds=span * 0.02)
    end += timedelta(seconds=span * 0.04)
    span = (end - start).total_seconds()
    width = SVG_W - LEFT - RIGHT

    def x(t: datetime) -> float:
        return round(LEFT + (t - start).total_seconds() / span * width, 1)

    dots = []
    for m in messages:
        t = local(m["sent_at"]) if m.get("sent_at") else None
        if t is None:
            continue
        text = (m.get("text") or "").replace("\n", " ")
        sender = labels.SENDER_LABELS.get(m["sender"], m["sender"])
        dots.append({
            "x": x(t), "y": LANE_Y.get(m["sender"], LANE_Y["system"]), "sender": m["sender"],
            "title": f"{jdatetime(t)} {sender}: {text[:120]}{'…' if len(text) > 120 else ''}",
        })

    gap = unobserved = None
    silent_since = local(verdict.silent_since)
    seen_until = min(captured, at) if captured is not None else at
    if silent_since is not None and verdict.state != "closed":
        proven = rules.whole_days(silent_since, seen_until)
        gap = {"x": x(silent_since), "w": max(x(seen_until) - x(silent_since), 0.0),
               "days": proven,
               "label": labels.SILENCE_PROVEN.format(
                   days=proven, more="以上" if verdict.silence_is_lower_bound else "")}
    if captured is not None and at > captured and verdict.state != "closed":
        unobserved = {"x": x(captured), "w": max(x(at) - x(captured), 0.0),
                      "days": rules.whole_days(captured, at),
                      "label": labels.UNOBSERVED.format(days=rules.whole_days(captured, at))}
        if gap is not None and unobserved["x"] - gap["x"] < _text_width(gap["label"]) + 8:
            unobserved["label_x"] = max(unobserved["x"] + 4, gap["x"] + _text_width(gap["label"]) + 12)
        else:
            unobserved["label_x"] = unobserved["x"] + 4

    lines = []
    for kind in MARK_ORDER:
        t = marks[kind]
        if t is None or (kind == "eligible" and verdict.state == "closed"):
            continue
        if kind == "captured" and (at - t) < timedelta(hours=1):
            continue  # a capture of the last hour is "now"
        name = labels.MARK_LABELS[kind].format(days=rules.ELIGIBLE_DAYS)
        label = name if kind == "now" else f"{name} {slash_date(t)}"
        lines.append({"x": x(t), "kind": kind, "label": label, "colour": COLOURS[kind],
                      "dashed": kind not in ("now", "captured"), "title": f"{name}: {jdatetime(t)}"})
    _place_labels(lines)

    # About seven date ticks, at midnight Japan time.
    step = max(1, round(span / 86400 / 7))
    t = start.astimezone(JST).replace(hour=0, minute=0, second=0, microsecond=0) + DAY
    ticks = []
    while t < end:
        ticks.append({"x": x(t), "label": slash_date(t)})
        t += DAY * step
    lanes = [(key, labels.SENDER_LABELS[key], y) for key, y in LANE_Y.items()]
    return {
        "width": SVG_W, "height": max(line["label_y"] for line in lines) + 8 if lines else AXIS_Y + 24,
        "left": LEFT, "right": SVG_W - RIGHT, "top": TOP, "axis_y": AXIS_Y,
        "lanes": lanes, "dots": dots, "gap": gap, "unobserved": unobserved, "lines": lines, "ticks": ticks,
    }
