"""The one transaction that records a batch of decisions.

In ONE transaction the committer:

1. claims the batch's ``Idempotency-Key`` values and answers stored repeats (``idempotency``);
2. locks the ``token_state`` rows of the batch's tokens and catches up any in-memory ledger that
   another process changed (version mismatch), so state-dependent limits are checked and reserved
   atomically across processes;
3. evaluates each request in arrival order, reserving each approval's effect in the ledger so the
   next request in the batch sees it;
4. inserts the decision rows, reservations, outbox events and audit entries.

If the transaction fails, the ledgers it touched are dropped (they reload from the database).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from compliance_shield.db import Conn, audit, ledger_queries
from compliance_shield.db import checks as repo
from compliance_shield.db.decision_digest import decision_digest
from compliance_shield.domain import encoding
from compliance_shield.domain.decision import Decision, Reason
from compliance_shield.domain.engine import ENGINE_VERSION, evaluate
from compliance_shield.domain.reasons import MESSAGES, ReasonCode, restriction_code
from compliance_shield.domain.rules.limits import lookback_seconds
from compliance_shield.domain.values import Outcome
from compliance_shield.errors import ServiceUnavailable
from compliance_shield.observability.metrics import CHECKS, LEDGER_CATCHUPS, LEDGER_RELOADS
from compliance_shield.services.checks import idempotency
from compliance_shield.services.checks.contract import CheckRow, Pending
from compliance_shield.services.checks.gather import gather_facts
from compliance_shield.services.checks.ledger import Reservation, TokenLedger, change_reserve
from compliance_shield.services.events.events import outbox_row
from compliance_shield.services.heap import freeze_survivors
from compliance_shield.services.reference.snapshot import Snapshot

Clock = Callable[[], datetime]
#: the ledger changes made per token in a batch (also: which ledgers to drop on failure)
Touched = dict[UUID, list[dict[str, Any]]]


class Committer:
    """Decides and records batches; owns this process's in-memory token ledgers."""

    def __init__(self, pool: asyncpg.Pool, snapshot: Snapshot, clock: Clock) -> None:
        self._pool = pool
        self._snapshot = snapshot
        self._clock = clock
        self.ledgers: dict[UUID, TokenLedger] = {}
        snapshot.on_change.append(self._on_reference_change)

    def _on_reference_change(self, table: str, key: str) -> None:
        """Keep ledgers consistent with reference data that their aggregates or look-back use."""
        if table == "investors":  # the category may have changed: re-file the investor's holding
            investor = UUID(key)
            for ledger in self.ledgers.values():
                ledger.recategorize(investor)
        elif table == "tokens":  # the policy (so the look-back) may have changed
            self.ledgers.pop(UUID(key), None)
        elif table in ("policies", "policy_versions"):
            self.ledgers.clear()  # rare; each ledger reloads on its next check

    def drop(self, tokens: Touched) -> None:
        """Forget the ledgers a failed transaction touched: they reload from the database."""
        for token_id in tokens:
            self.ledgers.pop(token_id, None)

    async def commit(self, batch: list[Pending], touched: Touched) -> list[CheckRow | Exception]:
        """Decide and record ``batch`` in one transaction; each request's row or error, in order."""
        now = self._clock()
        results: list[CheckRow | Exception | None] = [None] * len(batch)
        async with self._pool.acquire(timeout=5) as conn, conn.transaction():
            first = idempotency.first_of_each_key(batch)
            leaders = await idempotency.resolve(conn, batch, first, results, now)
            versions = await ledger_queries.lock_tokens(conn, [batch[i].request.token_id for i, _ in leaders])
            await self._ensure_ledgers(conn, versions, now)
            rows: list[CheckRow] = []
            reservations: list[tuple[Any, ...]] = []
            for i, check_id in leaders:
                row, reservation = self._decide(batch[i], check_id, now, touched)
                rows.append(row)
                results[i] = row
                if reservation is not None:
                    reservations.append(reservation)
            await _persist(conn, rows, reservations, now)
            new_versions = await ledger_queries.bump_versions(conn, list(touched), touched) if touched else {}
        for token_id, version in new_versions.items():
            ledger = self.ledgers.get(token_id)
            if ledger is not None:  # (a reference change may have dropped it meanwhile)
                ledger.version = version
        idempotency.fill_followers(batch, first, results)
        for row in rows:
            CHECKS.labels(row["status"]).inc()
        return [r if r is not None else ServiceUnavailable("not decided") for r in results]

    async def _ensure_ledgers(self, conn: Conn, versions: dict[UUID, int], now: datetime) -> None:
        """Bring the in-memory ledgers of the locked tokens to the versions read under the lock."""
        behind = {
            token_id: (ledger.version, version)
            for token_id, version in versions.items()
            if (ledger := self.ledgers.get(token_id)) is not None and ledger.version < version
        }
        # another process changed these tokens: apply what it recorded (one query for all of them)
        missed = await ledger_queries.changes_since(conn, behind) if behind else {}
        for token_id, version in versions.items():
            ledger = self.ledgers.get(token_id)
            if ledger is not None and ledger.version == version:
                continue
            recorded = missed.get(token_id)
            if ledger is not None and recorded is not None:
                for changes in recorded:
                    ledger.apply(changes)
                ledger.version = version
                LEDGER_CATCHUPS.inc()
                continue
            if ledger is not None:  # ahead of the database (cannot happen) or a change not recorded
                LEDGER_RELOADS.inc()
            await self._load_ledger(conn, token_id, version, now)

    async def _load_ledger(self, conn: Conn, token_id: UUID, version: int, now: datetime) -> None:
        token = self._snapshot.tokens.get(token_id)
        policy = self._snapshot.policies.get(token.policy_id) if token and token.policy_id else None
        investors = self._snapshot.investors

        def category_of(investor_id: UUID) -> str:
            investor = investors.get(investor_id)
            return investor.category if investor is not None else "unknown"

        self.ledgers[token_id] = await TokenLedger.load(
            conn, token_id, version, now, lookback_seconds(policy.compiled) if policy else 0, category_of
        )
        # a ledger lives as long as the process: out of full GC passes at once (on the benchmark data,
        # leaving it to the periodic freeze let full collections walk it: p99.9 230 ms against 161,
        # one run each)
        freeze_survivors()

    def _decide(
        self, pending: Pending, check_id: UUID, now: datetime, touched: Touched
    ) -> tuple[CheckRow, tuple[Any, ...] | None]:
        request = pending.request
        token = self._snapshot.tokens[request.token_id]
        ledger = self.ledgers[request.token_id]
        ledger.expire(now)
        facts = gather_facts(self._snapshot, ledger, request, now)
        policy = self._snapshot.policies.get(token.policy_id) if token.policy_id else None
        decision = evaluate(policy.compiled, facts, now) if policy else _no_policy_decision()
        facts_json = facts.__pydantic_serializer__.to_json(facts)
        ttl = policy.compiled.document.approval_ttl_seconds if policy else 0
        approved = decision.status is Outcome.APPROVED
        expires_at = now + timedelta(seconds=ttl) if approved else None
        reservation = None
        if approved and expires_at is not None:
            sender = facts.sender.investor.id if facts.sender.investor else None
            receiver = facts.receiver.investor.id if facts.receiver.investor else None
            made = Reservation(check_id, sender, receiver, request.amount, now, expires_at)
            ledger.add_reservation(made)
            touched.setdefault(request.token_id, []).append(change_reserve(made))
            reservation = (check_id, request.token_id, sender, receiver, request.amount, now, expires_at)
        row = {
            "id": check_id,
            "created_at": now,
            "token_id": request.token_id,
            "from_address": request.from_address,
            "to_address": request.to_address,
            "amount": request.amount,
            "transfer_type": request.transfer_type.value,
            "blockchain_type": request.blockchain_type.value,
            "status": decision.status.value,
            "risk_score": decision.risk_score,
            "restriction_code": decision.restriction_code,
            "reasons": [r.to_json() for r in decision.reasons],
            "rules": [t.to_json() for t in decision.rules],
            # serialized once, by pydantic's native encoder (amounts as decimal strings); stored as is
            "facts": encoding.Fragment(facts_json),
            "facts_sha256": hashlib.sha256(facts_json).hexdigest(),
            "request_hash": request.request_hash,
            "request": request.echo,
            "reference": request.reference,
            "policy_id": policy.policy_id if policy else None,
            "policy_version": policy.version if policy else None,
            "policy_hash": policy.compiled.content_hash if policy else None,
            "engine_version": decision.engine_version,
            "idempotency_key": request.idempotency_key,
            "principal": request.principal,
            "expires_at": expires_at,
            "processing_ms": round((time.perf_counter() - pending.received) * 1000, 3),
            "settlement_status": "pending" if approved else "not_applicable",
            "tx_hash": None,
            "settled_at": None,
        }
        return row, reservation


async def _persist(conn: Conn, rows: list[CheckRow], reservations: list[tuple[Any, ...]], now: datetime) -> None:
    if not rows:
        return
    await repo.insert_checks(conn, rows)
    if reservations:
        await repo.insert_reservations(conn, reservations)
    await repo.insert_outbox(
        conn,
        [outbox_row("transfer_check.decided", str(r["token_id"]), _event_data(r), now) for r in rows],
    )
    await audit.append(conn, [_audit_entry(r) for r in rows])


def _no_policy_decision() -> Decision:
    code = ReasonCode.POLICY_MISSING
    return Decision(
        status=Outcome.REJECTED,
        risk_score=100,
        reasons=(Reason(code=code, message=MESSAGES[code], rule="policy"),),
        rules=(),
        restriction_code=restriction_code(code),
        engine_version=ENGINE_VERSION,
    )


def _event_data(row: CheckRow) -> dict[str, Any]:
    return {
        "check_id": str(row["id"]),
        "token_id": str(row["token_id"]),
        "from_address": row["from_address"],
        "to_address": row["to_address"],
        "amount": encoding.units(row["amount"]),
        "status": row["status"],
        "risk_score": row["risk_score"],
        "restriction_code": row["restriction_code"],
        "reasons": [r["code"] for r in row["reasons"]],
        "policy_hash": row["policy_hash"],
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
    }


def _audit_entry(row: CheckRow) -> audit.AuditEntry:
    return audit.AuditEntry(
        occurred_at=row["created_at"],
        actor=row["principal"] or "unknown",
        action="transfer_check.decided",
        entity_type="transfer_check",
        entity_id=str(row["id"]),
        payload={
            "status": row["status"],
            "risk_score": row["risk_score"],
            "restriction_code": row["restriction_code"],
            "reasons": [r["code"] for r in row["reasons"]],
            "policy_hash": row["policy_hash"],
            "request_sha256": row["request_hash"],
            "facts_sha256": row["facts_sha256"],
            "decision_sha256": decision_digest(row, row["facts_sha256"]),
        },
    )
