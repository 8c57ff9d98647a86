"""click's own words in Japanese: usage, option headings, and every error a
user can meet ("Missing option", "No such command", "File … does not exist").

click looks its messages up through ``gettext``, which picks a language from
the environment (not set on Windows, where most of our users are); ghostwatch
speaks Japanese whatever the environment, so ``install()`` points the lookup
of click's modules at this table.  A message not listed stays as click wrote it.
"""

from __future__ import annotations

import gettext
import unicodedata

import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.types
from click._compat import strip_ansi

MESSAGES = {
    "Usage:": "使い方:",
    "Options": "オプション",
    "Commands": "コマンド",
    "Positional arguments": "引数",
    "Show this message and exit.": "このヘルプを表示して終了します。",
    "Show the version and exit.": "バージョンを表示して終了します。",
    "%(prog)s, version %(version)s": "%(prog)s バージョン %(version)s",
    "Aborted!": "中断しました。",
    "Missing command.": "コマンドを指定してください。",
    "Error: {message}": "エラー: {message}",
    "Try '{command} {option}' for help.": "使い方は '{command} {option}' で表示できます。",
    "Missing argument": "引数がありません",
    "Missing option": "オプションがありません",
    "Missing parameter": "パラメーターがありません",
    "Missing parameter: {param_name}": "パラメーターがありません: {param_name}",
    "Missing {param_type}": "{param_type}がありません",
    "Invalid value for {param_hint}: {message}": "{param_hint} の値が正しくありません: {message}",
    "Invalid value: {message}": "値が正しくありません: {message}",
    "No such option {name!r}.": "{name!r} というオプションはありません。",
    "No such command {name!r}.": "{name!r} というコマンドはありません。",
    "Could not open file {filename!r}: {message}": "ファイル {filename!r} を開けません: {message}",
    "Option {name!r} does not take a value.": "オプション {name!r} は値をとりません。",
    "Argument {name!r} takes {nargs} values.": "引数 {name!r} には値が {nargs} 個必要です。",
    "default: {default}": "既定値: {default}",
    "env var: {var}": "環境変数: {var}",
    "required": "必須",
    "file": "ファイル",
    "directory": "フォルダー",
    "path": "パス",
    "{name} {filename!r} does not exist.": "{name} {filename!r} がありません。",
    "{name} {filename!r} is a file.": "{name} {filename!r} はファイルです（フォルダーを指定してください）。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} はフォルダーです（ファイルを指定してください）。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} を読めません。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} に書き込めません。",
    "{value} is not in the range {range}.": "{value} は範囲 {range} の外です。",
    "{value!r} is not a valid {number_type}.": "{value!r} は正しい{number_type}ではありません。",
    "integer": "整数",
    "float": "数値",
    "Choose from:\n\t{choices}": "次から選んでください:\n\t{choices}",
    "{value!r} is not a valid boolean. Recognized values: {states}": "{value!r} は真偽値として読めません。使える値: {states}",
}
PLURALS = {
    "Got unexpected extra argument ({args})": "余分な引数があります ({args})",
    "Did you mean {possibility}?": "{possibility} のことですか？",
    "Option {name!r} requires an argument.": "オプション {name!r} には値が必要です。",
    "{value!r} is not {choice}.": "{value!r} は {choice} ではありません。",
}
PLURAL_OTHER = {
    "Got unexpected extra argument ({args})": "余分な引数があります ({args})",
    "Did you mean {possibility}?": "（もしかして: {possibilities}）",
    "Option {name!r} requires an argument.": "オプション {name!r} には値が {nargs} 個必要です。",
    "{value!r} is not {choice}.": "{value!r} は {choices} のどれでもありません。",
}


def display_width(text: str) -> int:
    """The columns ``text`` takes on a terminal: a wide (Japanese) character two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in strip_ansi(text))


def translate(message: str) -> str:
    return MESSAGES.get(message, gettext.gettext(message))


def translate_plural(singular: str, plural: str, n: int) -> str:
    table = PLURALS if n == 1 else PLURAL_OTHER
    return table.get(singular, gettext.ngettext(singular, plural, n))


MODULES = (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.types)


def install() -> None:
    """Make click's modules speak Japanese (idempotent)."""
    for module in MODULES:
        if hasattr(module, "_"):
            module._ = translate
        if hasattr(module, "ngettext"):
            module.ngettext = translate_plural
    # Help columns measured in terminal columns, so Japanese option help lines up.
    click.formatting.term_len = display_width
