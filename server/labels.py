"""Every Japanese word and date format ghostwatch shows, in one place: the CLI,
the web view, the calendar, the texts to copy and (through the API's verdicts)
the extension use these, so a contract reads the same everywhere.

Dates: ``when`` (2026年11月17日 15:26) in reasons and texts, ``jdatetime``
(2026年11月21日(土) 09:00) and ``jdate`` (11月21日(土)) in the web view,
``short_when`` (11月27日 15:26) in next-step lines.
"""

from __future__ import annotations

from datetime import datetime

from collector.timeutil import JST, now, parse_instant

WEEKDAYS = "月火水木金土日"

STATE_LABELS = {
    "overdue": "期限超過",
    "eligible": "申請できます",
    "unconfirmed": "要確認",
    "unreadable": "読み取り不可",
    "requested": "申請中",
    "not_eligible": "申請対象外",
    "nudge": "催促どき",
    "ok": "問題なし",
    "unknown": "未確認",
    "closed": "終了",
}
# What each state means, for the legend of the web view ("{eligible}" and "{nudge}"
# are rule numbers, filled in by server.rules.STATE_HELP).
STATE_HELP = {
    "overdue": "連絡催促申請の連絡期限を過ぎました。事務局の対応を確認します。",
    "eligible": "連絡催促（ランサーズの「連絡催促申請」、クラウドワークスの事務局への連絡催促）ができます。",
    "unconfirmed": "クライアントの沈黙は{eligible}日以上ですが、取引の情報（状態や「連絡催促申請」ボタンの有無）が"
                   "読み取れず、申請できるかどうか分かりません。取引のページを開き、「連絡催促申請」ボタンが"
                   "表示されているか確認してください。",
    "unreadable": "最新のページを読み取れませんでした。日数は推測しません。ページを開き直して再取得してください。",
    "requested": "連絡催促を申請済みです。連絡期限まで返信を待ちます。",
    "not_eligible": "沈黙は{eligible}日以上ですが、連絡催促申請の条件を満たしていません（時間報酬制、計画変更中など）。",
    "nudge": "沈黙が{nudge}日以上続いています。丁寧な催促メッセージを送るころです。",
    "ok": "今は待ちましょう。",
    "unknown": "一覧で見ただけで、メッセージはまだ読み込んでいません。",
    "closed": "完了またはキャンセルした契約です。",
}
# Colours. The days of silence on a badge: green, amber from NUDGE_DAYS, red from
# ELIGIBLE_DAYS (or eligible / overdue); grey for a page not read.
BADGE_COLORS = {"red": "#c62828", "amber": "#f9a825", "green": "#2e7d32", "grey": "#757575"}

# Each state's colour (the web view's chip and days, the extension's popup).
STATE_COLORS = {
    "overdue": "#b71c1c",
    "eligible": "#c62828",
    "unconfirmed": "#ad1457",
    "unreadable": "#6a1b9a",
    "requested": "#00838f",
    "not_eligible": "#ef6c00",
    "nudge": "#f9a825",
    "ok": "#2e7d32",
    "unknown": "#757575",
    "closed": "#9e9e9e",
}
PLATFORM_LABELS = {"lancers": "ランサーズ", "crowdworks": "クラウドワークス"}
PLATFORM_SHORT = {"lancers": "L", "crowdworks": "CW"}  # a contract in narrow places: L:4862017, CW:63724402
OFFICE = {"lancers": "ランサーズ事務局", "crowdworks": "クラウドワークス事務局"}
STATUS_LABELS = {
    "in_progress": "進行中",
    "delivered": "納品済み（検収待ち）",
    "plan_change": "計画変更中",
    "completed": "完了",
    "cancelled": "キャンセル",
}
PAY_TYPE_LABELS = {"fixed": "固定報酬", "hourly": "時間報酬"}
# The next action in a word or two, for narrow places (the CLI table, the badge title).
ACTION_LABELS = {
    "file_request": "連絡催促申請をする",
    "contact_office": "事務局に連絡する",
    "check_support": "事務局の対応を確認",
    "wait_deadline": "連絡期限まで待つ",
    "remind": "催促メッセージを送る",
    "wait_reply": "返信を待つ",
    "wait": "待つ",
    "ask_support": "サポートに相談",
    "reread": "ページを再取得",
    "check_page": "申請ボタンを確認",
    "open": "ページを開く",
    "none": "なし",
}
# Actions due now (today), as opposed to waiting until a date.
ACTIONS_DUE_NOW = ("file_request", "contact_office", "check_support", "remind", "reread", "check_page", "open",
                   "ask_support")
STEP_LABELS = {
    "reminder_sent": "催促メッセージを送った",
    "report_filed": "完了報告（納品）をした",
    "office_contacted": "事務局に連絡した",
    "request_filed": "連絡催促を申請した",
}
# Where a fact came from (a verdict's ``fact_sources``).
SOURCE_LABELS = {"api": "プラットフォームの JSON", "page": "ページ", "list": "一覧"}
UNKNOWN = "不明"
BOARD_WITHOUT_JOB = "案件不明のメッセージボード"
ESCALATION_LABELS = {
    "lancers": {"available": "「連絡催促申請」ボタンあり", "requested": "連絡催促申請中", "none": "ボタンなし"},
    "crowdworks": {"requested": "連絡催促を申請中", "none": "申請なし"},
}


# --- dates ---------------------------------------------------------------------


def local(value) -> datetime | None:
    """An instant (a datetime or an ISO 8601 string) in Japan time; None for none."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(JST)
    return parse_instant(value).astimezone(JST)


def when(value) -> str:
    """2026年11月17日 15:26"""
    d = local(value)
    return "—" if d is None else f"{d.year}年{d.month}月{d.day}日 {d:%H:%M}"


def short_when(value, at=None) -> str:
    """11月27日 15:26 (with the year when it is not the year of ``at``)."""
    d = local(value)
    if d is None:
        return "—"
    year = "" if d.year == (local(at) or now()).year else f"{d.year}年"
    return f"{year}{d.month}月{d.day}日 {d:%H:%M}"


def stamp(value) -> str:
    """2026-11-21 09:00 (the terminal's table title)."""
    d = local(value)
    return "—" if d is None else f"{d:%Y-%m-%d %H:%M}"


def jdatetime(value) -> str:
    """2026年11月21日(土) 09:00"""
    d = local(value)
    return "—" if d is None else f"{d.year}年{d.month}月{d.day}日({WEEKDAYS[d.weekday()]}) {d:%H:%M}"


def jdate(value) -> str:
    """11月21日(土), with the year when it is not this year's."""
    d = local(value)
    if d is None:
        return "—"
    year = "" if d.year == now().year else f"{d.year}年"
    return f"{year}{d.month}月{d.day}日({WEEKDAYS[d.weekday()]})"


def ago(value, at=None) -> str:
    """How long before ``at``: たった今 / 12分前 / 3時間前 / 5日前 (or 後 in the future)."""
    d = local(value)
    if d is None:
        return "—"
    delta = (at or now()) - d
    later = delta.total_seconds() < 0
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        return "たった今"
    if seconds < 3600:
        text = f"{int(seconds // 60)}分"
    elif seconds < 86400:
        text = f"{int(seconds // 3600)}時間"
    else:
        text = f"{int(seconds // 86400)}日"
    return text + ("後" if later else "前")


ESCALATE_WORDS = {"lancers": "連絡催促申請できます", "crowdworks": "事務局に連絡催促できます"}


def action_line(next_action, eligible_at, platform: str, at) -> str:
    """The next step (a ``server.verdict.NextAction`` or None) in one line, today apart from later:
    「今日: 催促メッセージを送る · 11月27日 15:26 から連絡催促申請できます」.
    An action due now never carries a future date; a later one says from when."""
    kind = next_action.kind if next_action is not None else "none"
    label = ACTION_LABELS.get(kind, kind)
    if kind == "none":
        return "対応は不要です"
    date = local(next_action.date)
    if kind in ACTIONS_DUE_NOW:
        line = f"今日: {label}"
        later = local(eligible_at)
        if kind == "remind" and later is not None and later > local(at):
            line += f" · {short_when(later, at)} から{ESCALATE_WORDS.get(platform, '連絡催促できます')}"
        elif date is not None and date > local(at):
            line += f" · {short_when(date, at)} から"
        return line
    if kind == "wait" and date is not None:
        return f"{short_when(date, at)} まで待つ（返信がなければ催促）"
    if kind == "wait_reply" and date is not None:
        line = f"{short_when(date, at)} まで返信を待つ（催促済み）"
        later = local(eligible_at)
        if later is not None and later > local(at):
            line += f" · {short_when(later, at)} から{ESCALATE_WORDS.get(platform, '連絡催促できます')}"
        return line
    if kind == "wait_deadline" and date is not None:
        return f"連絡期限 {short_when(date, at)} まで待つ"
    return label


# --- the web view's timeline, today's list, calendar links, settings ---------------

SENDER_LABELS = {"client": "クライアント", "me": "あなた", "system": "システム"}
# The marks of the SVG timeline ("{days}" is a rule number from server.rules).
MARK_LABELS = {
    "eligible": "沈黙{days}日目",
    "deadline": "連絡期限",
    "delivered": "納品",
    "kenshu": "検収の目安",
    "captured": "最新のページ",
    "now": "今",
}
SILENCE_PROVEN = "沈黙 {days}日{more}（ページで確認）"
UNOBSERVED = "未確認 {days}日（取得後のページなし）"
TODAY_HEADING = "今日やること"
TODAY_NONE = "今日やることはありません。"
GOOGLE_CALENDAR = "Googleカレンダーに追加"
ICS_DOWNLOAD = "カレンダーファイル（.ics）をダウンロード"
# Calendar events (the .ics feed and the Google links): title prefixes.
EVENT_LABELS = {"eligible": "申請可能", "deadline": "連絡期限", "kenshu": "検収の目安", "nudge": "催促の目安"}
USER_NAME = "あなたの名前"
USER_NAME_PLACEHOLDER = "（お名前）"
COPY_AND_OPEN = "コピーしてスレッドを開く"


def slash_date(value) -> str:
    """11/19 (the timeline's axis and marks)."""
    d = local(value)
    return "—" if d is None else f"{d.month}/{d.day}"

# The escalation checklist of each platform, in order: (step, title, help).  The
# help's {nudge} / {eligible} / {deadline} / {kenshu} are rule numbers from server.rules.
CHECKLIST = {
    "lancers": (
        ("reminder_sent", "催促メッセージを送る",
         "沈黙が{nudge}日続いたら、メッセージで丁寧に返信をお願いします（下の文面を使えます）。"),
        ("report_filed", "完了報告をする",
         "作業が終わっていれば、連絡催促申請の前に「完了報告」をします。完了報告のない作業は、"
         "申請後の支払い確定の対象になりません。"),
        ("request_filed", "連絡催促申請をする",
         "固定報酬制・進行中で、クライアントの沈黙が{eligible}日以上のとき、メッセージページの「連絡催促申請」ボタンから"
         "申請できます。申請から{deadline}日が連絡期限です。"),
        ("office_contacted", "事務局（サポート）に問い合わせる",
         "連絡期限を過ぎても進展がないとき、またはボタンが出ないときに、ランサーズのサポートへ相談します。"),
    ),
    "crowdworks": (
        ("reminder_sent", "催促メッセージを送る",
         "沈黙が{nudge}日続いたら、メッセージで丁寧に返信をお願いします（下の文面を使えます）。"),
        ("report_filed", "納品（完了報告）をする",
         "作業が終わっていれば納品します。納品後、検収の目安は{kenshu}日です。"
         "「途中終了リクエスト」は仮払いが全額クライアントに返金されるため、納品済みの作業には使いません。"),
        ("request_filed", "連絡催促を申請する",
         "沈黙が{eligible}日以上のとき、契約ページの「契約相手と連絡がとれない場合はこちら」から申請できます"
         "（事務局が確認します）。"),
        ("office_contacted", "事務局に連絡する",
         "納品から{kenshu}日たっても検収されないときは、事務局に検収の対応を依頼します。"),
    ),
}
# A step the pages themselves show as done.
SHOWN_BY_PAGES = {
    "reminder_sent": "ページより: クライアントの最後のメッセージの後に、あなたが送ったメッセージ",
    "report_filed": "ページより: 納品済み",
    "request_filed": "ページより: 連絡催促を申請中",
}
CHECKLIST_HOWTO = ("チェックを入れて「保存」すると、その日時で記録します（判定に反映されます）。チェックを外して保存すると、"
                   "その手順の記録を取り消します。記録済みの手順は、日時を変えて保存するともう一件記録します。"
                   "ページに表示されていること（納品、あなたのメッセージ）は、記録しなくてもチェックが付きます。")
SETTINGS_HEADING = "設定"
USER_NAME_HELP = "催促メッセージと事務局への問い合わせの文面に入ります（このパソコンの設定ファイルにだけ保存します）。"
USER_NAME_SAVED = "名前を保存しました。"
USER_NAME_CLEARED = "名前を消しました。"
PROVEN_SHORT = "ページで確認: {days}日{more}"
