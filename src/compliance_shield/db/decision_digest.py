"""The digest of a stored decision, carried by its audit entry, and the check that re-hashes them.

The audit chain protects its own rows; a decision lives in ``transfer_compliance_checks``, which
settlement and review update, so the chain cannot simply contain it. Instead each
``transfer_check.decided`` entry carries ``decision_sha256``: the SHA-256 of the canonical JSON of
the columns that never change after the decision (``DECISION_FIELDS``), with the facts
represented by their hash (stored as the exact text hashed). ``verify_decisions`` recomputes every digest from the
stored rows, re-hashes the stored facts text, and names each check whose row differs from what
was audited, each audited check whose row is gone, and each stored check no entry audits.

Values are normalized to JSON-native forms that survive the database round trip: ids and amounts
as strings, times as ISO-8601 UTC with microseconds, JSON documents parsed from the text
PostgreSQL stores (the ``json`` columns keep it exactly; ``reasons`` holds only strings; the
``request`` echo is ``jsonb``, which re-spells numbers, so its numbers are compared as decimals).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from compliance_shield.db import Conn, json_text
from compliance_shield.domain import encoding

#: the columns a decision's digest covers: everything fixed when it was decided
DECISION_FIELDS = (
    "id", "created_at", "token_id", "from_address", "to_address", "amount", "transfer_type", "blockchain_type",
    "status", "risk_score", "restriction_code", "reasons", "rules", "reference", "policy_id", "policy_version",
    "policy_hash", "engine_version", "idempotency_key", "principal", "expires_at", "request",
)  # fmt: skip
_JSON_FIELDS = ("reasons", "rules", "request")
_BATCH = 1000


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _numbers_as_text(value: Any) -> Any:
    # jsonb (the request echo) re-spells numbers: 1e20 comes back as 100000000000000000000
    if isinstance(value, dict):
        return {k: _numbers_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_text(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(Decimal(str(value)).normalize())
    return value


def _native(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field in _JSON_FIELDS:
        parsed = encoding.loads(value if isinstance(value, str | bytes) else json_text(value))
        return _numbers_as_text(parsed) if field == "request" else parsed
    if field in ("created_at", "expires_at"):
        return _time(value)
    if field in ("risk_score", "restriction_code", "policy_version"):
        return int(value)
    if field == "amount":
        return str(int(value))
    return str(value)


def decision_digest(row: Mapping[str, Any], facts_sha256: str) -> str:
    """The hex SHA-256 of a decision: its ``DECISION_FIELDS`` plus the hash of its facts."""
    document = {field: _native(field, row[field]) for field in DECISION_FIELDS}
    document["facts_sha256"] = facts_sha256
    return hashlib.sha256(encoding.dumps(document, sort_keys=True)).hexdigest()


@dataclass(frozen=True, slots=True)
class DecisionMismatch:
    check_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class DecisionsResult:
    """``checked`` counts the audited decisions compared with their stored rows."""

    checked: int
    mismatches: tuple[DecisionMismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


_ROWS = f"""SELECT {", ".join(f"{f}::text AS {f}" if f in _JSON_FIELDS else f for f in DECISION_FIELDS)},
                   encode(sha256(convert_to(facts::text, 'UTF8')), 'hex') AS stored_facts_sha256
              FROM transfer_compliance_checks WHERE id = ANY($1::uuid[])"""  # noqa: S608 (fixed column names)


async def stored_digest(conn: Conn, check_id: UUID) -> tuple[str, str]:
    """``(decision_sha256, facts_sha256)`` of a check as stored now: what an audit entry recording a
    legitimate change of the decision (a review's resolution) carries, so that verification follows it."""
    row = await conn.fetchrow(_ROWS, [check_id])
    if row is None:
        raise LookupError(f"check {check_id} is not stored")
    return decision_digest(dict(row), row["stored_facts_sha256"]), row["stored_facts_sha256"]


async def verify_decisions(conn: Conn) -> DecisionsResult:
    """Compare every audited decision with its stored row (run inside one snapshot: see ``audit.verify``).

    A decision changed by a review case is compared with the digest its ``transfer_check.reviewed``
    entry recorded (the newest entry of a check wins)."""
    entries = await conn.fetch(
        """SELECT entity_id, payload->>'decision_sha256' AS digest, payload->>'facts_sha256' AS facts_sha256
             FROM audit_log
            WHERE action IN ('transfer_check.decided', 'transfer_check.reviewed') AND payload ? 'decision_sha256'
            ORDER BY seq"""
    )
    audited = list({e["entity_id"]: e for e in entries}.values())
    mismatches: list[DecisionMismatch] = []
    for start in range(0, len(audited), _BATCH):
        chunk = audited[start : start + _BATCH]
        rows = {str(r["id"]): r for r in await conn.fetch(_ROWS, [a["entity_id"] for a in chunk])}
        for entry in chunk:
            check_id = entry["entity_id"]
            row = rows.get(check_id)
            if row is None:
                mismatches.append(DecisionMismatch(check_id, "the audited decision is no longer stored"))
            elif row["stored_facts_sha256"] != entry["facts_sha256"]:
                mismatches.append(DecisionMismatch(check_id, "the stored facts differ from the audited ones"))
            elif decision_digest(dict(row), entry["facts_sha256"]) != entry["digest"]:
                mismatches.append(DecisionMismatch(check_id, "the stored decision differs from the audited one"))
    unaudited = await conn.fetch(
        """SELECT c.id FROM transfer_compliance_checks c
            WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action = 'transfer_check.decided'
                                AND a.entity_id = c.id::text)
            ORDER BY c.created_at LIMIT 100"""
    )
    mismatches.extend(DecisionMismatch(str(r["id"]), "a stored decision no audit entry records") for r in unaudited)
    return DecisionsResult(checked=len(audited), mismatches=tuple(mismatches))
