"""The escalation rules: what a freelancer may do now about a silent client.

``judge`` takes what the store knows of one contract and an instant ``at`` and
returns a verdict: the state, the silence (since when, how many whole days), the
dates that matter, each condition of the platform's rule met or not (in
Japanese), and the next action with its date.

Lancers 「連絡催促申請」: a fixed-price project in progress, no message from the
client for 7 days or more, no request filed by either side, not 計画変更中.
Lancers shows the button only while those hold, so the button on the page is the
platform's own word: ``eligible`` exactly when the page shows it.  After filing,
the deadline is 7 days later.  Work that is done must get its 完了報告 first:
support confirms payment only for reported work.

CrowdWorks: its own 連絡催促 request (reviewed by the 事務局) from 7 days of
silence while in progress or delivered, and for delivered work a one-week
guideline for 検収, after which the 事務局 is asked to act.  The worker's
「途中終了リクエスト」 refunds the whole escrow to the client: never suggested for
work already done.
"""

from __future__ import annotations

import json
from datetime import datetime

from collector.timeutil import DAY, parse_instant
from server.labels import BADGE_COLORS, OFFICE, STATE_COLORS, STATUS_LABELS, action_line, when
from server.labels import STATE_HELP as _STATE_HELP_TEXTS
from server.verdict import NextAction, Reason, Verdict

NUDGE_DAYS = 3
ELIGIBLE_DAYS = 7
LANCERS_DEADLINE_DAYS = 7
KENSHU_DAYS = 7
STALE_AFTER = DAY  # a capture this old no longer proves the silence up to now
# A message of yours sent this long after the client's last one is a reminder
# (an answer within the day is not: it hands the client the next word).
REMINDER_AFTER = DAY

# The rule numbers by name, for the texts that say them (``server.labels``' "{eligible}" ...).
RULE_NUMBERS = {"nudge": NUDGE_DAYS, "eligible": ELIGIBLE_DAYS, "deadline": LANCERS_DEADLINE_DAYS,
                "kenshu": KENSHU_DAYS}
# What each state means (the web view's legend, ``GET /api/states``), with the rule numbers.
STATE_HELP = {state: text.format(**RULE_NUMBERS) for state, text in _STATE_HELP_TEXTS.items()}

CLOSED_STATUSES = ("completed", "cancelled")

# Most urgent first: the order of ``status`` and of the web view.
URGENCY = ("overdue", "eligible", "unconfirmed", "unreadable", "requested", "not_eligible", "nudge", "ok", "unknown",
           "closed")
NEEDS_ACTION = ("overdue", "eligible", "unconfirmed", "nudge", "unreadable")

def _instant(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_instant(value)


def _fact_sources(contract: dict) -> dict:
    """Where each fact of the latest readable capture came from: "api" (the
    platform's JSON), "page" (its HTML), "list" (the contract list only) or
    None (unknown)."""
    raw = contract.get("fact_sources")
    sources = json.loads(raw) if raw else {}
    if contract.get("read_state") != "ok" and contract.get("list_status"):
        sources = {"status": "list"}
    return sources


def is_reminder(sent_at: datetime | None, last_client: datetime | None) -> bool:
    """Whether a message of yours, sent at ``sent_at``, reminded a client whose
    last message was at ``last_client`` (the pages show it: no step recorded)."""
    return sent_at is not None and last_client is not None and sent_at >= last_client + REMINDER_AFTER


def whole_days(since: datetime, at: datetime) -> int:
    """Whole 24-hour periods from ``since`` to ``at`` (0 when ``at`` is earlier)."""
    return max(0, (at - since) // DAY)


def judge(contract: dict, stats: dict | None, steps: list[dict], at: datetime, *, proven_only: bool = True) -> Verdict:
    """The verdict on one contract at instant ``at`` (see ``_judge``), with its
    next step in one line (``next_action.line``)."""
    verdict = _judge(contract, stats, steps, at, proven_only=proven_only)
    if verdict.next_action is not None:
        verdict.next_action.line = action_line(verdict.next_action, verdict.eligible_at, verdict.platform, at)
    return verdict


def _judge(contract: dict, stats: dict | None, steps: list[dict], at: datetime, *, proven_only: bool = True) -> Verdict:
    """The verdict on one contract at instant ``at``.

    ``contract`` is a row of the ``contracts`` table, ``stats`` the contract's
    ``{"last_client_at", "last_me_at", "first_at", "count"}`` over every stored
    message, ``steps`` what the user recorded.  With ``proven_only`` (the
    default), a latest capture a day old or more gives the state it proved (see
    ``_stale``).
    """
    platform = contract["platform"]
    stats = stats or {}
    status = contract.get("status")
    last_client = _instant(stats.get("last_client_at"))
    first = _instant(stats.get("first_at"))

    # --- silence ------------------------------------------------------------
    lower_bound = False
    if last_client is not None:
        silent_since = last_client
    elif first is not None:
        silent_since = first
        lower_bound = not contract.get("full_history_seen")
    else:
        silent_since = None
    silent_days = whole_days(silent_since, at) if silent_since else None
    eligible_at = silent_since + ELIGIBLE_DAYS * DAY if silent_since else None
    closed = status in CLOSED_STATUSES
    if closed:
        eligible_at = None

    step_times: dict[str, datetime] = {}
    for step in steps:
        done = _instant(step["done_at"])
        if done is not None and (step["step"] not in step_times or done > step_times[step["step"]]):
            step_times[step["step"]] = done
    # A step recorded before the client's last message is history: the client
    # answered after it.
    if last_client is not None:
        step_times = {k: v for k, v in step_times.items() if v >= last_client}

    # A reminder the pages show: your latest message, a day or more after the client's last.
    last_mine = _instant(stats.get("last_me_at"))
    if is_reminder(last_mine, last_client) and last_mine > step_times.get("reminder_sent", last_mine - DAY):
        step_times["reminder_sent"] = last_mine

    deadline = _instant(contract.get("escalation_deadline"))
    requested = contract.get("escalation") == "requested" or "request_filed" in step_times
    if requested and deadline is None and platform == "lancers" and "request_filed" in step_times:
        deadline = step_times["request_filed"] + LANCERS_DEADLINE_DAYS * DAY

    last_read = _instant(contract.get("last_read_at"))
    verdict = Verdict(
        platform=platform,
        contract_id=contract["contract_id"],
        thread_id=contract.get("thread_id"),
        title=contract.get("title"),
        client=contract.get("client"),
        url=contract.get("url"),
        pay_type=contract.get("pay_type"),
        status=status,
        list_status=contract.get("list_status"),
        escalation=contract.get("escalation"),
        silent_since=silent_since,
        silent_days=silent_days,
        silence_is_lower_bound=lower_bound,
        last_client_message_at=last_client,
        eligible_at=eligible_at,
        deadline_at=deadline if requested and not closed else None,
        last_captured_at=_instant(contract.get("last_captured_at")),
        delivered_at=_instant(contract.get("delivered_at")),
        source=contract.get("source"),
        fact_sources=_fact_sources(contract),
        steps=step_times,
        capture_age_days=whole_days(last_read, at) if last_read else None,
    )

    def reason(text: str, met: bool | None = None):
        verdict.reasons.append(Reason(text, met))

    # --- what the pages could not tell us ------------------------------------
    if contract.get("read_state") == "unreadable":
        verdict.state = "unreadable"
        verdict.unreadable_reason = contract.get("unreadable_reason")
        reason(f"最新のページ（{when(verdict.last_captured_at)} 取得）を読み取れませんでした: "
               f"{contract.get('unreadable_reason')}", False)
        if last_read is not None:
            reason(f"日数は {when(last_read)} までに読めたページによるもので、最新ではありません", None)
        verdict.next_action = NextAction(
            "reread",
            "ページの形式が変わった可能性があります。ページを開き直して再取得し、直らなければ "
            "ghostwatch を更新してから `ghostwatch reparse` を実行してください。",
        )
        return verdict
    if contract.get("read_state") != "ok":
        verdict.state = "unknown"
        reason("この契約のメッセージページはまだ読み込まれていません", None)
        verdict.next_action = NextAction(
            "open", "メッセージページを開くか `ghostwatch collect` を実行して、やりとりを取り込んでください。")
        return verdict

    if proven_only and last_read is not None and at - last_read >= STALE_AFTER:
        then = _judge(contract, stats, steps, last_read, proven_only=False)
        if then.state == "requested" and deadline is not None and at >= deadline:
            # A deadline passes whatever the pages show: say so, and that the page is old.
            return _stale(_judge(contract, stats, steps, at, proven_only=False), last_read, at, silent_since,
                          keep_action=True)
        return _stale(then, last_read, at, silent_since)

    if silent_since is None:
        reason("メッセージが 1 件も読めていないため、沈黙の日数はわかりません", None)
    elif lower_bound:
        reason(f"クライアントからのメッセージは表示範囲にありません。折りたたまれた過去のやりとりがあるため、"
               f"沈黙は {when(silent_since)} 以前から続いている可能性があります", None)
    elif last_client is None:
        reason(f"クライアントからのメッセージは一度もありません（スレッド開始 {when(silent_since)} から数えています）", None)
    else:
        reason(f"クライアントの最後のメッセージ: {when(last_client)}（{silent_days}日経過）", None)

    if closed:
        verdict.state = "closed"
        reason(f"契約は{STATUS_LABELS.get(status, status)}しています", None)
        verdict.next_action = NextAction("none", "対応は不要です。")
        return verdict

    if platform == "lancers":
        _judge_lancers(verdict, contract, deadline, requested, step_times, at, reason)
    else:
        _judge_crowdworks(verdict, contract, requested, step_times, at, reason)
    return verdict


def _stale(verdict: Verdict, captured: datetime, at: datetime, silent_since: datetime | None,
           keep_action: bool = False) -> Verdict:
    """A verdict whose latest readable capture is a day old or more: silence is
    proven only up to that capture, so the state is the one the capture proves
    (never one reached by time no page has seen), and the next action is to
    read the page again."""
    age = whole_days(captured, at)
    then = verdict.next_action
    verdict.stale = True
    verdict.capture_age_days = age
    verdict.silent_days = whole_days(silent_since, at) if silent_since else None
    verdict.reasons.insert(0, Reason(
        f"最新のページは {when(captured)} に取得したものです（{age}日前）。沈黙が確かめられているのはその時点までで、"
        "その後の返信はページを開き直すまで反映されません",
        None,
    ))
    if keep_action:
        return verdict
    verdict.next_action = NextAction(
        "reread",
        f"最新のページは{age}日前のものです。いまの状態を確かめるため、メッセージページを開き直して取り込んでください"
        f"（{when(captured)} 時点の判断: {then.text if then else ''}）",
    )
    return verdict


def _no_silence(verdict: Verdict) -> None:
    """No message read: nothing is known of the silence."""
    verdict.state = "unknown"
    verdict.next_action = NextAction("open", "メッセージが読めていません。メッセージページを開き直して取り込んでください。")


def _requested_state(verdict: Verdict, deadline: datetime | None, at: datetime, reason) -> None:
    if deadline is not None and at >= deadline:
        verdict.state = "overdue"
        reason(f"連絡期限 {when(deadline)} を過ぎています", True)
        office = OFFICE[verdict.platform]
        verdict.next_action = NextAction(
            "check_support",
            f"連絡期限を過ぎました。{office}の対応状況を確認し、連絡がなければサポートに問い合わせましょう。",
            deadline,
        )
        return
    verdict.state = "requested"
    if deadline is not None:
        reason(f"連絡催促を申請済みです（連絡期限 {when(deadline)}）", True)
        text = f"連絡期限 {when(deadline)} まで返信を待ちましょう。期限までに連絡がなければ事務局が対応します。"
    else:
        reason("連絡催促を申請済みです（期限はページに表示されていません）", True)
        text = "事務局の確認を待ちましょう。クライアントから連絡があれば、その内容に沿って進めてください。"
    verdict.next_action = NextAction("wait_deadline", text, deadline)


def _nudge_or_ok(verdict: Verdict, reminder_at: datetime | None, eligible_text: str, eligible_at: datetime | None,
                 at: datetime) -> None:
    if verdict.silent_days >= NUDGE_DAYS:
        verdict.state = "nudge"
        if reminder_at is not None and at - reminder_at < NUDGE_DAYS * DAY:
            # Reminded lately: wait for the answer until the next step is due.
            again = reminder_at + NUDGE_DAYS * DAY
            date = min(again, eligible_at) if eligible_at else again
            text = f"{when(reminder_at)} に催促済みです。返信を待ちましょう。{eligible_text}"
            verdict.next_action = NextAction("wait_reply", text, date)
            return
        if reminder_at is not None:
            text = f"{when(reminder_at)} の催促から{NUDGE_DAYS}日以上たちました。もう一度、丁寧に催促しましょう。{eligible_text}"
        else:
            text = f"丁寧な催促メッセージを送りましょう。{eligible_text}"
        verdict.next_action = NextAction("remind", text, eligible_at)
    else:
        verdict.state = "ok"
        nudge_at = verdict.silent_since + NUDGE_DAYS * DAY
        verdict.next_action = NextAction(
            "wait", f"今は待ちましょう。{when(nudge_at)} までに返信がなければ、催促メッセージを送りましょう。", nudge_at)


def _fact_reason(reason, label: str, value, known_text: str, met: bool) -> None:
    """A condition of the rule, or "unknown" when the page did not show the fact."""
    if value is None:
        reason(f"{label}: 不明（ページに表示されていません）", None)
    else:
        reason(known_text, met)


def _judge_lancers(verdict: Verdict, contract: dict, deadline, requested: bool, step_times: dict, at: datetime,
                   reason) -> None:
    status = contract.get("status")
    escalation = contract.get("escalation")
    pay_type = contract.get("pay_type")
    silent_days, eligible_at = verdict.silent_days, verdict.eligible_at
    fixed = pay_type == "fixed"
    _fact_reason(reason, "報酬形式", pay_type,
                 "固定報酬制のプロジェクト" + ("です" if fixed else "ではありません（時間報酬制は対象外）"), fixed)
    _fact_reason(reason, "取引の状態", status, f"取引の状態: {STATUS_LABELS.get(status, status)}",
                 status in ("in_progress", "delivered"))
    if status is not None:
        reason("計画変更中ではありません" if status != "plan_change" else "計画変更中です（申請できません）",
               status != "plan_change")
    if silent_days is not None:
        reason(f"クライアントの沈黙が{ELIGIBLE_DAYS}日以上（{when(eligible_at)} から）", silent_days >= ELIGIBLE_DAYS)
    reason("連絡催促申請はまだ出ていません" if not requested else "連絡催促申請は出ています", not requested)
    _fact_reason(reason, "「連絡催促申請」ボタン", escalation,
                 "ページに「連絡催促申請」ボタンが表示されています" if escalation == "available"
                 else "ページに「連絡催促申請」ボタンは表示されていません", escalation == "available")

    if requested:
        _requested_state(verdict, deadline, at, reason)
        return
    reported = status == "delivered" or "report_filed" in step_times
    if escalation == "available":  # Lancers' own word, whatever the silence
        verdict.state = "eligible"
        if reported:
            text = (f"連絡催促申請ができます。申請すると{LANCERS_DEADLINE_DAYS}日後が連絡期限になり、期限までに連絡がなければ、"
                    "完了報告済みの作業はランサーズが支払いを確定します。")
        else:
            text = ("連絡催促申請ができます。作業が終わっている場合は、先に「完了報告」をしてから申請してください"
                    "（完了報告のない作業は支払い確定の対象になりません）。")
        verdict.next_action = NextAction("file_request", text, at)
        return
    if silent_days is None:
        _no_silence(verdict)
        return
    if silent_days >= ELIGIBLE_DAYS:
        if status is None or escalation is None:
            verdict.state = "unconfirmed"
            verdict.next_action = NextAction(
                "check_page",
                f"クライアントの沈黙が{ELIGIBLE_DAYS}日を超えました。ランサーズで取引のメッセージページを開き、"
                "「連絡催促申請」ボタンが表示されているか確認してください（取引情報が読み取れなかったため、"
                "申請できるかどうか判断できません）。",
            )
            return
        verdict.state = "not_eligible"
        if not fixed:
            text = "時間報酬制の契約は連絡催促申請の対象外です。ランサーズのサポートに相談しましょう。"
        elif status == "plan_change":
            text = "計画変更中は連絡催促申請ができません。計画変更の承認・取り下げを待つか、サポートに相談しましょう。"
        elif _instant(contract.get("last_read_at")) < eligible_at:
            text = (f"最新のページは沈黙{ELIGIBLE_DAYS}日目（{when(eligible_at)}）より前に取得したものです。"
                    "メッセージページを開き直すと「連絡催促申請」ボタンが表示されるか確認できます。")
        else:
            text = ("ページに申請ボタンが表示されていません（相手側がすでに申請している場合などは申請できません）。"
                    "メッセージページを開き直して確認し、必要ならサポートに相談しましょう。")
        verdict.next_action = NextAction("ask_support", text)
        return
    if status in ("in_progress", "delivered") and pay_type != "hourly":
        eligible_text = f"{when(eligible_at)} から連絡催促申請ができる見込みです。"
    else:
        eligible_text = ""
    _nudge_or_ok(verdict, step_times.get("reminder_sent"), eligible_text, eligible_at if eligible_text else None, at)


def _judge_crowdworks(verdict: Verdict, contract: dict, requested: bool, step_times: dict, at: datetime,
                      reason) -> None:
    status = contract.get("status")
    silent_days, eligible_at = verdict.silent_days, verdict.eligible_at
    open_work = status in ("in_progress", "delivered")
    _fact_reason(reason, "契約の状態", status, f"契約の状態: {STATUS_LABELS.get(status, status)}", open_work)
    if silent_days is not None:
        reason(f"クライアントの沈黙が{ELIGIBLE_DAYS}日以上（{when(eligible_at)} から）", silent_days >= ELIGIBLE_DAYS)
    delivered_at = verdict.delivered_at
    kenshu_due = delivered_at + KENSHU_DAYS * DAY if delivered_at else None
    if status == "delivered":
        if kenshu_due:
            reason(f"納品 {when(delivered_at)}、検収の目安（納品から{KENSHU_DAYS}日）は {when(kenshu_due)}", at >= kenshu_due)
        reason("納品済みの作業に「途中終了リクエスト」は使わないでください（仮払いが全額クライアントに返金されます）", None)
    reason("連絡催促はまだ申請していません" if not requested else "連絡催促を申請中です", not requested)

    if requested:
        _requested_state(verdict, None, at, reason)
        return
    if silent_days is None:
        _no_silence(verdict)
        return
    if silent_days >= ELIGIBLE_DAYS and open_work:
        verdict.state = "eligible"
        if "office_contacted" in step_times:
            text = f"{when(step_times['office_contacted'])} に事務局へ連絡済みです。事務局からの返答を待ちましょう。"
            date = None
        elif status == "delivered":
            text = (f"納品後、クライアントからの連絡が{ELIGIBLE_DAYS}日以上ありません。「契約相手と連絡がとれない場合はこちら」から"
                    "事務局に連絡し、検収の対応を依頼しましょう。途中終了リクエストは返金になるため使わないでください。")
            date = max(kenshu_due, at) if kenshu_due else at
        else:
            text = ("「契約相手と連絡がとれない場合はこちら」から連絡催促を申請できます（事務局が確認します）。"
                    "納品できる状態なら、先に納品しておきましょう。")
            date = at
        verdict.next_action = NextAction("contact_office", text, date)
        return
    if silent_days >= ELIGIBLE_DAYS and status is None:
        verdict.state = "unconfirmed"
        verdict.next_action = NextAction(
            "check_page",
            f"クライアントの沈黙が{ELIGIBLE_DAYS}日を超えましたが、契約の状態が読み取れませんでした。"
            "クラウドワークスで契約ページを開き、状態を確認してから事務局への連絡催促を検討してください。",
        )
        return
    if silent_days >= ELIGIBLE_DAYS:
        verdict.state = "not_eligible"
        verdict.next_action = NextAction(
            "ask_support", "この状態の契約は連絡催促の対象外です。クラウドワークスのサポートに相談しましょう。")
        return
    eligible_text = f"{when(eligible_at)} から事務局への連絡催促ができます。" if open_work else ""
    _nudge_or_ok(verdict, step_times.get("reminder_sent"), eligible_text, eligible_at if open_work else None, at)


def urgency_key(verdict: Verdict):
    rank = URGENCY.index(verdict.state) if verdict.state in URGENCY else len(URGENCY)
    return (rank, -(verdict.silent_days or 0), verdict.platform, verdict.contract_id)


def badge(verdict: Verdict) -> dict:
    """The extension's badge for one contract: days of silence, coloured (the
    colours of ``server.labels``: the same table ``GET /api/states`` serves)."""
    state = verdict.state
    if state in ("unreadable", "unknown"):
        return {"text": "?", "color": BADGE_COLORS["grey"]}
    if state == "closed":
        return {"text": "", "color": BADGE_COLORS["grey"]}
    days = verdict.silent_days or 0
    text = f"{days}+" if verdict.silence_is_lower_bound else str(days)
    if state == "unconfirmed":
        # The days are known; whether a request can be filed is not: its own colour.
        return {"text": text + "?", "color": STATE_COLORS["unconfirmed"]}
    if days >= ELIGIBLE_DAYS or state in ("eligible", "overdue"):
        color = BADGE_COLORS["red"]
    elif days >= NUDGE_DAYS:
        color = BADGE_COLORS["amber"]
    else:
        color = BADGE_COLORS["green"]
    return {"text": text, "color": color}
