"""The JSON API, for the extension and for scripts.

Every route but ``/api/health`` needs ``Authorization: Bearer <token>``
(checked in ``server.app.guard`` before a route runs).

    GET    /api/health                                   {"name", "version", "status"}
    POST   /api/snapshots        {url, html, captured_at, responses?}  the contract's verdict + badge
    GET    /api/summary                                  {counts, needing_action, badge}
    GET    /api/contracts                                {"at", "contracts": [verdict + badge]}
    GET    /api/contracts/<platform>/<id>                verdict + badge, messages, recorded_steps

A verdict in an answer also has ``badge: {text, color}`` and ``view_url``, its
page in the web view (for the extension's popup).
    POST   /api/contracts/<platform>/<id>/steps {step, done_at?, note?}   201, the new verdict
    DELETE /api/contracts/<platform>/<id>/steps/<step id>                the new verdict

GET routes take ``?at=ISO`` to judge at another instant than now (POST
/api/snapshots takes ``at`` in its body).  Errors are
``{"error": code, "message": "…"}`` with 400 (not JSON, a field missing or of
the wrong type), 404, 413 (over 10 MB) or 422 (an unsupported URL, a body
that is not an HTML page, an instant that is not ISO 8601).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from flask import Blueprint, jsonify, request

from collector.capture import parse_responses
from collector.reading import NotAPage, UnsupportedURL
from collector.timeutil import iso, now, parse_instant
from server import __version__, rules, service
from server.db import get_store
from server.errors import api_error
from server.labels import BADGE_COLORS
from server.states import PAGE_BADGES
from server.store import STEP_KINDS
from server.verdict import Verdict

bp = Blueprint("api", __name__, url_prefix="/api")

GREY, GREEN, AMBER, RED = (BADGE_COLORS[name] for name in ("grey", "green", "amber", "red"))


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


@bp.errorhandler(ApiError)
def _api_error(err: ApiError):
    return api_error(err.status, err.code, err.message, **err.extra)


# --- helpers -----------------------------------------------------------------


def json_body() -> dict:
    raw = request.get_data(cache=False)  # 413 above MAX_CONTENT_LENGTH
    if not raw:
        raise ApiError(400, "empty_body", "本文が空です。JSON オブジェクトを送ってください。")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_json", "本文が UTF-8 の JSON ではありません。") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as err:
        # The position only: a snapshot's content never goes into a message or a log.
        raise ApiError(400, "malformed_json",
                       f"本文が JSON として読めません（{err.lineno} 行 {err.colno} 列: {err.msg}）。") from None
    if not isinstance(body, dict):
        raise ApiError(400, "not_an_object", "本文は JSON オブジェクト（{...}）にしてください。")
    return body


def string_field(body: dict, name: str, required: bool = True) -> str | None:
    if name not in body or body[name] is None:
        if required:
            raise ApiError(400, "missing_field", f"フィールド {name} がありません。", field=name)
        return None
    value = body[name]
    if not isinstance(value, str):
        raise ApiError(400, "wrong_type", f"フィールド {name} は文字列にしてください。", field=name)
    return value


def instant(value: str | None, name: str, default_now: bool = False):
    if value is None or value == "":
        return now() if default_now else None
    try:
        return parse_instant(value)
    except ValueError:
        raise ApiError(
            422, f"invalid_{name}",
            f"{name} が日時として読めません: {value[:40]!r}。ISO 8601 で指定してください"
            "（例: 2026-11-21T09:00:00+09:00）。",
            field=name,
        ) from None


def at_arg():
    return instant(request.args.get("at"), "at")


def count_badge(verdicts: list[Verdict]) -> dict:
    """A badge for many contracts: how many need action, coloured by the worst."""
    states = [v.state for v in verdicts if v.state in rules.NEEDS_ACTION]
    if any(s in ("overdue", "eligible") for s in states):
        color = RED
    elif "nudge" in states:
        color = AMBER
    elif states:
        color = GREY
    else:
        color = GREEN
    return {"text": str(len(states)), "color": color}


def extras(verdict: Verdict) -> dict:
    """What the API adds to a verdict: its badge and its page in the web view."""
    return {"badge": rules.badge(verdict), "view_url": view_url(verdict)}


def with_badge(verdict: Verdict) -> dict:
    """A verdict as the API gives it (JSON), with its ``extras``."""
    return {**verdict.to_json(), **extras(verdict)}


def view_url(verdict: Verdict) -> str:
    return f"{request.host_url}contracts/{quote(verdict.platform)}/{quote(verdict.contract_id)}"


def contract_or_404(platform: str, contract_id: str, at=None) -> Verdict:
    verdict = service.verdict(get_store(), platform, contract_id, at)
    if verdict is None:
        raise ApiError(404, "not_found", f"契約 {platform}/{contract_id} はまだ記録されていません。")
    return verdict


# --- routes ------------------------------------------------------------------


@bp.get("/health")
def health():
    return jsonify({"name": "ghostwatch", "version": __version__, "status": "ok"})


@bp.post("/snapshots")
def post_snapshot():
    body = json_body()
    url = string_field(body, "url")
    html = string_field(body, "html")
    captured_at = instant(string_field(body, "captured_at"), "captured_at")
    if captured_at is None:
        raise ApiError(400, "missing_field", "フィールド captured_at がありません。", field="captured_at")
    at = instant(string_field(body, "at", required=False), "at")
    source = (string_field(body, "source", required=False) or "extension")[:32]
    try:
        responses = parse_responses(body.get("responses"))
    except ValueError as err:
        raise ApiError(400, "wrong_type", f"{err}。", field="responses") from None
    try:
        answer = service.ingest(get_store(), url, html, captured_at, source=source, at=at, responses=responses)
    except UnsupportedURL as err:
        raise ApiError(422, "unsupported_url", str(err), field="url") from None
    except NotAPage as err:
        raise ApiError(422, "not_a_page", f"{err}（何も保存していません）", field="html") from None
    result = service.capture_answer(answer, extra=extras)
    if answer["page"] == "contract_list":
        badge = dict(PAGE_BADGES["unreadable"]) if answer["unreadable"] else count_badge(answer["contracts"])
        return jsonify({**result, "unreadable_reason": answer["reason"], "badge": badge})
    if answer["verdict"] is None:  # an inquiry: no contract, no days
        return jsonify({**result, "unreadable_reason": answer["reason"], "badge": dict(PAGE_BADGES["inquiry"])})
    return jsonify(result)


@bp.get("/summary")
def summary():
    result = service.summary(get_store(), at_arg())
    return jsonify({
        "counts": result["counts"],
        "needing_action": [with_badge(v) for v in result["needing_action"]],
        "badge": count_badge(result["needing_action"]),
    })


@bp.get("/contracts")
def contracts():
    at = at_arg() or now()
    return jsonify({"at": iso(at), "contracts": [with_badge(v) for v in service.status(get_store(), at)]})


@bp.get("/contracts/<platform>/<contract_id>")
def contract(platform: str, contract_id: str):
    verdict = contract_or_404(platform, contract_id, at_arg())
    store = get_store()
    return jsonify({
        **with_badge(verdict),
        "messages": store.messages(platform, contract_id),
        "recorded_steps": store.steps(platform, contract_id),
    })


@bp.post("/contracts/<platform>/<contract_id>/steps")
def add_step(platform: str, contract_id: str):
    contract_or_404(platform, contract_id)
    body = json_body()
    step = string_field(body, "step")
    if step not in STEP_KINDS:
        raise ApiError(422, "unknown_step", f"step は {', '.join(STEP_KINDS)} のどれかにしてください。", field="step")
    done_at = instant(string_field(body, "done_at", required=False), "done_at", default_now=True)
    note = string_field(body, "note", required=False) or ""
    step_id = get_store().add_step(platform, contract_id, step, done_at, note[:2000])
    verdict = contract_or_404(platform, contract_id, at_arg())
    return jsonify({**with_badge(verdict), "step_id": step_id}), 201


@bp.delete("/contracts/<platform>/<contract_id>/steps/<int:step_id>")
def delete_step(platform: str, contract_id: str, step_id: int):
    store = get_store()
    if not any(s["id"] == step_id for s in store.steps(platform, contract_id)):
        raise ApiError(404, "not_found", f"記録 {step_id} はこの契約にありません。")
    store.delete_step(step_id)
    return jsonify(with_badge(contract_or_404(platform, contract_id, at_arg())))
