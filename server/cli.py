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

import json
import sys
from pathlib import Path

import click

from collector.capture import parse_responses
from collector.pages import NotAPage, UnsupportedURL, read_page
from collector.timeutil import iso, now
from server import __version__, rules, serve_cmd, collect_cmd, service
from server.options import INSTANT, db_option, open_store


class BadInput(click.ClickException):
    """Input ghostwatch refuses; exit code 2, message in Japanese."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


def dump(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise BadInput(f"ファイルを読めません: {path}: {err.strerror}") from err


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ghostwatch")
def cli():
    """ghostwatch: Lancers と CrowdWorks の契約を見守り、クライアントの沈黙と
    次にできること（連絡催促など）を日付つきで知らせます。

    Watches your Lancers and CrowdWorks contracts, knows when each client last
    wrote, and says with dates what you may do now.
    """


page_options = [
    click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option("--url", required=True, help="The URL the page was saved from."),
    click.option(
        "--captured-at",
        type=INSTANT,
        default=None,
        help="When the page was captured (ISO 8601; default: now).",
    ),
    click.option(
        "--responses",
        "responses_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="A JSON file: the list of same-origin responses captured with the page "
        "([{url, status, content_type, body}], as in the corpus' *.responses.json).",
    ),
]


def with_page_options(fn):
    for option in reversed(page_options):
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


@cli.command()
@with_page_options
def parse(file, url, captured_at, responses_file):
    """Read a saved page (and its captured responses) and print what it says,
    as JSON (stores nothing)."""
    raw = read_file(file)
    responses = read_responses(responses_file)
    try:
        reading = read_page(raw, url, captured_at or now(), responses)
    except (UnsupportedURL, NotAPage) as err:
        raise BadInput(str(err)) from err
    dump(reading.to_json())


@cli.command()
@with_page_options
@click.option("--at", type=INSTANT, default=None, help="Judge at this instant (default: now).")
@db_option
def ingest(file, url, captured_at, responses_file, at, db_path):
    """Store a saved page (and its captured responses), read it, and print the
    contract's verdict as JSON."""
    raw = read_file(file)
    responses = read_responses(responses_file)
    with open_store(db_path) as store:
        try:
            answer = service.ingest(store, url, raw, captured_at or now(), source="cli", at=at,
                                    responses=responses)
        except (UnsupportedURL, NotAPage) as err:
            raise BadInput(f"{err}（データベースには何も書き込んでいません）") from err
    if answer["page"] == "contract_list" and not answer["unreadable"]:
        dump({"page": "contract_list", "platform": answer["platform"], "contracts": answer["contracts"]})
    elif answer["verdict"] is not None:
        verdict = dict(answer["verdict"])
        if answer["unreadable"]:  # this capture's own reading, whatever the contract's latest
            verdict.update(unreadable=True, reason=answer["reason"])
        dump(verdict)
    else:
        dump({key: answer[key] for key in ("platform", "page", "thread_id", "contract_id", "unreadable", "reason")})


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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list of verdicts.")
@click.option("--at", type=INSTANT, default=None, help="Judge at this instant (default: now).")
@click.option("--all", "include_closed", is_flag=True, help="Include closed contracts in the table.")
@db_option
def status(as_json, at, include_closed, db_path):
    """Every contract, most urgent first: silence, state and the next action."""
    with open_store(db_path) as store:
        verdicts = service.status(store, at)
    if as_json:
        dump(verdicts)
        return
    from rich.console import Console
    from rich.table import Table

    shown = [v for v in verdicts if include_closed or v["state"] != "closed"]
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if not shown:
        console.print(
            "契約はまだありません。拡張機能でメッセージページを開くか、"
            "`ghostwatch collect --platform lancers` を実行してください。"
        )
        return
    table = Table(title=f"ghostwatch — {iso(at or now())[:16].replace('T', ' ')} 時点")
    for name in ("状態", "沈黙", "サービス", "仕事", "クライアント", "次の対応"):
        table.add_column(name, overflow="fold")
    for v in shown:
        days = "—" if v["silent_days"] is None else f"{v['silent_days']}{'+' if v['silence_is_lower_bound'] else ''}日"
        action = v["next_action"] or {}
        date = action.get("date")
        table.add_row(
            f"[{STATE_STYLES.get(v['state'], '')}]{rules.STATE_LABELS.get(v['state'], v['state'])}[/]",
            days,
            rules.PLATFORM_LABELS.get(v["platform"], v["platform"]),
            v["title"] or v["contract_id"],
            v["client"] or "",
            rules.ACTION_LABELS.get(action.get("kind"), "") + (f"（{date[:10]}）" if date else ""),
        )
    console.print(table)


@cli.command()
@db_option
def reparse(db_path):
    """Re-read every stored snapshot with the current adapters.

    Run it after updating ghostwatch for a change in a platform's pages: the
    contracts and messages are rebuilt from the raw snapshots (your recorded
    steps are kept).
    """
    from rich.progress import Progress

    with open_store(db_path) as store:
        total = store.snapshot_count()
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("再読み込み中…", total=total)
            counts = store.reparse(progress=lambda: progress.advance(task))
    click.echo(
        f"{counts['snapshots']} 件のスナップショットを読み直しました"
        f"（読めた: {counts['ok']}、読めない: {counts['unreadable']}）"
    )


serve_cmd.register(cli)
collect_cmd.register(cli)


if __name__ == "__main__":
    cli()
