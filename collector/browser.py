"""Finding a Chromium for Playwright to drive, and the flags to start it with.

Order: an explicit path (``--browser-path``), the ``GHOSTWATCH_BROWSER``
environment variable, Debian's Chromium binary, then ``None``, which lets
Playwright use its own browser (or ``channel="chrome"`` for an installed Chrome
when Playwright's own is not installed; see ``launch_options``).
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

# Where Google Chrome lives when it is installed system-wide.
CHROME_CANDIDATES = (
    "/opt/google/chrome/chrome",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)

# Flags that keep Chromium quiet on a machine without a network or a display
# of its own: no background fetches, no first-run UI.
QUIET_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
]
# (No --disable-features here: Chromium keeps only the last one, and Playwright
# passes its own list.)


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


def find_chrome() -> str | None:
    for candidate in CHROME_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def launch_options(playwright, explicit: str | None = None) -> dict:
    """Keyword arguments for ``chromium.launch*``: which browser to start.

    ``executable_path`` for a found Chromium; nothing when Playwright's own
    Chromium is installed; ``channel="chrome"`` for an installed Google Chrome.
    Raises ``BrowserNotFound`` with a Japanese message when there is none.
    """
    path = find_browser(explicit)
    if path:
        return {"executable_path": path}
    try:
        own = playwright.chromium.executable_path
    except Exception:  # noqa: BLE001 - no bundled browser registered
        own = None
    if own and Path(own).is_file():
        return {}
    if find_chrome():
        return {"channel": "chrome"}
    raise BrowserNotFound(
        "Chromium が見つかりません。`sudo apt install chromium` でインストールするか、"
        "--browser-path（または環境変数 GHOSTWATCH_BROWSER）で Chromium / Chrome を指定してください。"
    )


def use_sandbox() -> bool:
    """Chromium's sandbox, except as root (where Chromium refuses to start with it)."""
    if os.environ.get("GHOSTWATCH_NO_SANDBOX"):
        return False
    return hasattr(os, "geteuid") and os.geteuid() != 0


def launch_args(extra=()) -> list[str]:
    """QUIET_ARGS, ``--no-sandbox`` as root, then the user's ``--browser-arg`` flags."""
    args = list(QUIET_ARGS)
    if not use_sandbox():
        args.append("--no-sandbox")
    for arg in extra:
        if arg not in args:
            args.append(arg)
    return args
