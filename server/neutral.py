"""Text from a page, shown neutralised: a client's title or message could
reorder or hide what the user reads with bidirectional controls and
zero-width characters; ``plain`` shows each as ``<U+202E>``."""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup

# Bidirectional embeddings, overrides and isolates, the marks, and zero-width
# characters: a client's title could reorder or hide what the user reads.
INVISIBLE = re.compile("[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _emoji_joiner(text: str, at: int) -> bool:
    """A ZERO WIDTH JOINER inside an emoji sequence (👨‍👩‍👧, 🏳️‍🌈): kept."""
    if text[at] != "\u200d" or at == 0 or at + 1 >= len(text):
        return False
    before, after = text[at - 1], text[at + 1]
    return (unicodedata.category(after) == "So"
            and (unicodedata.category(before) in ("So", "Sk") or before == "\ufe0f"))


def plain(value):
    """``value`` with every bidirectional control and zero-width character shown
    as ``<U+202E>`` (a joiner inside an emoji kept); anything not a string passes
    unchanged (Markup stays Markup, its replacement escaped)."""
    if not isinstance(value, str) or not INVISIBLE.search(value):
        return value
    text = str(value)
    shown = "&lt;U+{:04X}&gt;" if isinstance(value, Markup) else "<U+{:04X}>"
    out = INVISIBLE.sub(lambda m: m.group() if _emoji_joiner(text, m.start()) else shown.format(ord(m.group())),
                        text)
    return Markup(out) if isinstance(value, Markup) else out
