"""The one table of states, their labels, colours and badges, for every part
that shows a state: served to the extension as ``GET /api/states`` and to the
web view as ``GET /states.css`` (the chips' colours).

The labels come from ``server.labels``; the help (with its rule numbers), the
order and what needs action from ``server.rules``; the colours from ``server.labels``.

    {"states": [{"state", "label", "help", "color", "text_color", "needs_action",
                 "badge_color"}, ...],            # most urgent first
     "platforms": {"lancers": "ランサーズ", ...},
     "badges": {"inquiry": {"text", "color"}, "unreadable": {...}},
     "badge_colors": {"red", "amber", "green", "grey"},
     "days": {"nudge": 3, "eligible": 7},
     "invisible": "[…]"}                         # server.neutral.INVISIBLE: shown as <U+202E>

``badge_color`` is the colour of a contract's badge in that state when it is not
the colour of its days (要確認: the days are known, whether a request can be
filed is not); ``null`` for the others.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from server import rules
from server.labels import BADGE_COLORS, PLATFORM_LABELS, STATE_COLORS, STATE_LABELS
from server.neutral import INVISIBLE

bp = Blueprint("states", __name__)

DARK_TEXT = ("nudge",)  # a light background: dark text on it
OWN_BADGE_COLOR = ("unconfirmed",)

# Badges of pages that are not a contract in a state.
PAGE_BADGES = {
    "inquiry": {"text": "—", "color": "#607d8b"},  # a Lancers board with no job: no days counted
    "unreadable": {"text": "?", "color": BADGE_COLORS["grey"]},
}


def table() -> dict:
    return {
        "states": [
            {
                "state": state,
                "label": STATE_LABELS[state],
                "help": rules.STATE_HELP[state],
                "color": STATE_COLORS[state],
                "text_color": "#212121" if state in DARK_TEXT else "#ffffff",
                "needs_action": state in rules.NEEDS_ACTION,
                "badge_color": STATE_COLORS[state] if state in OWN_BADGE_COLOR else None,
            }
            for state in rules.URGENCY
        ],
        "platforms": dict(PLATFORM_LABELS),
        "badges": {name: dict(badge) for name, badge in PAGE_BADGES.items()},
        "badge_colors": dict(BADGE_COLORS),
        "days": {"nudge": rules.NUDGE_DAYS, "eligible": rules.ELIGIBLE_DAYS},
        # The characters a page's text shows neutralised (server.neutral.plain).
        "invisible": INVISIBLE.pattern,
    }


def css() -> str:
    """The states' colours as CSS for the web view's chips (``.chip.state-X``)."""
    return "".join(f".chip.state-{e['state']} {{ background: {e['color']}; color: {e['text_color']}; }}\n"
                   for e in table()["states"])


@bp.get("/api/states")
def states_json():
    return jsonify(table())


@bp.get("/states.css")
def states_css():
    return Response(css(), mimetype="text/css")
