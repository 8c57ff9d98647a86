"""What the CLI and the Flask app both do with the store and the rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from collector.reading import ContractList, Thread, Unreadable
from collector.timeutil import aware, now
from server import rules
from server.store import Store
from server.verdict import Verdict


def _steps_by_contract(store: Store) -> dict[tuple[str, str], list[dict]]:
    grouped: dict[tuple[str, str], list[dict]] = {}
    for step in store.steps():
        grouped.setdefault((step["platform"], step["contract_id"]), []).append(step)
    return grouped


def status(store: Store, at: datetime | None = None, include_closed: bool = True) -> list[Verdict]:
    """Every contract's verdict at ``at``, most urgent first."""
    at = aware(at) if at else now()
    stats = store.message_stats()
    steps = _steps_by_contract(store)
    verdicts = []
    for contract in store.contracts():
        key = (contract["platform"], contract["contract_id"])
        verdict = rules.judge(contract, stats.get(key), steps.get(key, []), at)
        if include_closed or verdict.state != "closed":
            verdicts.append(verdict)
    verdicts.sort(key=rules.urgency_key)
    return verdicts


def verdict(store: Store, platform: str, contract_id: str, at: datetime | None = None) -> Verdict | None:
    contract = store.contract(platform, contract_id)
    if contract is None:
        return None
    at = aware(at) if at else now()
    return rules.judge(
        contract,
        store.message_stats(platform, contract_id).get((platform, contract_id)),
        store.steps(platform, contract_id),
        at,
    )


def summary(store: Store, at: datetime | None = None) -> dict:
    verdicts = status(store, at)
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.state] = counts.get(v.state, 0) + 1
    return {
        "counts": counts,
        "needing_action": [v for v in verdicts if v.state in rules.NEEDS_ACTION],
    }


def ingest(store: Store, url: str, html: str | bytes, captured_at: datetime, source: str = "cli",
           at: datetime | None = None, responses: list | None = None) -> dict:
    """Store and read a capture; answer what it means now.  The one answer
    of ``ghostwatch ingest``, ``POST /api/snapshots`` and the collector.

    Raises ``collector.pages.UnsupportedURL`` or ``NotAPage``, or ValueError
    for ``responses`` of the wrong shape (nothing stored).
    """
    result = store.ingest(url, html, captured_at, source=source, responses=responses)
    reading = result.reading
    answer = {
        "snapshot_id": result.snapshot_id,
        "duplicate": result.duplicate,
        "platform": reading.platform,
        "page": reading.page,
        "contract_id": getattr(reading, "contract_id", None),
        "thread_id": getattr(reading, "thread_id", None),
        "title": getattr(reading, "title", None),
        "unreadable": isinstance(reading, Unreadable),
        "reason": getattr(reading, "reason", None),
        "verdict": None,
        "contracts": None,
    }
    if isinstance(reading, ContractList):
        listed = {(reading.platform, c.contract_id) for c in reading.contracts}
        answer["contracts"] = [v for v in status(store, at) if (v.platform, v.contract_id) in listed]
    elif isinstance(reading, Thread):
        answer["verdict"] = verdict(store, reading.platform, reading.contract_id, at)
    elif isinstance(reading, Unreadable):
        key = store.contract_key_of(reading)
        if key is not None:
            answer["verdict"] = verdict(store, reading.platform, key, at)
    return answer


def capture_answer(answer: dict, extra: Callable[[Verdict], dict] | None = None) -> dict:
    """The one answer to a capture, as JSON: printed by ``ghostwatch ingest`` and
    sent by ``POST /api/snapshots`` (whose ``extra`` adds each verdict's badge and
    web-view address): what was stored (``snapshot_id``, ``duplicate``), what this
    capture read as (``page``, ``unreadable`` and its ``reason``), and the
    contract's verdict (a thread), the listed contracts' (a list) or none (an
    inquiry).  An unreadable capture says ``state: "unreadable"`` even when an
    earlier capture of its contract was read: the answer is for the capture
    sent, never days read from another."""

    def as_json(v: Verdict) -> dict:
        return {**v.to_json(), **(extra(v) if extra else {})}

    common = {key: answer[key] for key in ("snapshot_id", "duplicate", "page", "platform", "contract_id",
                                           "thread_id", "title", "unreadable", "reason")}
    if answer["page"] == "contract_list":
        return {**common, "state": "unreadable" if answer["unreadable"] else None,
                "contracts": [as_json(v) for v in answer["contracts"] or []]}
    if answer["verdict"] is None:  # an inquiry: a Lancers board that is no contract
        return {**common, "state": "unreadable" if answer["unreadable"] else None}
    verdict = answer["verdict"]
    if answer["unreadable"]:
        verdict = replace(verdict, state="unreadable", unreadable_reason=answer["reason"])
    return {**common, **as_json(verdict), "unreadable": answer["unreadable"], "reason": answer["reason"]}
