"""Where ghostwatch keeps its data.

Everything lives in one data directory: the database, the pairing token, the
browser profiles of ``ghostwatch login`` and the settings.  It is the user data
directory of platformdirs (``~/.local/share/ghostwatch`` on Linux), or the
directory named by ``GHOSTWATCH_HOME``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "ghostwatch"


def data_dir(create: bool = True) -> Path:
    env = os.environ.get("GHOSTWATCH_HOME")
    path = Path(env).expanduser() if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def default_db_path() -> Path:
    return data_dir() / "ghostwatch.db"


def token_path() -> Path:
    return data_dir() / "token"


def settings_path() -> Path:
    return data_dir() / "settings.json"


def profile_dir(platform: str) -> Path:
    """The dedicated browser profile of ``ghostwatch login`` (mode 0700)."""
    path = data_dir() / "profiles" / platform
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path
