"""``ghostwatch doctor`` and ``ghostwatch redact``: what the real sites send,
checked against what the readers rely on, in a report that can be shared.

``doctor`` opens each page kind on the collector's logged-in profile (the list
of contracts, a few contracts of different states, Lancers' boards list and
message JSON, CrowdWorks' ``messages.json``), captures them with the shared
capture routine (``extension/capture.js`` through ``collector.fetch``), reads
them, and prints a checklist per platform and page kind
(``collector.markers``).  It stores nothing in the database.

Both commands write a **redacted** report (``collector.redact``): one JSON
file, mode 0600, in ``reports/`` of the data directory, holding the pages'
structure and no name, title, message body, amount, e-mail, token or id.  The
ids' hashes are keyed with ``redact.key`` (made once, mode 0600), which never
leaves the machine.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import click

from collector import lancers, markers
from collector.fetch import (
    Browser,
    BrowserError,
    FailedPage,
    FetchError,
    FetchOptions,
    HumanCheck,
    NotLoggedIn,
    Sleeper,
    join_lancers_boards,
    later_selector,
    platform_module,
    ready_selector,
)
from collector.pages import identify, read_page
from collector.reading import NotAPage, UnsupportedURL
from collector.reading import ContractList, Unreadable
from collector.redact import Redactor
from collector.timeutil import iso, now
from server import __version__, labels
from server.collect_cmd import _sigterm_as_exit, browser_options, fetch_options
from server.collecting import (
    EXIT_BROWSER,
    EXIT_HUMAN_CHECK,
    EXIT_INTERRUPTED,
    EXIT_NOT_LOGGED_IN,
    EXIT_OK,
    EXIT_PAGES_FAILED,
    PLATFORMS,
    profile_for,
    stop_code,
    worst,
)
from server.options import BadInput, db_option, open_store
from server.paths import PRIVATE_DIR, data_dir, make_private, write_private

EXIT_MARKERS = 9  # doctor's own; the others are collect's (server.collecting)
PRECEDENCE = (EXIT_BROWSER, EXIT_NOT_LOGGED_IN, EXIT_HUMAN_CHECK, EXIT_MARKERS, EXIT_PAGES_FAILED, EXIT_OK)

EXIT_CODES_HELP = (
    "\b\n終了コード / exit codes:\n"
    "  0  読み取りに使う目印がすべて見つかりました (every marker found)\n"
    "  9  見つからない目印・知らない時刻の書式・読み取れないページがありました。\n"
    "     レポートを送ってください (a marker missing, a time format unknown, a page unreadable)\n"
    "  4  開けないページがありました。その分は確認できていません (pages failed to load)\n"
    "  3  ログインしていません: ghostwatch login --platform P (not logged in)\n"
    "  7  ブラウザを起動できません (browser could not start / profile in use)\n"
    "  8  人間による確認が表示されました: ghostwatch login --platform P で確認を済ませてください\n"
    "  130 中断しました (interrupted)"
)

DEFAULT_CONTRACTS = 4  # contracts opened per platform, of different states
MAX_LIST_PAGES = 3

MARK = {"found": "✓", "missing": "✗", "not_seen": "-", "unchecked": "?"}
STATUS_TEXT = {"found": "あり", "missing": "見つかりません", "not_seen": "該当する状態のページなし",
               "unchecked": "確認できるページなし"}
LEVEL_TEXT = {"every": "全ページ", "some": "いずれかのページ", "state": "状態による"}


# --- the data directory: the key and the reports ---------------------------------------


def redact_key() -> bytes:
    """The installation's secret for the ids' hashes (``redact.key``, mode 0600, made once)."""
    path = data_dir() / "redact.key"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if len(text) < 32:
        text = secrets.token_hex(32)
        write_private(path, text + "\n")
    make_private(path, quiet=True)
    return text.encode("ascii")


def reports_dir() -> Path:
    path = data_dir() / "reports"
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    path.chmod(PRIVATE_DIR)
    return path


def write_report(report: dict, name: str, output: Path | None = None) -> Path:
    """The report as JSON, mode 0600: at ``output``, or ``reports/<name>-<time>.json``."""
    path = Path(output) if output else reports_dir() / f"{name}-{now().strftime('%Y%m%d-%H%M%S')}.json"
    write_private(path, json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    return path


def _label(platform: str) -> str:
    return labels.PLATFORM_LABELS.get(platform, platform)


def _read(html: str | bytes, url: str, responses) -> object:
    """The reading of a capture; an Unreadable (never an exception) for what is no page."""
    try:
        return read_page(html, url, responses)
    except (UnsupportedURL, NotAPage, ValueError) as err:
        try:
            ref = identify(url)
            platform, page = ref.platform, ref.page
        except UnsupportedURL:
            platform, page = None, None
        return Unreadable(platform=platform, url=url, page=page or "unknown", reason=str(err))


# --- a stored snapshot ---------------------------------------------------------------------


def snapshot_report(store, snapshot_id: int, redactor: Redactor) -> dict:
    """The redacted report of one stored snapshot (its capture re-read with the current
    readers, and checked against the markers of its page kind). KeyError when unknown."""
    row = store.db.execute(
        "select url, platform, page, captured_at, source, read_state, reason from snapshots where id = ?",
        [snapshot_id]).fetchone()
    if row is None:
        raise KeyError(snapshot_id)
    url, platform, page_kind, captured_at, source, read_state, reason = row
    html, responses = store.snapshot_capture(snapshot_id)
    reading = _read(html, url, responses)
    kind = "thread" if page_kind in ("thread", "inquiry") else "contract_list"
    page = markers.Page(platform, kind, url, html.decode("utf-8", "replace"), responses, reading)
    check = markers.check_pages(platform, [page], redactor)
    return {
        "report": "ghostwatch redact",
        "ghostwatch": __version__,
        "created_at": iso(now()),
        "snapshot": {"id": snapshot_id, "platform": platform, "page": page_kind, "source": source,
                     "stored_reading": read_state, "stored_reason": redactor.reason(reason)},
        "check": check,
        "problems": markers.problems(check),
        "capture": redactor.capture(url, html, responses),
    }


# --- doctor ----------------------------------------------------------------------------------


@dataclass
class PlatformRun:
    platform: str
    code: int = EXIT_OK
    error: str | None = None
    pages: list = field(default_factory=list)  # markers.Page
    failed: list = field(default_factory=list)  # {"url", "error"}
    skipped: list = field(default_factory=list)  # {"url", "reason"}
    listed: int = 0


def choose(contracts: list, limit: int) -> list:
    """A few listed contracts of different states: one of each (status, pay type)
    in turn, up to ``limit`` (0: all)."""
    groups: dict[tuple, list] = defaultdict(list)
    for c in contracts:
        groups[(c.status, getattr(c, "pay_type", None))].append(c)
    chosen = []
    queues = list(groups.values())
    while queues and (not limit or len(chosen) < limit):
        for queue in list(queues):
            if limit and len(chosen) >= limit:
                break
            chosen.append(queue.pop(0))
            if not queue:
                queues.remove(queue)
    return chosen


class _Recording:
    """A ``collector.fetch.Browser`` whose JSON requests are kept (Lancers' boards list pages)."""

    def __init__(self, browser):
        self.browser = browser
        self.options = browser.options
        self.records: list[dict] = []

    def __getattr__(self, name):  # anything else the join may use: the browser's own
        return getattr(self.browser, name)

    def get(self, url, platform, sleeper):
        record = self.browser.get(url, platform, sleeper)
        self.records.append(record)
        return record


def run_platform(platform: str, profile: Path, options, limit: int, sleeper=None) -> PlatformRun:
    """Open and read each page kind of one platform; never raises for the site's answers."""
    run = PlatformRun(platform)
    sleeper = sleeper or Sleeper()
    module = platform_module(platform)
    try:
        with Browser(profile, options) as browser:
            listed: list = []
            url, seen = module.LIST_URL, set()
            for n in range(MAX_LIST_PAGES):
                if n:
                    sleeper.between_pages(options)
                seen.add(url)
                item = browser.fetch(url, platform, "list", sleeper)
                if isinstance(item, FailedPage):
                    run.failed.append({"url": item.url, "error": item.error})
                    break
                reading = _read(item.html, item.url, item.responses)
                run.pages.append(markers.Page(platform, "contract_list", item.url, item.html, item.responses, reading))
                if not isinstance(reading, ContractList):
                    break
                listed.extend(c for c in reading.contracts if c.contract_id not in {x.contract_id for x in listed})
                url = reading.next_url
                if not url or url in seen:
                    break
            run.listed = len(listed)
            chosen = choose(listed, limit)
            boards: dict[str, str] = {}
            if platform == "lancers":
                sleeper.between_pages(options)
                recording = _Recording(browser)
                try:
                    if chosen:
                        boards = join_lancers_boards(recording, [c.contract_id for c in chosen], sleeper)
                    else:
                        recording.get(lancers.boards_list_url(), platform, sleeper)
                except (HumanCheck, NotLoggedIn, BrowserError):
                    raise
                except FetchError as err:  # the boards list failed, or is not the JSON expected
                    run.failed.append({"url": lancers.boards_list_url(), "error": str(err)})
                list_path = lancers.boards_list_url().split("?")[0]
                for record in recording.records:
                    if record["url"].split("?")[0] == list_path:
                        run.pages.append(markers.Page(platform, "boards_list", record["url"], "", [record]))
            ready, later = ready_selector(platform), later_selector(platform)
            for c in chosen:
                if platform == "lancers":
                    board = boards.get(str(c.contract_id))
                    if board is None:
                        run.skipped.append({"url": c.url, "reason": "メッセージボードが見つかりませんでした"})
                        continue
                    url = lancers.thread_url(board)
                else:
                    url = module.contract_url(str(c.contract_id))
                sleeper.between_pages(options)
                item = browser.fetch(url, platform, "contract", sleeper, c, ready, later)
                if isinstance(item, FailedPage):
                    run.failed.append({"url": item.url, "error": item.error})
                    continue
                reading = _read(item.html, item.url, item.responses)
                run.pages.append(markers.Page(platform, "thread", item.url, item.html, item.responses, reading,
                                              listed_status=c.status, listed_id=str(c.contract_id)))
    except (NotLoggedIn, HumanCheck, BrowserError) as err:
        run.code, run.error = stop_code(err), str(err)
    return run


def platform_report(run: PlatformRun, redactor: Redactor) -> dict:
    check = markers.check_pages(run.platform, run.pages, redactor)
    problems = markers.problems(check)
    code = run.code
    if code == EXIT_OK:
        code = EXIT_MARKERS if problems else EXIT_PAGES_FAILED if run.failed else EXIT_OK
    return {
        "platform": run.platform,
        "exit_code": code,
        "error": redactor.reason(run.error),
        "listed": run.listed,
        "problems": problems,
        "failed": [{"url": redactor.url(f["url"]), "error": redactor.reason(f["error"])} for f in run.failed],
        "skipped": [{"url": redactor.url(s["url"]), "reason": s["reason"]} for s in run.skipped],
        **{k: v for k, v in check.items() if k != "platform"},
        "captures": [{"kind": p.kind, **redactor.capture(p.url, p.html, p.responses)} for p in run.pages],
    }


def print_report(report: dict, echo) -> None:
    for p in report["platforms"]:
        echo(f"== {_label(p['platform'])} ({p['platform']})")
        if p["error"]:
            echo(f"  {p['error']}")
        for kind in markers.PAGE_KINDS:
            items = [c for c in p["checklist"] if c["page"] == kind]
            if not items:
                continue
            label = markers.PAGE_LABELS.get((p["platform"], kind), kind)
            echo(f"-- {label} [{kind}]: {p['pages'].get(kind, 0)} ページ")
            for c in items:
                assumed = " ASSUMED" if c["assumed"] else ""
                count = f" {c['found_on']}/{c['pages']}" if c["pages"] else ""
                echo(f"  {MARK[c['status']]} {c['kind']}: {c['what']}  ({c['source']}, "
                     f"{LEVEL_TEXT[c['level']]}{assumed}){count} {STATUS_TEXT[c['status']]}")
                for hint in c["hints"]:
                    echo(f"      この文字はここにあります: {hint}")
        if p["times"]:
            echo("-- 時刻の書式")
            for t in p["times"]:
                ok = "✓" if t["accepted"] else "✗ 読み取れない書式"
                echo(f"  {ok} {t['where']}: {t['pattern']} ×{t['count']}")
        if p["json_keys"]:
            echo("-- JSON のキーと型")
            for endpoint, keys in p["json_keys"].items():
                echo(f"  {endpoint}")
                echo("    " + ", ".join(f"{k}:{'|'.join(v)}" for k, v in keys.items()))
        echo("-- 読み取り結果")
        for r in p["readings"]:
            fields = {k: v for k, v in r.items() if k not in ("page", "url") and v is not None}
            echo(f"  {r['page']}: {json.dumps(fields, ensure_ascii=False)}")
        for d in p["disagreements"]:
            echo(f"  不一致: {d}")
        for f in p["failed"]:
            echo(f"  開けませんでした: {f['url']}: {f['error']}")
        for s in p["skipped"]:
            echo(f"  開いていません: {s['url']}: {s['reason']}")
        unchecked = [c for c in p["checklist"] if c["status"] == "unchecked"]
        if unchecked:
            kinds = "・".join(sorted({c["page"] for c in unchecked}))
            echo(f"-- 確認できなかった目印 {len(unchecked)} 件（{kinds}: 開けるページがありませんでした）")
        if p["problems"]:
            echo(f"-- 問題 {len(p['problems'])} 件")
            for problem in p["problems"]:
                echo(f"  ✗ {problem}")


def register(cli):
    cli.add_command(doctor)
    cli.add_command(redact)


@click.command(name="doctor", epilog=EXIT_CODES_HELP)
@click.option("--platform", type=click.Choice((*PLATFORMS, "all")), default="all", show_default=True,
              help="確認するサービス（all: 両方）。")
@click.option("--contracts", "limit", type=click.IntRange(min=0), default=DEFAULT_CONTRACTS, show_default=True,
              help="サービスごとに開く契約の数。状態の違うものを選びます（0: 一覧のすべて）。")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="レポートの保存先（既定: データフォルダーの reports/doctor-<日時>.json）。")
@fetch_options
@browser_options(headed_default=False)
def doctor(platform, limit, output, delay, timeout, retries, backoff, browser_path, browser_args,
           ignore_https_errors, headed, profile_dir):
    """ランサーズ・クラウドワークスのページが、読み取りに使う目印どおりかを確かめます。

    `ghostwatch login` のプロファイルで（画面なし、1 ページずつ）契約一覧、状態の違ういくつかの契約とそのページが読み込む JSON を開いて読み取り、サービスとページの種類ごとにチェックリストを表示します（セレクター・文言・JSON のキーの有無、時刻の書式、JSON のキーと型、読み取り結果、ページと読み取りの食い違い）。

    名前・件名・本文・金額・ID を含まない構造レポートを保存します（不具合の報告に添付してください）。データベースには何も保存しません。

    Checks what Lancers / CrowdWorks send against what ghostwatch's readers rely
    on, and writes a redacted report to send with an issue.
    """
    options = FetchOptions(browser_path=browser_path, browser_args=browser_args, headless=not headed,
                           ignore_https_errors=ignore_https_errors, timeout=timeout, retries=retries,
                           delay=delay, backoff=backoff)
    redactor = markers.redactor(redact_key())
    platforms = PLATFORMS if platform == "all" else (platform,)
    results, interrupted = [], False
    with _sigterm_as_exit():
        for name in platforms:
            click.echo(f"{_label(name)}を確認しています…", err=True)
            try:
                run = run_platform(name, profile_for(name, profile_dir), options, limit)
            except KeyboardInterrupt:
                interrupted = True
                break
            results.append(platform_report(run, redactor))
    code = EXIT_INTERRUPTED if interrupted else worst((p["exit_code"] for p in results), PRECEDENCE)
    report = {"report": "ghostwatch doctor", "ghostwatch": __version__, "created_at": iso(now()),
              "exit_code": code, "platforms": results}
    print_report(report, click.echo)
    path = write_report(report, "doctor", output)
    click.echo(f"構造レポートを保存しました（名前・本文・金額・ID は含みません）: {path}")
    for p in results:
        if p["error"]:
            click.echo(p["error"], err=True)
    sys.exit(code)


@click.command(name="redact")
@click.argument("snapshot_id", type=int, required=False)
@click.option("--contract", "contract", metavar="PLATFORM:ID", default=None,
              help="この契約の最新のキャプチャ（status の表の「契約」欄の形: L:4862017、CW:63724402。lancers:4862017 でも可）。")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="レポートの保存先（既定: データフォルダーの reports/snapshot-<ID>-<日時>.json）。")
@db_option
def redact(snapshot_id, contract, output, db_path):
    """保存済みのキャプチャの構造レポート（名前・件名・本文・金額・ID を含まない）を保存します。

    SNAPSHOT_ID（スナップショットの番号）か --contract PLATFORM:ID（その契約の最新のキャプチャ）で指定します。どちらもなければ、読み取り不可の契約とその番号を表示します。キャプチャは今の読み取り処理で読み直し、目印と照らし合わせます。

    Writes the redacted structure report of a stored capture (a snapshot id, or a contract's latest).
    """
    with open_store(db_path) as store:
        if contract is not None:
            platform, _, cid = contract.partition(":")
            # as the status table shows it (L:4862017, CW:63724402) or in full (lancers:4862017)
            platform = {short.lower(): name for name, short in labels.PLATFORM_SHORT.items()}.get(platform.lower(),
                                                                                           platform.lower())
            row = store.contract(platform, cid) if cid else None
            if row is None or not row.get("last_snapshot_id"):
                raise BadInput(f"契約 {contract} のキャプチャはありません（PLATFORM:ID の形で指定してください。"
                               "例: lancers:4862017）。")
            snapshot_id = int(row["last_snapshot_id"])
        elif snapshot_id is None:
            rows = [c for c in store.contracts() if c.get("read_state") == "unreadable" and c.get("last_snapshot_id")]
            if rows:
                click.echo("読み取り不可の契約（最新のキャプチャの番号）:")
                for c in rows:
                    click.echo(f"  {c['platform']}:{c['contract_id']}  {c['last_snapshot_id']}  "
                               f"{c.get('unreadable_reason') or ''}")
            raise BadInput("SNAPSHOT_ID か --contract PLATFORM:ID を指定してください"
                           "（例: ghostwatch redact --contract lancers:4862017）。")
        try:
            report = snapshot_report(store, snapshot_id, markers.redactor(redact_key()))
        except KeyError:
            raise BadInput(f"スナップショット {snapshot_id} はありません。") from None
    path = write_report(report, f"snapshot-{snapshot_id}", output)
    for problem in report["problems"]:
        click.echo(f"✗ {problem}")
    click.echo(f"構造レポートを保存しました（名前・本文・金額・ID は含みません）: {path}")
