"""Replaying a stored decision: re-evaluate its stored facts with its stored policy version.

The decision is reproduced when status, risk score, restriction code, reasons and the trace all
match. A difference means the engine or a rule changed behaviour since (or the row was edited).
A check resolved on review is compared with the engine's answer its case kept, not the officers'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from compliance_shield.db import Conn
from compliance_shield.db import cases as cases_repo
from compliance_shield.db import checks as checks_repo
from compliance_shield.domain.engine import ENGINE_VERSION, evaluate
from compliance_shield.domain.facts import Facts
from compliance_shield.domain.policy import compile_policy
from compliance_shield.errors import Conflict, NotFound

_COMPARED = ("status", "risk_score", "restriction_code", "reasons", "rules")


@dataclass(frozen=True, slots=True)
class ReplayResult:
    check_id: UUID
    reproduced: bool
    stored_engine_version: str
    engine_version: str
    differences: list[dict[str, Any]] = field(default_factory=list)


async def replay(conn: Conn, check_id: UUID) -> ReplayResult:
    row = await checks_repo.get_check(conn, check_id)
    if row is None:
        raise NotFound(f"check {check_id} not found")
    if row["policy_id"] is None:
        raise Conflict("the check was decided without a policy; there is nothing to replay")
    document = await conn.fetchval(
        "SELECT document FROM policy_versions WHERE policy_id = $1 AND version = $2",
        row["policy_id"],
        row["policy_version"],
    )
    if document is None:
        raise NotFound(f"policy version {row['policy_version']} of {row['policy_id']} not found")
    case = await cases_repo.case_of_check(conn, check_id)
    if case is not None and case.outcome is not None:
        # resolved on review: the row carries the officers' answer; the engine's is on the case
        row = {**row, "status": case.engine_status, "restriction_code": case.engine_restriction_code}
    policy = compile_policy(document)
    facts = Facts.model_validate(row["facts"])
    decision = evaluate(policy, facts, row["created_at"])
    again = {
        "status": decision.status.value,
        "risk_score": decision.risk_score,
        "restriction_code": decision.restriction_code,
        "reasons": [r.to_json() for r in decision.reasons],
        "rules": [t.to_json() for t in decision.rules],
    }
    differences = [
        {"field": name, "stored": row[name], "replayed": again[name]} for name in _COMPARED if row[name] != again[name]
    ]
    if policy.content_hash != row["policy_hash"]:
        differences.append({"field": "policy_hash", "stored": row["policy_hash"], "replayed": policy.content_hash})
    return ReplayResult(check_id, not differences, row["engine_version"], ENGINE_VERSION, differences)
