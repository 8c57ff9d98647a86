"""Finding a Chromium for Playwright to drive.

Order: an explicit path (``--browser-path``), the ``GHOSTWATCH_BROWSER``
environment variable, Debian's Chromium binary, then ``None``, which lets
Playwright use its own browser (or ``channel="chrome"`` for an installed Chrome).
Debian's ``/usr/bin/chromium`` is a shell wrapper that adds its own extension
flags, so the real binary under ``/usr/lib/chromium`` is preferred.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "/usr/lib/chromium-browser/chromium-browser",
)

# Flags that keep Chromium quiet on a machine without a network or a display
# of its own: no background fetches, no first-run UI.
QUIET_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class BrowserNotFound(RuntimeError):
    pass


def find_browser(explicit: str | None = None) -> str | None:
    """The Chromium executable to launch, or None for Playwright's own browser."""
    for value in (explicit, os.environ.get("GHOSTWATCH_BROWSER")):
        if value:
            path = Path(value).expanduser()
            if path.is_file():
                return str(path)
            found = shutil.which(value)
            if found:
                return found
            raise BrowserNotFound(f"ブラウザが見つかりません: {value}")
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None
