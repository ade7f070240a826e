"""What every step of a case leaves behind, in its transaction: history, audit entry, outbox event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from compliance_shield.db import Conn, audit
from compliance_shield.db import cases as repo
from compliance_shield.db import checks as checks_repo
from compliance_shield.db.decision_digest import stored_digest
from compliance_shield.domain.case import ReviewCase
from compliance_shield.observability.metrics import CASE_STEPS
from compliance_shield.services.events.events import outbox_row


def case_data(case: ReviewCase) -> dict[str, Any]:
    """The event payload describing a case (JSON-native: it also goes into the audit chain)."""
    return {
        "case_id": str(case.id),
        "check_id": str(case.check_id),
        "token_id": str(case.token_id),
        "status": case.status.value,
        "outcome": case.outcome,
        "reason_codes": list(case.reason_codes),
        "risk_score": case.risk_score,
        "four_eyes": case.four_eyes,
        "assignee": case.assignee,
        "due_at": case.due_at.isoformat(),
        "version": case.version,
    }


async def record(
    conn: Conn, case: ReviewCase, action: str, actor: str, now: datetime, extra: dict[str, Any] | None = None
) -> None:
    """History row, audit-chain entry and ``action`` event (keyed by token: ordered with its checks)."""
    payload = {**case_data(case), **(extra or {})}
    await repo.add_history(conn, case.id, now, actor, action, extra or {})
    await audit.append(conn, [audit.AuditEntry(now, actor, action, "review_case", str(case.id), payload)])
    await checks_repo.insert_outbox(conn, [outbox_row(action, str(case.token_id), payload, now)])
    CASE_STEPS.labels(action).inc()  # (counted before commit: a rolled-back step may be counted)


async def record_check_answer(conn: Conn, check: dict[str, Any], case: ReviewCase, actor: str, now: datetime) -> None:
    """The check's new answer as a ``transfer_check.decided`` event (the shape platforms already
    consume) and an audit entry on the check, both naming the case that decided it."""
    data = {
        "check_id": str(check["id"]),
        "token_id": str(check["token_id"]),
        "from_address": check["from_address"],
        "to_address": check["to_address"],
        "amount": str(check["amount"]),
        "status": check["status"],
        "risk_score": check["risk_score"],
        "restriction_code": check["restriction_code"],
        "reasons": [r["code"] for r in check["reasons"]],
        "policy_hash": check["policy_hash"],
        "expires_at": check["expires_at"].isoformat() if check["expires_at"] else None,
        "case_id": str(case.id),
    }
    await checks_repo.insert_outbox(conn, [outbox_row("transfer_check.decided", str(check["token_id"]), data, now)])
    # the decision as it now stands, digested as audit verification digests stored decisions
    digest, facts_digest = await stored_digest(conn, check["id"])
    payload = {
        "status": check["status"],
        "case_id": str(case.id),
        "expires_at": data["expires_at"],
        "decision_sha256": digest,
        "facts_sha256": facts_digest,
    }
    await audit.append(
        conn, [audit.AuditEntry(now, actor, "transfer_check.reviewed", "transfer_check", str(check["id"]), payload)]
    )
