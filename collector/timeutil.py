"""Instants: Japan time, ISO 8601 in and out.

Every instant ghostwatch prints is ISO 8601 with the ``+09:00`` offset, because
both platforms live in Japan time and so do their users.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")
DAY = timedelta(hours=24)
# The instants ghostwatch reads and judges at: anything else is a typo, not a date.
MIN_YEAR, MAX_YEAR = 1970, 2999


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant; one without an offset is read as Japan time.

    Raises ValueError for anything else.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty instant")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=JST)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:  # 0001-01-01T00:00+09:00 is not even in year 1 in UTC
        raise ValueError(f"year {parsed.year} is out of range ({MIN_YEAR}-{MAX_YEAR})")
    return parsed


def aware(value: datetime) -> datetime:
    """The same instant, with Japan time assumed for a naive value."""
    return value if value.tzinfo is not None else value.replace(tzinfo=JST)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in Japan time (``2026-11-21T09:00:00+09:00``), or None."""
    if value is None:
        return None
    return aware(value).astimezone(JST).isoformat(timespec="seconds")


def now() -> datetime:
    return datetime.now(timezone.utc).astimezone(JST)
