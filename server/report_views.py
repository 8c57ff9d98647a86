"""The web view's 「構造レポートを保存」 button (issue 9).

    POST /contracts/<platform>/<id>/structure-report

On a contract's page (shown when it reads as unreadable): the redacted
structure report of the contract's latest stored capture, as
``ghostwatch redact SNAPSHOT_ID`` writes it (``server.doctor_cmd``): kept in
``reports/`` of the data directory (mode 0600) and sent to the browser as a
download.  The report holds the page's structure and no name, title, message,
amount or id, so the user can attach it to an issue.  The app's guard applies
as to every page: session cookie, cross-site writes refused.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort

from collector import markers
from server.db import get_store
from server.doctor_cmd import redact_key, snapshot_report, write_report

bp = Blueprint("reports", __name__)


@bp.post("/contracts/<platform>/<contract_id>/structure-report")
def structure_report(platform: str, contract_id: str):
    store = get_store()
    contract = store.contract(platform, contract_id)
    if contract is None or not contract.get("last_snapshot_id"):
        abort(404)
    snapshot_id = int(contract["last_snapshot_id"])
    report = snapshot_report(store, snapshot_id, markers.redactor(redact_key()))
    path = write_report(report, f"snapshot-{snapshot_id}")
    body = json.dumps(report, ensure_ascii=False, indent=1) + "\n"
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{path.name}"',
        "Cache-Control": "no-store",
    })
