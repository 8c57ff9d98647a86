"""Options shared by every ``ghostwatch`` command (as in sqlite-utils' CLI)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from collector.timeutil import parse_instant
from server.paths import default_db_path, secure_db
from server.store import Store


class BadInput(click.ClickException):
    """Input ghostwatch refuses; exit code 2, message in Japanese."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


def db_option(fn):
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="PATH",
        help="SQLite のデータベース（既定: データフォルダーの ghostwatch.db。"
        "GHOSTWATCH_HOME でデータフォルダーごと移せます）。",
    )(fn)


def resolve_db(db_path: Path | None) -> Path:
    return db_path if db_path is not None else default_db_path()


def open_store(db_path: Path | None):
    """The store at ``--db`` (or the default), its files made private first
    (0600, and 0700 for the data directory: ``server.paths.secure_db``)."""
    return Store(secure_db(resolve_db(db_path)))


class InstantType(click.ParamType):
    """An ISO 8601 instant; without an offset it is read as Japan time."""

    name = "ISO8601"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            return parse_instant(value)
        except ValueError:
            self.fail(
                f"{value!r} は日時として読めません。ISO 8601 で指定してください "
                "(例: 2026-11-21T09:00:00+09:00)",
                param,
                ctx,
            )


INSTANT = InstantType()
