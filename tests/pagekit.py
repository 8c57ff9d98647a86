"""Small pages of our own, in the platforms' markup, for the corner cases the
corpus does not hold (a client who never wrote, folded history, 6 days 23 hours,
a year boundary...).  The markup follows the corpus pages, trimmed to what
ghostwatch reads."""

from __future__ import annotations

import zlib
from html import escape


def _id(*parts: str) -> str:
    """A stable message id, as the platforms give each message its own."""
    return str(zlib.crc32("\x1f".join(parts).encode()))

LANCERS_SENDER = {"client": "partner", "me": "self", "system": "system"}


def lancers_thread(
    board_id: str = "7000001",
    messages: list[tuple[str, str, str]] = (),
    *,
    title: str = "テスト用のお仕事",
    client: str = "株式会社テスト",
    pay: str = "固定報酬制",
    status: tuple[str, str] = ("progress", "進行中"),
    contact_button: bool = False,
    requested_deadline: str | None = None,
) -> str:
    """A Lancers thread; ``messages`` are (sender, time text as shown, body)."""
    items = []
    for n, (sender, shown, body) in enumerate(messages):
        items.append(
            f'<li class="p-message-list__item p-message-list__item--{LANCERS_SENDER[sender]}" '
            f'data-message-id="{_id(sender, shown, body)}"><div class="p-message-list__content">'
            f'<div class="p-message-list__header"><span class="p-message-list__sender">{escape(sender)}</span>'
            f'<time class="p-message-list__time">{escape(shown)}</time></div>'
            f'<div class="p-message-list__body">{body}</div></div></li>'
        )
    actions = ""
    if contact_button:
        actions += (
            '<a class="c-button p-message-board__contact-request" '
            f'href="/mypage/contact_request/new?boardId={board_id}">連絡催促申請</a>'
        )
    if requested_deadline:
        actions += f'<p class="p-message-board__contact-request-status">連絡催促申請中（連絡期限：{requested_deadline}）</p>'
    return f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{escape(client)}とのメッセージ</title></head>
<body><main><div class="p-message-board" data-board-id="{board_id}"><section>
<ul class="p-message-list" id="js-message-list">{''.join(items)}</ul></section>
<aside class="p-message-board__deal"><h2>取引情報</h2>
<div class="p-message-board__deal-work"><a class="p-message-board__work-title" href="/work/detail/1">{escape(title)}</a></div>
<dl class="p-message-board__deal-list"><dt>クライアント</dt><dd><a href="/client/x">{escape(client)}</a></dd>
<dt>報酬形式</dt><dd>{pay}</dd><dt>状態</dt><dd><span class="c-status c-status--{status[0]}">{status[1]}</span></dd></dl>
<div class="p-message-board__deal-actions">{actions}
<p class="p-message-board__contact-help"><a href="/faq/A1018/338">連絡催促申請について</a></p></div>
</aside></div></main></body></html>"""


def lancers_url(board_id: str = "7000001") -> str:
    return f"https://www.lancers.jp/mypage/message?boardId={board_id}"


CW_BANNERS = {
    "in_progress": "業務を開始しています",
    "escrow": "仮払いを行っています",
    "delivered": "クライアント（発注者）が検収を行っています",
    "completed": "この契約は完了しました",
    "cancelled": "この契約はキャンセルされました",
}


def crowdworks_contract(
    contract_id: str = "9000001",
    messages: list[tuple[str, str, str]] = (),
    *,
    title: str = "テスト用の契約",
    client: str = "株式会社テスト",
    pay: str = "固定報酬制",
    status: str = "in_progress",
    collapsed: int = 0,
    requested: bool = False,
    hash_: str = "z9y8x",
) -> str:
    """A CrowdWorks contract page; ``messages`` are (sender, ISO datetime, body)."""
    items = []
    for n, (sender, when, body) in enumerate(messages):
        modifier = {"me": f" _ownMessage_{hash_}", "system": f" _systemMessage_{hash_}", "client": ""}[sender]
        name = (
            f'<span class="_systemLabel_{hash_}">クラウドワークス</span>'
            if sender == "system"
            else f'<a class="_senderName_{hash_}" href="/public/employers/1">{escape(client if sender == "client" else "私")}</a>'
        )
        items.append(
            f'<div class="_messageItem_{hash_}{modifier}" data-message-id="{_id(sender, when, body)}">'
            f'<div class="_messageMain_{hash_}"><div class="_messageHeader_{hash_}">{name}'
            f'<time class="_sendDate_{hash_}" datetime="{when}">{escape(when)}</time></div>'
            f'<div class="_messageBody_{hash_}"><p>{body}</p></div></div></div>'
        )
    expand = f'<button class="_expandButton_{hash_}" type="button">他の{collapsed}件のメッセージを表示</button>' if collapsed else ""
    banner = '<div class="contract-status contract-status--requested"><p>連絡催促を申請中です</p></div>' if requested else ""
    return f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title></head>
<body><div id="content"><section class="contract-summary" id="contract_summary">
<h1 class="contract-summary__title">{escape(title)}</h1>
<p class="contract-summary__client"><span>クライアント</span><a href="/public/employers/1">{escape(client)}</a></p>
<dl class="contract-summary__terms"><dt>報酬形式</dt><dd>{pay}</dd></dl>
<div class="contract-status" role="status"><p class="contract-status__message">{CW_BANNERS[status]}</p></div>{banner}
<p class="contract-summary__contact"><a href="/contracts/{contract_id}/contact_requests/new">契約相手と連絡がとれない場合はこちら</a></p>
</section><section id="messages"><div id="pack-message-thread"><div class="_thread_{hash_}">{expand}
<div class="_messageList_{hash_}">{''.join(items)}</div></div></div></section></div></body></html>"""


def crowdworks_url(contract_id: str = "9000001") -> str:
    return f"https://crowdworks.jp/contracts/{contract_id}"
