"""The web view: Japanese, server-rendered (Jinja, autoescape on), a little plain JS.

    GET  /                                         today's list, then open contracts, most urgent first
    GET  /contracts/<platform>/<id>                timeline, picture, checklist, texts, calendar links
    POST /contracts/<platform>/<id>/checklist      a checklist checkbox: record or delete a step
    POST /contracts/<platform>/<id>/steps          record a step (reminder, 完了報告, …)
    POST /contracts/<platform>/<id>/steps/<n>/delete
    GET  /contracts/<platform>/<id>/evidence       printable evidence for support
    GET  /contracts/<platform>/<id>/calendar.ics   the contract's dates, a file to import
    GET  /settings, POST /settings                 the user's name (for the texts)
    GET  /pair                                     the token, for the extension to read
    GET  /calendar.ics?token=…                     every open contract's dates (?download=1: a file)
    POST /logout                                   forget the session cookie

The SVG timeline's coordinates come from ``server/timeline.py``, calendar
events from ``server/ics.py``, every label and date format from
``server/labels.py``.
Pages need the session cookie (set by a visit with ``?token=…``); see
``server/security.py``.  Every page takes ``?at=ISO`` to judge at another
instant than now.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from collector import lancers
from collector.timeutil import DAY, JST, iso, now, parse_instant
from server import labels, rules, service, timeline
from server.labels import ago, jdate, jdatetime
from server.db import get_store
from server.ics import calendar_text, events, google_url
from server.paths import update_settings
from server.security import COOKIE_NAME
from server.store import STEP_KINDS, UNKNOWN_JOB_PREFIX
from server.verdict import Verdict

bp = Blueprint("views", __name__)

def register_filters(app) -> None:
    app.jinja_env.filters.update(jdatetime=jdatetime, jdate=jdate, ago=ago)
    app.jinja_env.globals.update(
        contract_title=contract_title,
        board_without_job=board_without_job,
        STATE_HELP=rules.STATE_HELP,
        STATE_LABELS=labels.STATE_LABELS,
        PLATFORM_LABELS=labels.PLATFORM_LABELS,
        STATUS_LABELS=labels.STATUS_LABELS,
        PAY_TYPE_LABELS=labels.PAY_TYPE_LABELS,
        ACTION_LABELS=labels.ACTION_LABELS,
        STEP_LABELS=labels.STEP_LABELS,
        SENDER_LABELS=labels.SENDER_LABELS,
        L=labels,
        rules=rules,
        kenshu_due=timeline.kenshu_due,
    )


# --- helpers -----------------------------------------------------------------


def judged_at() -> datetime:
    value = request.args.get("at")
    if not value:
        return now()
    try:
        return parse_instant(value)
    except ValueError:
        abort(400, description=f"at が日時として読めません: {value[:40]!r}（ISO 8601 で指定してください）")


def form_instant(value: datetime) -> str:
    """An instant as an ``<input type="datetime-local">`` value, in Japan time."""
    return value.astimezone(JST).strftime("%Y-%m-%dT%H:%M")


def at_query(at_given: bool, at: datetime) -> dict:
    return {"at": iso(at)} if at_given else {}


def contract_verdict(platform: str, contract_id: str, at: datetime) -> Verdict:
    verdict = service.verdict(get_store(), platform, contract_id, at)
    if verdict is None:
        abort(404)
    return verdict


def board_without_job(v: Verdict) -> bool:
    """A Lancers board whose job is not known yet (its capture could not be
    read): the store keeps it under ``board-<board id>``, not a job id."""
    return v.platform == "lancers" and str(v.contract_id or "").startswith(UNKNOWN_JOB_PREFIX)


def contract_title(v: Verdict) -> str:
    """What to call a contract: its job's title, or what is known of it."""
    if v.title:
        return v.title
    if board_without_job(v):
        return labels.BOARD_WITHOUT_JOB
    noun = "仕事" if v.platform == "lancers" else "契約"
    return f"{noun} {v.contract_id}（仕事名{labels.UNKNOWN}）"


def identity(v: Verdict) -> list[dict]:
    """The contract's ids on its platform, with links: Lancers' job and board,
    CrowdWorks' contract and message thread."""
    thread_id = v.thread_id
    if v.platform == "lancers":
        if board_without_job(v):
            job = {"label": "仕事", "text": f"{labels.UNKNOWN}（メッセージボードの取引情報が読めていません）", "href": None}
        else:
            job = {"label": "仕事", "text": v.contract_id, "href": lancers.work_url(v.contract_id)}
        board = ({"label": "メッセージボード", "text": thread_id, "href": lancers.thread_url(thread_id)} if thread_id
                 else {"label": "メッセージボード", "text": "まだ読み込んでいません", "href": None})
        return [job, board]
    return [
        {"label": "契約", "text": v.contract_id, "href": v.url},
        {"label": "メッセージスレッド", "text": thread_id or "まだ読み込んでいません", "href": None},
    ]


def fact_rows(v: Verdict, messages: list[dict], contract: dict | None) -> list[dict]:
    """Each fact of the contract, what it is (or 不明) and where it came from:
    the platform's JSON, the page, or the contract list."""
    sources = v.fact_sources or {}
    platform = v.platform
    status = v.status
    status_text = labels.STATUS_LABELS.get(status, status) if status else None
    if status is None and sources.get("status") == "list" and contract and contract.get("list_status"):
        listed = contract["list_status"]
        status_text = f"{labels.STATUS_LABELS.get(listed, listed)}（一覧の表示）"
    escalation = v.escalation
    facts = [
        ("title", "仕事名", v.title),
        ("client", "クライアント", v.client),
        ("pay_type", "報酬形式", labels.PAY_TYPE_LABELS.get(v.pay_type, v.pay_type)),
        ("status", "状態", status_text),
        ("escalation", "連絡催促", labels.ESCALATION_LABELS.get(platform, {}).get(escalation, escalation)),
        ("messages", "メッセージ", f"{len(messages)}件" if sources.get("messages") or messages else None),
    ]
    if v.state == "unreadable" and not sources:
        unknown_why = "ページを読み取れていません"
    elif v.state == "unknown" and not v.thread_id:
        unknown_why = "メッセージページをまだ読み込んでいません"
    else:
        unknown_why = "ページにも JSON にも表示されていません"
    rows = []
    for key, label, value in facts:
        source = sources.get(key)
        if value is None:
            source = None
        rows.append({
            "key": key, "label": label, "known": value is not None,
            "text": value if value is not None else labels.UNKNOWN,
            "source": source or "",
            "source_text": labels.SOURCE_LABELS.get(source, source) if source else
            ("—" if value is not None else unknown_why),
        })
    return rows


def unknown_facts(v: Verdict) -> list[str]:
    """The facts that decide an escalation and that the capture did not show."""
    names = [("status", "取引の状態")]
    if v.platform == "lancers":
        names = [("pay_type", "報酬形式"), ("status", "取引の状態"), ("escalation", "「連絡催促申請」ボタンの有無")]
    return [label for key, label in names if getattr(v, key) is None]


def freshness(verdict: Verdict, at: datetime) -> dict:
    captured = labels.local(verdict.last_captured_at)
    if captured is None:
        return {"text": "未取得", "stale": True}
    return {"text": ago(captured, at) + "に取得", "stale": bool(verdict.stale) or at - captured >= rules.STALE_AFTER}


def row(v: Verdict, at: datetime) -> dict:
    """One line of ``/``, its texts made here (a 2,000-line page renders fast)."""
    days = v.silent_days
    action = v.next_action
    return {
        "v": v,
        "title": contract_title(v),
        "board_without_job": board_without_job(v),
        "days": None if days is None else f"{days}{'+' if v.silence_is_lower_bound else ''}",
        "state_label": labels.STATE_LABELS.get(v.state, v.state),
        "platform_label": labels.PLATFORM_LABELS.get(v.platform, v.platform),
        "action_label": labels.ACTION_LABELS.get(action.kind, "") if action else "",
        "action_date": jdate(action.date) if action and action.date else None,
        "action_text": action.text if action else "",
        "action_line": (action.line or "") if action else "",
        "fresh": freshness(v, at),
        "proven": proven_text(v),
    }


def proven_text(v: Verdict) -> str:
    """For a stale verdict (its days count up to now), the days its latest
    capture proves: 「ページで確認: 9日」; '' otherwise."""
    if not v.stale:
        return ""
    proven = timeline.proven_silence(v, v.last_captured_at)
    if proven is None:
        return ""
    return labels.PROVEN_SHORT.format(days=proven["days"], more="以上" if proven["lower_bound"] else "")


def due_today(v: Verdict, at: datetime) -> bool:
    """Is the contract's next action due today (Japan time)?  An action due now
    (a reminder, a request, a page to re-read...) is; so is waiting that ends
    today (a reminder or a deadline falls today).  A reminder's date is when a
    request becomes possible, not when the reminder is due."""
    if v.state == "closed":
        return False
    action = v.next_action
    kind = action.kind if action else None
    date = labels.local(action.date) if action else None
    today = at.astimezone(JST).date()
    if kind == "remind" or (kind in labels.ACTIONS_DUE_NOW and (date is None or date.date() <= today)):
        return True
    return kind in ("wait", "wait_deadline") and date is not None and date.date() <= today


def collecting_status(at: datetime) -> dict | None:
    """What the scheduled collector (``server.schedule``) did, when ``serve`` runs one."""
    scheduler = current_app.config.get("GHOSTWATCH_SCHEDULER")
    if scheduler is None or not (getattr(scheduler, "running", False) or getattr(scheduler, "results", None)):
        return None
    latest: dict[str, object] = {}
    for result in getattr(scheduler, "results", []):
        latest[result.platform] = result
    runs = []
    for platform, r in sorted(latest.items()):
        runs.append({
            "platform": labels.PLATFORM_LABELS.get(platform, platform),
            "when": ago(r.finished_at, at),
            "ok": r.exit_code == 0,
            "text": (f"{r.read}件を読み取り" + (f"、読めないページ {r.unreadable}件" if r.unreadable else "")
                     + (f"、失敗 {r.failed}件" if r.failed else "")),
            "error": r.error,
            "exit_code": r.exit_code,
        })
    return {
        "running": getattr(scheduler, "running", False),
        "every": getattr(scheduler, "every_text", ""),
        "platforms": "・".join(labels.PLATFORM_LABELS.get(p, p) for p in getattr(scheduler, "platforms", [])),
        "runs": runs,
    }


# --- the checklist -------------------------------------------------------------


def shown_by_pages(verdict: Verdict, messages: list[dict]) -> dict[str, list[dict]]:
    """The steps the pages themselves show as done: the user's own messages
    a day or more after the client's last one (reminders, ``rules.is_reminder``), a delivered contract (its
    delivery), a request the page shows as filed."""
    shown: dict[str, list[dict]] = {kind: [] for kind in STEP_KINDS}
    last_client = labels.local(verdict.last_client_message_at)
    if last_client is not None:
        for m in messages:
            sent = labels.local(m.get("sent_at"))
            if m.get("sender") == "me" and rules.is_reminder(sent, last_client):
                shown["reminder_sent"].append({"at": sent, "text": labels.SHOWN_BY_PAGES["reminder_sent"]})
    if verdict.status == "delivered" or (verdict.delivered_at and verdict.platform == "crowdworks"):
        shown["report_filed"].append({"at": labels.local(verdict.delivered_at),
                                      "text": labels.SHOWN_BY_PAGES["report_filed"]})
    if verdict.escalation == "requested":
        shown["request_filed"].append({"at": None, "text": labels.SHOWN_BY_PAGES["request_filed"]})
    return shown


def checklist(verdict: Verdict, steps: list[dict], messages: list[dict], at: datetime) -> list[dict]:
    """The escalation path of the contract's platform, in order, with its dates;
    each step checked when it is recorded or the pages show it."""
    platform = verdict.platform
    silent_since = labels.local(verdict.silent_since)
    by_kind: dict[str, list[dict]] = {kind: [] for kind in STEP_KINDS}
    for step in steps:
        by_kind.setdefault(step["step"], []).append(step)
    shown = shown_by_pages(verdict, messages)
    since = {
        "reminder_sent": silent_since + rules.NUDGE_DAYS * DAY if silent_since else None,
        "report_filed": None,
        "request_filed": labels.local(verdict.eligible_at),
        "office_contacted": labels.local(verdict.deadline_at) if platform == "lancers" else timeline.kenshu_due(verdict),
    }
    numbers = {"nudge": rules.NUDGE_DAYS, "eligible": rules.ELIGIBLE_DAYS, "deadline": rules.LANCERS_DEADLINE_DAYS,
               "kenshu": rules.KENSHU_DAYS}
    now_local = form_instant(at)
    items = []
    for kind, title, text in labels.CHECKLIST.get(platform, labels.CHECKLIST["crowdworks"]):
        done = by_kind.get(kind, [])
        latest = labels.local(done[-1]["done_at"]) if done else None
        items.append({
            "kind": kind, "title": title, "help": text.format(**numbers), "from": since[kind],
            "done": done, "shown": shown.get(kind, []), "checked": bool(done or shown.get(kind)),
            # A recorded step's form shows its date: saving it unchanged records nothing more.
            "date_value": form_instant(latest) if latest else now_local,
        })
    return items


# --- routes --------------------------------------------------------------------


@bp.get("/")
def index():
    at = judged_at()
    show_all = request.args.get("all") == "1"
    verdicts = service.status(get_store(), at)
    shown = [v for v in verdicts if show_all or v.state != "closed"]
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.state] = counts.get(v.state, 0) + 1
    rows = [row(v, at) for v in shown]
    today = [row(v, at) for v in verdicts if due_today(v, at)]
    return render_template(
        "index.html", rows=rows, today=today, collecting=collecting_status(at), counts=counts, total=len(verdicts), closed=counts.get("closed", 0),
        show_all=show_all, at=at, at_given="at" in request.args,
        port=current_app.config["GHOSTWATCH_PORT"] or 8765,
    )


@bp.get("/contracts/<platform>/<contract_id>")
def contract(platform: str, contract_id: str):
    at = judged_at()
    verdict = contract_verdict(platform, contract_id, at)
    store = get_store()
    messages = store.messages(platform, contract_id)
    steps = store.steps(platform, contract_id)
    row = store.contract(platform, contract_id)
    return render_template(
        "contract.html", v=verdict, proven_short=proven_text(verdict), messages=messages, steps=steps, at=at, identity=identity(verdict),
        facts=fact_rows(verdict, messages, row),
        unknown_facts=unknown_facts(verdict),
        picture=timeline.picture(messages, verdict, at, row.get("last_read_at")),
        proven=timeline.proven_silence(verdict, row.get("last_read_at")),
        checklist=checklist(verdict, steps, messages, at),
        calendar=calendar_links(verdict, at),
        fresh=freshness(verdict, at), texts=texts(verdict, steps, messages, at), user_name=user_name(), office=labels.OFFICE.get(platform, "事務局"),
        now_local=form_instant(at),
        query=at_query("at" in request.args, at),
    )


@bp.get("/contracts/<platform>/<contract_id>/evidence")
def evidence(platform: str, contract_id: str):
    at = judged_at()
    verdict = contract_verdict(platform, contract_id, at)
    store = get_store()
    # A Lancers capture that could not be read names no job: its board is the link.
    snapshots = list(store.db.query(
        "select captured_at, read_state from snapshots where platform = ? and page = 'thread' "
        "and (contract_id = ? or (? is not null and thread_id = ?)) order by captured_at",
        [platform, contract_id, verdict.thread_id, verdict.thread_id],
    ))
    messages = store.messages(platform, contract_id)
    row = store.contract(platform, contract_id)
    return render_template(
        "evidence.html", v=verdict, messages=messages, identity=identity(verdict),
        facts=fact_rows(verdict, messages, row),
        proven=timeline.proven_silence(verdict, row.get("last_read_at")),
        steps=store.steps(platform, contract_id), snapshots=snapshots, at=at,
    )


@bp.post("/contracts/<platform>/<contract_id>/steps")
def record_step(platform: str, contract_id: str):
    contract_verdict(platform, contract_id, now())
    step, done_at, note = step_form()
    get_store().add_step(platform, contract_id, step, done_at, note)
    return back_to_contract(platform, contract_id, "checklist")


@bp.post("/contracts/<platform>/<contract_id>/checklist")
def check_step(platform: str, contract_id: str):
    """A checklist checkbox saved: checked records the step (once; again only
    with another date), unchecked deletes its records."""
    contract_verdict(platform, contract_id, now())
    step, done_at, note = step_form()
    store = get_store()
    recorded = [s for s in store.steps(platform, contract_id) if s["step"] == step]
    if request.form.get("done"):
        minute = done_at.astimezone(JST).replace(second=0, microsecond=0)
        if not any(labels.local(s["done_at"]).replace(second=0, microsecond=0) == minute for s in recorded):
            store.add_step(platform, contract_id, step, done_at, note)
    else:
        for s in recorded:
            store.delete_step(s["id"])
    return back_to_contract(platform, contract_id, f"step-{step}")


def step_form() -> tuple[str, datetime, str]:
    """A step form's ``step``, ``done_at`` (now when empty) and ``note``; 400 when wrong."""
    step = request.form.get("step", "")
    if step not in STEP_KINDS:
        abort(400, description=f"記録する手順が正しくありません: {step[:40]!r}")
    value = request.form.get("done_at", "").strip()
    try:
        done_at = parse_instant(value) if value else now()
    except ValueError:
        abort(400, description=f"日時が読めません: {value[:40]!r}")
    return step, done_at, request.form.get("note", "")[:2000]


def back_to_contract(platform: str, contract_id: str, anchor: str):
    return redirect(url_for("views.contract", platform=platform, contract_id=contract_id,
                            **request.args.to_dict()) + f"#{anchor}", code=303)


@bp.post("/contracts/<platform>/<contract_id>/steps/<int:step_id>/delete")
def delete_step(platform: str, contract_id: str, step_id: int):
    store = get_store()
    if not any(s["id"] == step_id for s in store.steps(platform, contract_id)):
        abort(404)
    store.delete_step(step_id)
    return back_to_contract(platform, contract_id, "checklist")


@bp.get("/pair")
def pair():
    port = current_app.config["GHOSTWATCH_PORT"] or 8765
    return render_template("pair.html", server_url=f"http://127.0.0.1:{port}")


# --- settings ------------------------------------------------------------------

USER_NAME_MAX = 60


def user_name() -> str:
    """The user's name for the texts (``user_name`` in settings.json), or ''."""
    return str(current_app.config["GHOSTWATCH_SETTINGS"].get("user_name") or "")


@bp.get("/settings")
def settings():
    return render_template("settings.html", user_name=user_name(), saved=request.args.get("saved"),
                           max_name=USER_NAME_MAX)


@bp.post("/settings")
def save_settings():
    """Save the user's name in settings.json (mode 0600), keeping every other setting."""
    name = " ".join(request.form.get("user_name", "").split())
    if len(name) > USER_NAME_MAX:
        abort(400, description=f"名前が長すぎます（{USER_NAME_MAX}文字まで）。")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        abort(400, description="名前に制御文字や見えない文字は使えません。")
    if name:
        update_settings({"user_name": name})
    else:
        update_settings({}, remove=("user_name",))
    live = current_app.config["GHOSTWATCH_SETTINGS"]
    if name:
        live["user_name"] = name
    else:
        live.pop("user_name", None)
    return redirect(url_for("views.settings", saved="1" if name else "0"), code=303)


@bp.post("/logout")
def logout():
    response = redirect(url_for("views.index"), code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@bp.get("/calendar.ics")
def calendar():
    """The feed of every open contract's dates (subscribed to with the calendar
    token); ``?download=1`` sends it as a file to import."""
    at = judged_at()
    verdicts = [v for v in service.status(get_store(), at) if v.state != "closed"]
    return calendar_answer(calendar_text(verdicts, at, request.host_url.rstrip("/")), "ghostwatch.ics",
                           download=request.args.get("download") == "1")


@bp.get("/contracts/<platform>/<contract_id>/calendar.ics")
def contract_calendar(platform: str, contract_id: str):
    """One contract's dates, as a file to import."""
    at = judged_at()
    verdict = contract_verdict(platform, contract_id, at)
    return calendar_answer(calendar_text([verdict], at, request.host_url.rstrip("/")),
                           f"ghostwatch-{platform}-{contract_id}.ics", download=True)


def calendar_answer(body: str, filename: str, download: bool):
    disposition = "attachment" if download else "inline"
    safe = "".join(ch for ch in filename if ch.isascii() and (ch.isalnum() or ch in "-_.")) or "ghostwatch.ics"
    return current_app.response_class(
        body, mimetype="text/calendar",
        headers={"Content-Disposition": f'{disposition}; filename="{safe}"'},
    )


def calendar_links(verdict: Verdict, at: datetime) -> list[dict]:
    """The contract's dates still to come, each with its 「Googleカレンダーに追加」 link."""
    return [{**event, "google": google_url(event)}
            for event in events(verdict, request.host_url.rstrip("/")) if event["start"] > at]


# --- texts to copy -------------------------------------------------------------


def texts(verdict: Verdict, steps: list[dict], messages: list[dict], at: datetime) -> dict:
    days = verdict.silent_days
    done = {s["step"]: s for s in steps}
    # A reminder the pages show (the user's message after the client's last) counts too.
    reminders = shown_by_pages(verdict, messages)["reminder_sent"]
    if "reminder_sent" not in done and reminders:
        done["reminder_sent"] = {"done_at": reminders[-1]["at"]}
    context = {
        "at": at, "office": labels.OFFICE.get(verdict.platform, "事務局"),
        "user_name": user_name() or labels.USER_NAME_PLACEHOLDER,
        "steps": done,
        "silence": "" if days is None else f"（{days}日{'以上' if verdict.silence_is_lower_bound else ''}経過）",
        "deadline": f"（連絡期限 {jdatetime(verdict.deadline_at)}）" if verdict.deadline_at else "",
    }
    # The texts name the work by its title; without one, by what the platform
    # shows the client (never the store's ``board-…`` key).
    to_client = to_office = verdict
    if board_without_job(verdict):
        to_client = replace(verdict, title=f"メッセージボード {verdict.thread_id} のお仕事")
        to_office = replace(verdict, contract_id=f"{labels.UNKNOWN}（メッセージボード {verdict.thread_id}）")
    elif not verdict.title:
        noun = "仕事 ID" if verdict.platform == "lancers" else "契約"
        to_client = replace(verdict, title=f"{noun} {verdict.contract_id} のお仕事")
    # Rendered with autoescape (they are .html, so that they ship with the
    # package), hence Markup: escaped once, then placed in a <textarea> as is.
    return {
        "reminder": Markup(render_template("text_reminder.html", v=to_client, **context).strip() + "\n"),
        "office": Markup(render_template("text_office.html", v=to_office, **context).strip() + "\n"),
    }
