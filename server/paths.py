"""Where ghostwatch keeps its data, and with which file modes.

Everything lives in one data directory: the database, the pairing token, the
calendar token, the web sessions, the browser profiles of ``ghostwatch login``
and the settings.  It is the user data directory of platformdirs
(``~/.local/share/ghostwatch`` on Linux), or the directory named by
``GHOSTWATCH_HOME``.

Only the user may read any of it: the directory is 0700 and every file 0600
(the database with its ``-wal`` / ``-shm`` too, wherever ``--db`` puts it).
Modes found looser are fixed, and said on stderr.  Files are written through a
temporary file created exclusively (``O_CREAT | O_EXCL``, which never follows
a symlink) with mode 0600, then renamed over the old one.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "ghostwatch"
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def _say(message: str) -> None:
    print(f"ghostwatch: {message}", file=sys.stderr, flush=True)


def make_private(path: Path, mode: int = PRIVATE_FILE, quiet: bool = False) -> bool:
    """Give ``path`` (when it exists, and is not a symlink) ``mode`` if group or
    others have any access; say so on stderr.  True when the mode was changed.
    On Windows modes are not permissions (the profile directory's ACL keeps
    the data private): nothing to do."""
    if os.name == "nt":
        return False
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
        return False
    old = stat.S_IMODE(st.st_mode)
    os.chmod(path, mode)
    if not quiet:
        _say(f"{path} の権限を {old:04o} から {mode:04o} に直しました（ほかのユーザーが読めないように）。")
    return True


def data_dir(create: bool = True) -> Path:
    env = os.environ.get("GHOSTWATCH_HOME")
    path = Path(env).expanduser() if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        make_private(path, PRIVATE_DIR)
    return path


def default_db_path() -> Path:
    return data_dir() / "ghostwatch.db"


def token_path() -> Path:
    return data_dir() / "token"


def calendar_token_path() -> Path:
    return data_dir() / "calendar_token"


def sessions_path() -> Path:
    return data_dir() / "sessions.json"


def settings_path() -> Path:
    return data_dir() / "settings.json"


def profile_dir(platform: str) -> Path:
    """The dedicated browser profile of ``ghostwatch login`` (mode 0700)."""
    path = data_dir() / "profiles" / platform
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)
    return path


def secure_db(path: Path | str) -> Path:
    """Before a store opens ``path``: create it empty with mode 0600 when it does
    not exist (SQLite gives its ``-wal`` / ``-shm`` the database's mode), and fix
    the mode of the database and its companions when they are looser.  The data
    directory, when the database is in it, is 0700 as well.  Called by
    ``server.options.open_store`` and ``server.app.create_app``; a store opened
    elsewhere may call it too."""
    path = Path(path)
    if path.parent == data_dir(create=False):
        data_dir()
    else:
        path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    for suffix in DB_SUFFIXES:
        make_private(Path(str(path) + suffix))
    return path


def secure_data_files() -> None:
    """Fix the modes of the data directory and of the files ghostwatch keeps in it."""
    home = data_dir()
    for name in ("token", "calendar_token", "sessions.json", "settings.json"):
        make_private(home / name)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8), mode 0600, atomically: the
    temporary file is made by ``mkstemp`` (exclusive, a random name, 0600), so a
    symlink planted in the directory is never followed."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, PRIVATE_FILE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class SettingsUnreadable(ValueError):
    """``settings.json`` is there but is not a JSON object (the message says so, in Japanese)."""


def read_settings() -> dict:
    """``settings.json`` as a dict; ``{}`` when there is none.  Raises
    ``SettingsUnreadable`` when it cannot be read or is not a JSON object."""
    path = settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise SettingsUnreadable(f"設定ファイル {path} が読めません（{err}）") from err
    if not isinstance(data, dict):
        raise SettingsUnreadable(f"設定ファイル {path} の形式が正しくありません（JSON のオブジェクトではありません）")
    return data


def write_settings(settings: dict) -> None:
    """Write ``settings.json`` (mode 0600) for whoever changes the settings."""
    write_private(settings_path(), json.dumps(settings, ensure_ascii=False, indent=2) + "\n")


def update_settings(changes: dict, remove: tuple[str, ...] = ()) -> dict:
    """Set ``changes`` and drop the keys ``remove`` in ``settings.json``, every
    other setting kept; the settings written.  Raises ``SettingsUnreadable``
    (writing nothing) when the file is there but unreadable: never overwritten."""
    settings = read_settings()
    for key in remove:
        settings.pop(key, None)
    settings.update(changes)
    write_settings(settings)
    return settings
