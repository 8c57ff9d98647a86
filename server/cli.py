"""The ``ghostwatch`` command line.

    ghostwatch parse FILE --url URL [--captured-at ISO]   read a saved page, print JSON
    ghostwatch ingest FILE --url URL [--captured-at ISO]  store and read it, print the verdict
    ghostwatch status [--json] [--at ISO]                  every contract, most urgent first
    ghostwatch reparse                                     re-read every stored snapshot
    ghostwatch serve / token                               the local server (server/serve_cmd.py)
    ghostwatch login / collect                             the collector (server/collect_cmd.py)

Every command takes ``--db PATH``; by default the database lives in the user
data directory, which ``GHOSTWATCH_HOME`` moves.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import click
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from server import click_ja

click_ja.install()  # before any command is defined: click names its types' words when they are made

from collector.capture import Capture, parse_responses  # noqa: E402
from collector.pages import read_page  # noqa: E402
from collector.reading import NotAPage, UnsupportedURL  # noqa: E402
from collector.timeutil import now  # noqa: E402
from server import __version__, labels, rules, service  # noqa: E402
from server.options import INSTANT, BadInput, db_option, open_store  # noqa: E402
from server.verdict import Verdict  # noqa: E402


def dump(data) -> None:
    """JSON on stdout: indented on a terminal, compact for a program reading a pipe
    (Python's JSON encoder is several times faster without indentation)."""
    indent = 2 if sys.stdout.isatty() else None
    click.echo(json.dumps(data, ensure_ascii=False, indent=indent))


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise BadInput(f"ファイルを読めません: {path}: {err.strerror}") from err


# Commands whose modules import a browser driver or a web server: loaded when
# they are run (or listed), so that `status` and `ingest` start fast.
LAZY_COMMANDS = {
    "serve": "server.serve_cmd",
    "token": "server.serve_cmd",
    "login": "server.collect_cmd",
    "collect": "server.collect_cmd",
    "doctor": "server.doctor_cmd",
    "redact": "server.doctor_cmd",
    "install-browser": "server.browser_cmd",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module the first time the
    command is asked for; each such module has ``register(cli)``."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS and name not in self.commands:
            importlib.import_module(LAZY_COMMANDS[name]).register(self)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ghostwatch")
def cli():
    """
ghostwatch: Lancers と CrowdWorks の契約を見守り、クライアントの沈黙と 次に
できること（連絡催促など）を日付つきで知らせます。

    Watches your Lancers and CrowdWorks contracts, knows when each client last
    wrote, and says with dates what you may do now.
    """


capture_options = [
    click.option("--url", default=None, help="ページの URL（HTML ファイルのとき）。"),
    click.option(
        "--captured-at",
        type=INSTANT,
        default=None,
        help="ページを取得した日時（ISO 8601、既定: 今）。",
    ),
    click.option(
        "--responses",
        "responses_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="ページと一緒に取得した JSON 応答の一覧のファイル "
        "（[{url, status, content_type, body}]、コーパスの *.responses.json と同じ形）。",
    ),
]


def with_capture_options(fn):
    for option in reversed(capture_options):
        fn = option(fn)
    return fn


def read_responses(path: Path | None) -> list:
    if path is None:
        return []
    try:
        data = json.loads(read_file(path).decode("utf-8-sig"))
        return parse_responses(data)
    except UnicodeDecodeError:
        raise BadInput(f"--responses のファイルが UTF-8 の JSON ではありません: {path}") from None
    except ValueError as err:
        raise BadInput(f"--responses のファイルが読めません: {path}: {err}") from None


def load_capture(path: Path, url: str | None, captured_at, responses_file: Path | None) -> Capture:
    """A capture from a file: a capture JSON ``{url, captured_at, html,
    responses}`` (what the extension and the collector send), or a saved HTML
    page with ``--url`` (and ``--captured-at``, ``--responses``)."""
    raw = read_file(path)
    data = _json_object(raw)
    if data is not None and "html" in data:
        if url or captured_at or responses_file:
            raise BadInput(f"{path} はキャプチャの JSON です。--url / --captured-at / --responses は指定できません")
        try:
            return Capture.from_json(data)
        except ValueError as err:
            raise BadInput(f"キャプチャの JSON として読めません: {path}: {err}") from None
    if not url:
        raise BadInput(f"{path}: HTML ファイルには --url を指定してください（キャプチャの JSON なら不要です）")
    try:
        html = raw.decode("utf-8")
    except UnicodeDecodeError:
        html = raw  # read_page says why it is not a page
    return Capture(url=url, captured_at=captured_at or now(), html=html, responses=read_responses(responses_file))


def _json_object(raw: bytes) -> dict | None:
    if raw.lstrip()[:1] not in (b"{", b"\xef"):
        return None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_capture_options
def parse(file, url, captured_at, responses_file):
    """
保存したキャプチャを読み、読み取った内容を JSON で表示します（保存はしません
）。

    
    FILE はキャプチャの JSON、または --url を付けた保存済みの HTML ページ（
    --responses で JSON 応答も）。

    Read a saved capture and print what it says, as JSON."""
    capture = load_capture(file, url, captured_at, responses_file)
    try:
        reading = read_page(capture.html, capture.url, capture.responses)
    except (UnsupportedURL, NotAPage) as err:
        raise BadInput(f"{file}: {err}") from err
    dump(reading.to_json())


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_capture_options
@click.option("--at", type=INSTANT, default=None, help="この日時の時点で判定します（既定: 今）。")
@db_option
def ingest(files, url, captured_at, responses_file, at, db_path):
    """キャプチャを保存して読み、契約ごとの判定を JSON で表示します。

    FILE はキャプチャの JSON（複数可）、または --url を付けた HTML ページ 1 つ。

    
    保存の前にすべてのファイルを確かめ、1 つでも読めなければ何も保存しません。複
    数なら判定の一覧を表示します。

    Store saved captures and print each contract's verdict as JSON."""
    if url and len(files) > 1:
        raise BadInput("--url は HTML ファイル 1 つのときだけ指定できます（複数ならキャプチャの JSON を渡してください）")
    captures = [load_capture(path, url, captured_at, responses_file) for path in files]
    for path, capture in zip(files, captures):  # refuse bad input before anything is written
        try:
            read_page(capture.html, capture.url, capture.responses)
        except (UnsupportedURL, NotAPage) as err:
            raise BadInput(f"{path}: {err}（データベースには何も書き込んでいません）") from err
    answers = []
    with open_store(db_path) as store:
        for capture in captures:
            answers.append(service.capture_answer(service.ingest(
                store, capture.url, capture.html, capture.captured_at, source="cli", at=at,
                responses=capture.responses)))
    dump(answers[0] if len(answers) == 1 else answers)


STATE_STYLES = {
    "overdue": "bold white on red",
    "eligible": "bold red",
    "unconfirmed": "bold yellow",
    "unreadable": "bold magenta",
    "requested": "cyan",
    "not_eligible": "yellow",
    "nudge": "yellow",
    "ok": "green",
    "unknown": "dim",
    "closed": "dim",
}


TABLE_HEADERS = ("状態", "日数", "契約", "仕事", "次の対応")
TABLE_WIDTH = 80  # the table fits a standard terminal; wider terminals get longer titles

# ``ghostwatch status`` exit codes, for cron or Task Scheduler jobs that alert.
EXIT_NOTHING_TO_DO = 0
EXIT_ATTENTION = 3  # a reminder is due, a page must be checked or re-read (nudge, unconfirmed, unreadable)
EXIT_ESCALATE = 4  # a request can be filed now, or a filed request's deadline passed (eligible, overdue)


def status_exit_code(verdicts: list[Verdict]) -> int:
    states = {v.state for v in verdicts}
    if states & {"eligible", "overdue"}:
        return EXIT_ESCALATE
    if states & set(rules.NEEDS_ACTION):
        return EXIT_ATTENTION
    return EXIT_NOTHING_TO_DO


@cli.command(epilog="""\b
終了コード / exit codes:
  0  対応が必要な契約はありません (nothing needs action)
  3  催促・確認・再取得が必要な契約があります (nudge, unconfirmed, unreadable)
  4  連絡催促申請ができる、または期限を過ぎた契約があります (eligible, overdue)
  2  入力の誤り (bad input)""")
@click.option("--json", "as_json", is_flag=True, help="JSON（判定の一覧）で出力します。")
@click.option("--at", type=INSTANT, default=None, help="この日時の時点で判定します（既定: 今）。")
@click.option("--all", "include_closed", is_flag=True, help="終了した契約も表に含めます。")
@db_option
def status(as_json, at, include_closed, db_path):
    """すべての契約を急ぐ順に、沈黙の日数・状態・次の対応とともに表示します。

    
    対応が必要なときは 0 以外で終了します（下の終了コード）。定期実行のジョブか
    ら通知に使えます。

    Every contract, most urgent first; exits non-zero when something needs action."""
    with open_store(db_path) as store:
        verdicts = service.status(store, at)
    code = status_exit_code(verdicts)
    if as_json:
        dump([v.to_json() for v in verdicts])
        sys.exit(code)
    shown = [v for v in verdicts if include_closed or v.state != "closed"]
    width = max(TABLE_WIDTH, shutil.get_terminal_size((TABLE_WIDTH, 24)).columns) if sys.stdout.isatty() else TABLE_WIDTH
    console = Console(width=width)
    if not shown:
        console.print(
            "契約はまだありません。拡張機能でメッセージページを開くか、"
            "`ghostwatch collect --platform lancers` を実行してください。"
        )
        sys.exit(code)
    table = Table(title=f"ghostwatch — {labels.stamp(at or now())} 時点", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False)
    rows = []
    for v in shown:
        days = "—" if v.silent_days is None else f"{v.silent_days}{'+' if v.silence_is_lower_bound else ''}日"
        rows.append((
            labels.STATE_LABELS.get(v.state, v.state),
            days,
            f"{labels.PLATFORM_SHORT.get(v.platform, v.platform)}:{v.contract_id}",
            v.title or labels.UNKNOWN,
            v.next_action.line if v.next_action else "",
            v.state,
        ))
    # Every column but the title as wide as its widest cell; the title takes what is left.
    widths = [max([cell_len(TABLE_HEADERS[i])] + [cell_len(row[i]) for row in rows]) for i in range(len(TABLE_HEADERS))]
    # The title and the next step share what the other columns leave, the title at least 12 cells.
    title, action = TABLE_HEADERS.index("仕事"), TABLE_HEADERS.index("次の対応")
    padding = 3 * (len(TABLE_HEADERS) - 1)  # between two columns: a space, the rule, a space
    left = width - padding - sum(w for i, w in enumerate(widths) if i not in (title, action))
    widths[action] = min(widths[action], max(left - max(12, min(widths[title], left // 3)), left // 2))
    widths[title] = max(8, min(widths[title], left - widths[action]))
    for name, column_width in zip(TABLE_HEADERS, widths):
        table.add_column(name, no_wrap=True, overflow="ellipsis", width=column_width,
                         justify="right" if name == "日数" else "left")
    for state_label, days, contract, title, action, state in rows:
        table.add_row(f"[{STATE_STYLES.get(state, '')}]{state_label}[/]", days, contract, title, action)
    console.print(table)
    sys.exit(code)


@cli.command()
@db_option
def reparse(db_path):
    """保存済みのキャプチャをすべて、いまの読み取り規則で読み直します。

    Re-read every stored snapshot with the current adapters.

    Run it after updating ghostwatch for a change in a platform's pages: the
    contracts and messages are rebuilt from the raw snapshots (your recorded
    steps are kept).
    """
    with open_store(db_path) as store:
        total = store.snapshot_count()
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("再読み込み中…", total=total)
            counts = store.reparse(progress=lambda: progress.advance(task))
    click.echo(
        f"{counts['snapshots']} 件のスナップショットを読み直しました"
        f"（読めた: {counts['ok']}、読めない: {counts['unreadable']}）"
    )




if __name__ == "__main__":
    cli()
