"""Pairing the extension: the API token goes only to ghostwatch's own extension
(its origin ``chrome-extension://`` + ``security.EXTENSION_ID``, fixed by the
manifest's key), and only after the user confirms it in the web view.

1. The extension (its settings page, 「サーバーと接続」) asks:
   ``POST /pair/extension/requests`` → ``{request, code, confirm_url, expires_in}``.
   Only from our extension's origin; like every page of the web view it needs
   the browser's session (the address ``ghostwatch serve`` printed, opened once).
2. It opens ``confirm_url`` (``/pair/extension?request=…``): the web view shows
   the same four-digit code as the extension and a button
   「この拡張機能を接続」.  The button (``static/pair_extension.js``) approves
   with ``POST /api/pairing/approve {request}`` and the API token from this
   origin's storage: a cookie alone (which every app on 127.0.0.1 receives) can
   never approve.
3. The extension asks ``POST /pair/extension/claim {request}`` until it is
   approved: 202 while waiting, then the token once (the request is gone);
   404 for an unknown or expired request.

Requests live in memory for ``TTL_SECONDS``; a restart forgets them.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from flask import Blueprint, current_app, jsonify, render_template, request

from server import security
from server.errors import api_error

bp = Blueprint("pairing", __name__)

TTL_SECONDS = 300
MAX_PENDING = 16
EXTENSION_ORIGIN = f"chrome-extension://{security.EXTENSION_ID}"


@dataclass
class PairingRequest:
    id: str
    code: str
    created: float = field(default_factory=time.monotonic)
    approved: bool = False

    @property
    def expired(self) -> bool:
        return time.monotonic() - self.created > TTL_SECONDS


class Pairings:
    """The pending requests of one app (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[str, PairingRequest] = {}

    def _sweep(self) -> None:
        for key in [k for k, r in self._pending.items() if r.expired]:
            del self._pending[key]

    def new(self) -> PairingRequest:
        with self._lock:
            self._sweep()
            while len(self._pending) >= MAX_PENDING:  # the oldest goes
                del self._pending[min(self._pending, key=lambda k: self._pending[k].created)]
            req = PairingRequest(secrets.token_urlsafe(24), f"{secrets.randbelow(10_000):04d}")
            self._pending[req.id] = req
            return req

    def get(self, request_id) -> PairingRequest | None:
        with self._lock:
            self._sweep()
            return self._pending.get(request_id) if isinstance(request_id, str) else None

    def approve(self, request_id) -> bool:
        with self._lock:
            self._sweep()
            req = self._pending.get(request_id) if isinstance(request_id, str) else None
            if req is None:
                return False
            req.approved = True
            return True

    def claim(self, request_id) -> PairingRequest | None:
        """The request if approved (and gone from now on); None while it waits or is unknown."""
        with self._lock:
            self._sweep()
            req = self._pending.get(request_id) if isinstance(request_id, str) else None
            if req is not None and req.approved:
                del self._pending[req.id]
            return req


def pairings() -> Pairings:
    return current_app.extensions.setdefault("ghostwatch.pairing", Pairings())


def from_our_extension() -> bool:
    return request.headers.get("Origin") == EXTENSION_ORIGIN


def refuse_foreign():
    return api_error(403, "not_our_extension",
                     "ghostwatch の拡張機能（ID: " + security.EXTENSION_ID + "）からの接続だけを受け付けます。")


def request_id_from_body():
    body = request.get_json(silent=True)
    return body.get("request") if isinstance(body, dict) else None


@bp.post("/pair/extension/requests")
def new_request():
    if not from_our_extension():
        return refuse_foreign()
    req = pairings().new()
    return jsonify({"request": req.id, "code": req.code, "confirm_url": f"/pair/extension?request={req.id}",
                    "expires_in": TTL_SECONDS}), 201


@bp.get("/pair/extension")
def confirm_page():
    req = pairings().get(request.args.get("request"))
    page = render_template("pair_extension.html", req=req, extension_id=security.EXTENSION_ID,
                           minutes=TTL_SECONDS // 60)
    # The page's script approves with a request to this origin: the one fetch it may make.
    return page, 200, {"Content-Security-Policy": security.CSP + "; connect-src 'self'"}


@bp.post("/api/pairing/approve")
def approve():
    # The guard has checked the bearer token: only a page that holds it (the web
    # view, from this origin's storage) approves.  Never the extension itself.
    port = current_app.config["GHOSTWATCH_PORT"]
    if request.headers.get("Origin") not in security.own_origins(port, current_app.config["GHOSTWATCH_HOSTS"]):
        return api_error(403, "not_the_web_view", "接続の承認は ghostwatch の画面からだけできます。")
    if not pairings().approve(request_id_from_body()):
        return api_error(404, "unknown_request", "この接続リクエストは見つからないか、期限が切れています。")
    return jsonify({"approved": True})


@bp.post("/pair/extension/claim")
def claim():
    if not from_our_extension():
        return refuse_foreign()
    req = pairings().claim(request_id_from_body())
    if req is None:
        return api_error(404, "unknown_request", "この接続リクエストは見つからないか、期限が切れています。")
    if not req.approved:
        return jsonify({"status": "pending"}), 202
    return jsonify({"status": "approved", "token": current_app.config["GHOSTWATCH_TOKEN"]})
