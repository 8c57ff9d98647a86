"""Small captures of our own, in the platforms' markup and JSON, for the corner
cases the corpus does not hold (a client who never wrote, folded history,
6 days 23 hours, a deadline passing...).  The markup and JSON follow the corpus
captures, trimmed to what ghostwatch reads.

    page = crowdworks_capture(messages=[("client", "2026-11-10T09:00:00+09:00", "…")])
    page.ingest(store, captured_at)      # store.ingest with its URL, HTML and responses
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from collector.timeutil import JST, parse_instant


@dataclass
class TestCapture:
    url: str
    html: str
    responses: list[dict] = field(default_factory=list)
    contract_id: str | None = None
    thread_id: str | None = None

    __test__ = False  # not a pytest class

    def ingest(self, store, captured_at: datetime):
        return store.ingest(self.url, self.html, captured_at, responses=self.responses)


def _id(*parts: str) -> int:
    """A stable message id, as the platforms give each message its own."""
    return zlib.crc32("\x1f".join(parts).encode()) % 90_000_000 + 10_000_000


def _response(url: str, body) -> dict:
    return {"url": url, "status": 200, "content_type": "application/json; charset=utf-8",
            "body": json.dumps(body, ensure_ascii=False)}


# --- Lancers ---------------------------------------------------------------------


def lancers_url(board_id: str = "7000001") -> str:
    return f"https://www.lancers.jp/mypage/message?boardId={board_id}"


def lancers_capture(
    board_id: str = "7000001",
    messages: list[tuple[str, str, str]] = (),
    *,
    job_id: str | None = None,
    title: str = "テスト用のお仕事",
    client: str = "株式会社テスト",
    pay: str = "固定報酬制",
    status: str = "進行中",
    contact_button: bool = False,
    requested_deadline: str | None = None,
    panel: bool = True,
    inquiry: bool = False,
) -> TestCapture:
    """A Lancers thread: the app's HTML (deal panel) and its message API.
    ``messages`` are (sender "client"|"me", ISO instant, body); the job id is
    ``job_id`` or "5" + the board id."""
    job_id = job_id or f"5{board_id}"
    items = [
        {"id": n * 1000 + 1, "board_id": int(board_id), "modified": when, "is_required_reply": False,
         "send_user": {"is_client": sender == "client", "id": 1 if sender == "client" else 2,
                       "display_name": client if sender == "client" else "私"},
         "description": body}
        for n, (sender, when, body) in enumerate(messages)
    ]
    detail = {"id": int(board_id), "title": title, "modified": "2026-11-20 10:00:00",
              "is_required_reply": False, "unread_count": 0,
              "with": {} if inquiry else {"job": {"id": int(job_id)}, "proposal": {"id": 1}}}
    base = "https://www.lancers.jp/v1/message_api/boards"
    pages = [items[::-1][i:i + 20] for i in range(0, len(items), 20)] or [[]]
    responses = [_response(f"{base}/{board_id}", detail),
                 _response(f"{base}/{board_id}/messages?limit=20", pages[0])]
    for older in pages[1:]:
        before = min(m["id"] for page in pages[: pages.index(older)] for m in page)
        responses.append(_response(f"{base}/{board_id}/messages?limit=20&message_id={before}&direction=prev", older))
    actions = ""
    if contact_button:
        actions += ('<a class="c-button p-message-board__contact-request" '
                    f'href="/mypage/contact_request/new?boardId={board_id}">連絡催促申請</a>')
    if requested_deadline:
        actions += f'<p class="p-message-board__contact-request-status">連絡催促申請中（連絡期限：{requested_deadline}）</p>'
    deal = f"""<aside class="p-message-board__deal"><h2>取引情報</h2>
<div class="p-message-board__deal-work"><a class="p-message-board__work-title" href="/work/detail/{job_id}">{escape(title)}</a></div>
<dl class="p-message-board__deal-list"><dt>クライアント</dt><dd><a href="/client/x">{escape(client)}</a></dd>
<dt>報酬形式</dt><dd>{pay}</dd><dt>状態</dt><dd><span class="c-status">{status}</span></dd></dl>
<div class="p-message-board__deal-actions">{actions}
<p class="p-message-board__contact-help"><a href="/faq/A1018/338">連絡催促申請について</a></p></div></aside>"""
    html = f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{escape(client)}とのメッセージ</title>
<meta name="csrf-token" content="secret-csrf-token-value"></head>
<body><main><div class="p-message-board" id="js-message-board"><section class="p-message-board__main">
<div class="p-message-board__messages" id="js-message-list"><div class="p-message-board__loading">読み込み中…</div></div>
</section>{deal if panel else ""}</div></main></body></html>"""
    return TestCapture(lancers_url(board_id), html, responses, None if inquiry else job_id, board_id)


# --- CrowdWorks ------------------------------------------------------------------

CW_STATUS = {
    "in_progress": "<p>業務を開始しています。</p><p>納品物の準備ができたら報告してください。</p>",
    "escrow": "<p>仮払いを行っています。</p><p>クライアントが仮払いを完了するまで、業務を開始しないでください。</p>",
    "delivered": "<p>クライアント（発注者）が検収を行っています。</p><p>検収完了までしばらくお待ちください。</p>",
    "completed": "<p>この契約は完了しました。</p>",
    "cancelled": "<p>この契約はキャンセルされました。</p>",
    "unknown": "<p>ご不明な点はヘルプをご覧ください。</p>",
}


def crowdworks_url(contract_id: str = "9000001") -> str:
    return f"https://crowdworks.jp/contracts/{contract_id}"


def _japanese(when: str) -> str:
    local = parse_instant(when).astimezone(JST)
    return f"{local.year}年{local.month:02d}月{local.day:02d}日 {local:%H:%M}"


def crowdworks_capture(
    contract_id: str = "9000001",
    messages: list[tuple[str, str, str]] = (),
    *,
    title: str = "テスト用の契約",
    client: str = "株式会社テスト",
    pay: str = "固定報酬制 33,000円",
    status: str = "in_progress",
    collapsed: int = 0,
    requested: bool = False,
    api: bool = True,
    thread_id: str | None = None,
    hash_: str = "z9y8x",
) -> TestCapture:
    """A CrowdWorks contract page and, with ``api``, its messages.json;
    ``messages`` are (sender "client"|"me"|"system", ISO instant, body).
    Without ``api`` the page's own list is read (and ``collapsed`` folds it)."""
    thread_id = thread_id or f"3{contract_id}"
    items = []
    for sender, when, body in messages:
        mid = _id(sender, when, body)
        if sender == "system":
            head = f'<div class="_notice_{hash_}"><div class="_messageHeader_{hash_}"><span>お知らせ</span>'
        else:
            sent = f"_messageSent_{hash_} " if sender == "me" else ""
            href = "/public/employees/2" if sender == "me" else "/public/employers/1"
            name = "私" if sender == "me" else client
            head = (f'<div class="{sent}_message_{hash_}"><div class="_messageHeader_{hash_}">'
                    f'<a class="_senderName_{hash_}" href="{href}">{escape(name)}</a>')
        items.append(
            f'<div class="_messageItem_{hash_}" id="message-{mid}">{head}'
            f'<time class="_sendDate_{hash_}" datetime="{_japanese(when)}">{_japanese(when)}</time></div>'
            f'<div class="_messageBody_{hash_}"><p>{body}</p></div></div></div>'
        )
    expand = f'<button class="_expandButton_{hash_}" type="button">他の{collapsed}件のメッセージを表示</button>' if collapsed else ""
    data = escape(json.dumps({"id": int(thread_id), "messageableId": int(contract_id),
                              "messageableType": "Contract", "proposalId": 1}), quote=True)
    html = f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="csrf-token" content="secret-csrf-token-value"></head>
<body><div id="content"><h1>{escape(title)}</h1>
<div class="contract-box" role="status">{CW_STATUS[status]}</div>
{'<div class="contract-box"><p>連絡催促を申請中です。</p></div>' if requested else ''}
<table class="contract cw-table"><tbody>
<tr><th>仕事</th><td><a href="/public/jobs/1">{escape(title)}</a></td></tr>
<tr><th>クライアント</th><td><a href="/public/employers/1">{escape(client)}</a></td></tr>
<tr><th>契約金額</th><td>{pay}</td></tr></tbody></table>
<p><a href="/contracts/{contract_id}/contact_requests/new">契約相手と連絡がとれない場合はこちら</a></p>
<section id="messages"><div id="pack-message-thread" data="{data}"><div class="_thread_{hash_}">{expand}
<div class="_messageList_{hash_}">{''.join(items)}</div></div></div></section></div></body></html>"""
    responses = []
    if api:
        body = {"messages": [
            {"id": _id(sender, when, text), "own_message": sender == "me", "senddate": _japanese(when),
             "body": escape(text)}
            for sender, when, text in messages if sender != "system"
        ]}
        responses.append(_response(f"https://crowdworks.jp/message/threads/{thread_id}/messages.json", body))
    return TestCapture(crowdworks_url(contract_id), html, responses, contract_id, thread_id)
