"""The web view's 「更新と自動収集」: 「いま更新」 and the collection schedule.

    GET  /collect            the page: each platform's browser profile, the run in
                             progress (or the latest) and the schedule form
    POST /collect/now        runs ``ghostwatch collect`` in the background for every
                             platform whose profile exists (``ghostwatch login``);
                             409 while a run is going
    GET  /collect/status     the run's progress as JSON (``static/collect.js`` polls it)
    POST /collect/schedule   saves the schedule in settings.json (0600) and applies it
                             to the running server's scheduler at once

The collector itself is ``server.schedule.Scheduler`` (a ``ghostwatch collect``
process per platform, one run at a time); the server's scheduler lives in
``app.config["GHOSTWATCH_SCHEDULER"]``.  When ``serve`` started without a
schedule there is none: the first use of this page makes one (off), so that
「いま更新」 and a schedule turned on later share it.  Posts go through the
app's cross-site protection and need the session, as every page does.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for

from collector.timeutil import iso, now
from server import labels, schedule, security
from server.collecting import EXIT_MEANINGS
from server.db import get_store
from server.paths import data_dir, update_settings

bp = Blueprint("collect_views", __name__)

PLATFORMS = schedule.DEFAULT_PLATFORMS
# 「収集の間隔」: the form's choices, in minutes ("daily": once a day at HH:MM).
EVERY_CHOICES = (("60", "毎時"), ("120", "2時間ごと"), ("180", "3時間ごと"), ("360", "6時間ごと"),
                 ("720", "12時間ごと"), ("daily", "毎日（時刻を指定）"))
DEFAULT_DAILY_AT = "08:00"
STATE_TEXTS = {"waiting": "待機中", "running": "実行中", "done": "完了"}
EXIT_NOT_LOGGED_IN = 3  # ghostwatch collect: the site sent the browser to its login page
_make_lock = threading.Lock()


# --- the collector of this server ---------------------------------------------------


def collector() -> schedule.Scheduler:
    """The server's scheduler; made (schedule off unless the settings say otherwise)
    when ``serve`` started none."""
    config = current_app.config
    with _make_lock:
        current = config.get("GHOSTWATCH_SCHEDULER")
        if isinstance(current, schedule.Scheduler):
            return current
        made = schedule.Scheduler.from_settings(config["GHOSTWATCH_DB"], config["GHOSTWATCH_SETTINGS"],
                                                run_at_start=False).start()
        config["GHOSTWATCH_SCHEDULER"] = made
        return made


def profile_root(args) -> Path:
    """Where ``ghostwatch collect`` finds the profiles (``--profile-dir`` in ``collect_args``,
    relative to the directory the collector runs in)."""
    args = list(args)
    for i, arg in enumerate(args):
        value = None
        if arg == "--profile-dir" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--profile-dir="):
            value = arg.split("=", 1)[1]
        if value:
            return schedule.ROOT / Path(value).expanduser()
    return data_dir() / "profiles"


def has_profile(platform: str, args=()) -> bool:
    """A browser profile ``ghostwatch login`` made (a directory with something in it).
    Never creates it (``server.paths.profile_dir`` would)."""
    path = profile_root(args) / platform
    try:
        return path.is_dir() and any(path.iterdir())
    except OSError:
        return False


def profiles(scheduler: schedule.Scheduler) -> list[dict]:
    """Each platform's profile: ``logged_in`` (it exists: 「いま更新」 runs it), and
    ``expired`` when the latest run of it found the session gone (exit 3)."""
    latest = {r.platform: r.exit_code for r in scheduler.results}
    found = []
    for p in PLATFORMS:
        exists = has_profile(p, scheduler.extra_args)
        found.append({"platform": p, "label": labels.PLATFORM_LABELS[p], "logged_in": exists,
                      "expired": exists and latest.get(p) == EXIT_NOT_LOGGED_IN,
                      "login": f"ghostwatch login --platform {p}"})
    return found


# --- what an exit code means ------------------------------------------------------------


def exit_meanings() -> dict[int, str]:
    """{code: its meaning in Japanese}: the table ``ghostwatch collect --help`` prints
    (``collecting.EXIT_MEANINGS``), without the English."""
    return {code: ja.replace("\n", " ") for code, (ja, _en) in EXIT_MEANINGS.items()}


def meaning(code: int | None, platform: str) -> str:
    if code is None:
        return ""
    text = exit_meanings().get(code)
    if text is None:
        return f"予期しないエラーで終わりました（終了コード {code}）"
    return text.replace("--platform P", f"--platform {platform}")


# --- progress ---------------------------------------------------------------------------


def read_since(platform: str, since: str) -> int:
    """Contracts of ``platform`` the collector stored since ``since`` (the run's start)."""
    row = get_store().db.execute(
        "select count(distinct contract_id) from snapshots where platform = ? and source = 'collector' "
        "and page = 'thread' and received_at >= ?", [platform, since]).fetchone()
    return int(row[0] or 0)


def platform_text(part: dict) -> str:
    """A platform's line: 待機中 / 実行中（… から）· N件を読み取り済み / 完了: what its exit code means."""
    state = part["state"]
    if state == "waiting":
        return "実行しませんでした（中断されました）" if part.get("run_done") else "待機中"
    if state == "running":
        return f"実行中（{labels.short_when(part['started_at'])} から）· {part['read']}件を読み取り済み"
    result = part["result"] or {}
    counts = f"{result.get('listed', 0)}件中 {result.get('read', 0)}件を読み取り"
    extra = [f"{name} {result[key]}件" for key, name in (("unreadable", "読み取り不可"), ("failed", "読み込み失敗"),
                                                          ("skipped", "未取得"), ("needing_action", "対応が必要"))
             if result.get(key)]
    if extra:
        counts += "（" + "、".join(extra) + "）"
    code = result.get("exit_code")
    head = f"完了（{labels.short_when(result.get('finished_at'))}）"
    if code == 0:
        return f"{head}: {counts}"
    return f"{head}: 終了コード {code} — {part['meaning']}" + (f" · {counts}" if result.get("listed") else "")


def status() -> dict:
    """What ``/collect/status`` answers (and the page shows): the run in progress or
    the latest one, per platform, the profiles and the schedule."""
    scheduler = collector()
    run = scheduler.progress()
    if run is not None:
        for part in run["platforms"]:
            result = part["result"]
            part["label"] = labels.PLATFORM_LABELS.get(part["platform"], part["platform"])
            part["run_done"] = run["done"]
            part["state_text"] = STATE_TEXTS[part["state"]]
            part["exit_code"] = result["exit_code"] if result else None
            part["meaning"] = meaning(part["exit_code"], part["platform"])
            part["error"] = result["error"] if result else None
            if part["state"] == "running":
                part["read"] = read_since(part["platform"], part["started_at"])
            else:
                part["read"] = result["read"] if result else 0
            part["listed"] = result["listed"] if result else None
            part["text"] = platform_text(part)
        run["kind_text"] = "いま更新" if run["kind"] == "manual" else "定期収集"
        run["started_text"] = labels.jdatetime(run["started_at"])
    plan = scheduler.plan
    return {
        "at": iso(now()),
        "busy": scheduler.busy,
        "run": run,
        "profiles": profiles(scheduler),
        "schedule": {
            "enabled": plan.active,
            "every_text": plan.every_text(),
            "minutes": plan.minutes,
            "daily_at": plan.daily_at,
            "platforms": list(plan.platforms),
            "next_at": iso(scheduler.next_run_at),
            "text": schedule_text(plan, scheduler.next_run_at),
        },
    }


def schedule_text(plan: schedule.Plan, next_at) -> str:
    if not plan.active:
        return "自動収集はオフです。"
    names = "・".join(labels.PLATFORM_LABELS[p] for p in plan.platforms)
    every = plan.every_text()
    return f"{names}を{every}{'' if every == '毎時' else 'に'}収集します（次回: {labels.jdatetime(next_at)}）。"


# --- routes ----------------------------------------------------------------------------------


def page(message: str | None = None, kind: str = "notice", code: int = 200):
    scheduler = collector()
    plan = scheduler.plan
    every = "daily" if plan.daily_at else f"{plan.minutes:g}"
    choices = list(EVERY_CHOICES)
    if every not in {value for value, _ in choices}:  # a value set in the file by hand
        choices.insert(0, (every, plan.every_text()))
    body = render_template(
        "collect.html", status=status(), message=message, message_kind=kind, plan=plan, every=every,
        choices=choices, daily_at=plan.daily_at or DEFAULT_DAILY_AT, platform_labels=labels.PLATFORM_LABELS,
        saved=request.args.get("saved"), started=request.args.get("started"),
    )
    # The app's policy, plus fetching this origin's /collect/status (static/collect.js);
    # security.secure_headers keeps a policy a page set.
    return body, code, {"Content-Security-Policy": f"{security.CSP}; connect-src 'self'"}


@bp.get("/collect")
def collect_page():
    return page()


@bp.get("/collect/status")
def collect_status():
    return jsonify(status())


@bp.post("/collect/now")
def collect_now():
    """「いま更新」: every platform with a profile, in the background."""
    scheduler = collector()
    ready = [p["platform"] for p in profiles(scheduler) if p["logged_in"]]
    if not ready:
        return page("ログイン済みのブラウザプロファイルがありません。先にターミナルで "
                    "ghostwatch login --platform lancers（または crowdworks）を実行してください。", "error", 409)
    if scheduler.run_now(ready) is None:
        return page("いま収集を実行中です。終わってから、もう一度押してください。", "error", 409)
    return redirect(url_for("collect_views.collect_page", started="1") + "#progress", code=303)


@bp.post("/collect/schedule")
def save_schedule():
    """The schedule: saved in settings.json (every other setting kept), applied at once."""
    form = request.form
    enabled = form.get("enabled") == "1"
    every = form.get("every", "60")
    platforms = [p for p in PLATFORMS if p in form.getlist("platforms")]
    unknown = [p for p in form.getlist("platforms") if p not in PLATFORMS]
    if unknown:
        abort(400, description="知らないサイトが指定されました。")
    if enabled and not platforms:
        abort(400, description="自動収集するサイトを 1 つ以上選んでください。")
    changes: dict = {"collect_enabled": enabled, "collect_platforms": platforms}
    remove: tuple[str, ...] = ()
    if every == "daily":
        daily_at = form.get("daily_at", "").strip()
        if not schedule.HHMM.match(daily_at):
            abort(400, description="時刻は 08:30 のように 24 時間制で指定してください。")
        changes.update(collect_daily_at=daily_at, collect_interval_minutes=schedule.DAILY_MINUTES)
    else:
        try:
            minutes = float(every)
        except ValueError:
            abort(400, description="収集の間隔が正しくありません。")
        if not schedule.MIN_INTERVAL_MINUTES <= minutes <= 7 * schedule.DAILY_MINUTES:
            abort(400, description="収集の間隔が正しくありません（5分から7日まで）。")
        changes["collect_interval_minutes"] = int(minutes) if minutes.is_integer() else minutes
        remove = ("collect_daily_at",)
    update_settings(changes, remove=remove)  # SettingsUnreadable: a 400 page, nothing written
    live = current_app.config["GHOSTWATCH_SETTINGS"]
    for key in remove:
        live.pop(key, None)
    live.update(changes)
    collector().configure(live)
    return redirect(url_for("collect_views.collect_page", saved="1") + "#schedule", code=303)
