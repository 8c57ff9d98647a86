"""``ghostwatch login`` and ``ghostwatch collect``: the collector's commands.

``login`` shows the platform's login page in a visible Chromium on ghostwatch's
own browser profile (``server.paths.profile_dir``); ``collect`` runs headless on
that profile, reads the list of open contracts and captures every contract's
page with its JSON (``collector.fetch``, with the extension's own capture
routine), and ingests each capture like the extension does (``service.ingest``
with its ``responses``), printing the verdicts and a summary.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from collector.fetch import BrowserError, FetchOptions, LoginAborted
from collector.fetch import login as run_login
from server import labels
from server.collecting import (
    EXIT_BROWSER,
    EXIT_INTERRUPTED,
    EXIT_MEANINGS,
    EXIT_NOT_LOGGED_IN,
    EXIT_OK,
    PLATFORMS,
    PlatformResult,
    collect_platform,
    profile_for,
    worst,
)
from server.options import db_option, open_store
from server.verdict import Verdict

EXIT_CODES_HELP = "\b\n終了コード / exit codes:\n" + "\n".join(
    f"  {code:<2} " + ja.replace("\n", "\n     ") + f" ({en})" for code, (ja, en) in EXIT_MEANINGS.items()
)


def _label(platform: str) -> str:
    return labels.PLATFORM_LABELS.get(platform, platform)


# --- options shared by login and collect --------------------------------------


def browser_options(headed_default: bool):
    def decorate(fn):
        for option in reversed([
            click.option(
                "--browser-path",
                envvar="GHOSTWATCH_BROWSER",
                show_envvar=True,
                default=None,
                help="使う Chromium / Chrome（既定: Debian の /usr/lib/chromium/chromium があればそれ、"
                "なければ Playwright の Chromium かインストール済みの Chrome）。",
            ),
            click.option(
                "--browser-arg",
                "browser_args",
                multiple=True,
                help="Chromium に渡す追加のフラグ（複数可）。例: --browser-arg=--proxy-server=http://127.0.0.1:8080",
            ),
            click.option(
                "--ignore-https-errors",
                is_flag=True,
                help="正しくない TLS 証明書を受け入れます（テスト用の代役サイトのみ）。",
            ),
            click.option(
                "--headed/--headless",
                default=headed_default,
                show_default=True,
                help="ブラウザの画面を表示します。",
            ),
            click.option(
                "--profile-dir",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                metavar="DIR",
                help="ブラウザのプロファイルを DIR/PLATFORM に置きます（既定: データフォルダーの profiles/PLATFORM）。",
            ),
        ]):
            fn = option(fn)
        return fn

    return decorate


@contextlib.contextmanager
def _sigterm_as_exit():
    """SIGTERM (the scheduler stopping a run) unwinds like Ctrl-C: the browser is closed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def fetch_options(fn):
    """--delay, --timeout, --retries, --backoff: how politely pages are fetched
    (``collector.fetch.FetchOptions``); shared by collect and doctor."""
    for option in reversed([
        click.option("--delay", type=click.FloatRange(min=0), default=2.0, show_default=True,
                     help="ページの間に待つ秒数（さらに最大その半分をランダムに）。0 はテスト用。"),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
                     help="1 ページに待つ秒数。"),
        click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
                     help="時間切れや 5xx/429 の応答のときに再試行する回数。"),
        click.option("--backoff", type=click.FloatRange(min=0), default=2.0, show_default=True,
                     help="最初の再試行までの秒数（再試行ごとに 2 倍）。"),
    ]):
        fn = option(fn)
    return fn


# --- login ---------------------------------------------------------------------


def register(cli):
    cli.add_command(login)
    cli.add_command(collect)


@click.command(epilog=(
    "\b\n終了コード / exit codes:\n"
    "  0  ログインしました (logged in)\n"
    "  3  ログインが完了しませんでした: 時間切れ・ウィンドウを閉じた (not completed)\n"
    "  7  ブラウザを起動できません (browser could not start / profile in use)"
))
@click.option("--platform", type=click.Choice(PLATFORMS), required=True, help="ログインするサービス。")
@browser_options(headed_default=True)
@click.option("--wait", "wait_minutes", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="ログインを待つ分数。")
def login(platform, browser_path, browser_args, ignore_https_errors, headed, profile_dir, wait_minutes):
    """ghostwatch 専用のブラウザでランサーズ / クラウドワークスにログインします。

    
    ログインページのウィンドウが開くので、いつもどおりログインしてください（メー
    ルのコード、Google、ロボットでないことの確認も、その画面で済ませます）。ログ
    インページを離れるとウィンドウが閉じ、`ghostwatch collect` がその状態で契約
    を読めるようになります。プロファイルは ghostwatch 専用（データフォルダー内、
    0700）で、ふだんのブラウザのものは使いません。

    Log in to Lancers or CrowdWorks in ghostwatch's own browser profile.
    """

    profile = profile_for(platform, profile_dir)
    options = FetchOptions(
        browser_path=browser_path,
        browser_args=browser_args,
        headless=not headed,
        ignore_https_errors=ignore_https_errors,
    )

    def opened(url):
        click.echo(
            f"{_label(platform)}のログインページをブラウザで開きました。ログインしてください。"
            "ログインが済むとブラウザは自動で閉じます。",
            err=True,
        )

    try:
        with _sigterm_as_exit():
            run_login(platform, profile, options, wait_seconds=wait_minutes * 60, on_open=opened)
    except LoginAborted as err:
        click.echo(f"ログインは完了していません: {err}", err=True)
        sys.exit(EXIT_NOT_LOGGED_IN)
    except BrowserError as err:
        click.echo(str(err), err=True)
        sys.exit(EXIT_BROWSER)
    except KeyboardInterrupt:
        click.echo("中断しました。", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(
        f"{_label(platform)}にログインしました。"
        f"`ghostwatch collect --platform {platform}` で契約を読み込めます。"
    )


# --- collect -------------------------------------------------------------------


def _verdict_line(v: Verdict) -> str:
    state = labels.STATE_LABELS.get(v.state, v.state)
    days = "" if v.silent_days is None else f" 沈黙 {v.silent_days}{'+' if v.silence_is_lower_bound else ''}日"
    action = v.next_action
    tail = ""
    if action is not None and action.text:
        tail = f" — {action.text}" + (f"（{labels.jdate(action.date)}）" if action.date else "")
    return f"[{state}] {_label(v.platform)} {v.contract_id} {v.title or ''}{days}{tail}"


class ProgressReporter:
    """A collect run on the terminal: a live progress bar on stderr, a line per
    contract on stdout (nothing with ``--json``)."""

    def __init__(self, progress, echo):
        self.progress, self.echo, self.tasks = progress, echo, {}

    def started(self, platform):
        self.tasks[platform] = self.progress.add_task(f"{_label(platform)}: 契約一覧を開いています…", total=None)

    def listed(self, platform, count):
        self.progress.update(self.tasks[platform], total=count, completed=0,
                             description=f"{_label(platform)}: 契約を読んでいます")

    def boards(self, platform, checked):
        self.progress.update(self.tasks[platform],
                             description=f"{_label(platform)}: メッセージボードを照合しています（{checked} 件）")

    def reading(self, platform):
        self.progress.update(self.tasks[platform], description=f"{_label(platform)}: 契約を読んでいます")

    def advance(self, platform):
        self.progress.advance(self.tasks[platform])

    def verdict(self, verdict):
        self.echo(_verdict_line(verdict))

    def line(self, text):
        self.echo(text)

    def finished(self, platform):
        self.progress.remove_task(self.tasks.pop(platform))


def _summary_line(r: PlatformResult) -> str:
    if r.code == EXIT_OK and not r.listed:
        return f"{_label(r.platform)}: 進行中の契約はありません"
    if r.code != EXIT_OK and not r.listed and not r.read:
        return f"{_label(r.platform)}: 読み込めませんでした"
    skipped = f"、未取得 {len(r.skipped)} 件" if r.skipped else ""
    return (
        f"{_label(r.platform)}: {r.listed} 件中 {r.read} 件の契約を読みました"
        f"（読み取り不可 {len(r.unreadable)} 件、読み込み失敗 {len(r.failed)} 件{skipped}、"
        f"対応が必要 {len(r.needing_action)} 件）"
    )


@click.command(epilog=EXIT_CODES_HELP)
@click.option("--platform", type=click.Choice((*PLATFORMS, "all")), required=True,
              help="読み込むサービス（all: 両方を順に）。")
@browser_options(headed_default=False)
@fetch_options
@click.option("--json", "as_json", is_flag=True, help="件数・失敗・判定を 1 つの JSON で出力します。")
@db_option
def collect(platform, browser_path, browser_args, ignore_https_errors, headed, profile_dir,
            delay, timeout, retries, backoff, as_json, db_path):
    """ログイン済みのブラウザで、進行中のすべての契約を読み込みます。

    
    `ghostwatch login` のプロファイルで画面を出さずにブラウザを開き、進行中の契
    約の一覧（すべてのページ）、続いて契約ごとのメッセージを 1 ページずつ開きま
    す（ランサーズはボード一覧から仕事ごとのメッセージボードを探します）。各ペー
    ジを、そのページ自身が読み込む JSON と一緒に保存し、契約ごとの判定とまとめを
    表示します。先に一度 `ghostwatch login --platform P` を実行してください。

    Read every open contract from Lancers / CrowdWorks with your logged-in session.
    """
    platforms = PLATFORMS if platform == "all" else (platform,)
    options = FetchOptions(
        browser_path=browser_path,
        browser_args=browser_args,
        headless=not headed,
        ignore_https_errors=ignore_https_errors,
        timeout=timeout,
        retries=retries,
        delay=delay,
        backoff=backoff,
    )
    err_console = Console(stderr=True)
    out = Console(highlight=False, soft_wrap=True)
    results: list[PlatformResult] = []
    interrupted = False

    def echo(line: str) -> None:
        if as_json:
            return
        if out.is_terminal and err_console.is_terminal:
            progress.console.print(line, markup=False, highlight=False)  # above the live bar
        else:
            out.print(line, markup=False)

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    with open_store(db_path) as store, progress, _sigterm_as_exit():
        for name in platforms:
            try:
                results.append(collect_platform(store, name, profile_for(name, profile_dir), options,
                                                ProgressReporter(progress, echo)))
            except KeyboardInterrupt:
                interrupted = True
                results.append(PlatformResult(name, EXIT_INTERRUPTED, "中断しました。読めた分は保存済みです。"))
                break

    code = EXIT_INTERRUPTED if interrupted else worst(r.code for r in results)
    if as_json:
        click.echo(json.dumps({"exit_code": code, "platforms": [r.to_json() for r in results]},
                              ensure_ascii=False, indent=2))
    else:
        for r in results:
            click.echo(_summary_line(r))
    for r in results:
        if r.error:
            click.echo(r.error, err=True)
    sys.exit(code)
