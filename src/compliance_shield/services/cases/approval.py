"""Taking the approval of a confirmed case: the engine's reservation, atomically.

The officers' approval overrides what made the engine escalate (the rules that asked for review
or lacked evidence then), not what would reject the transfer now nor new grounds they did not
see. Under the token's state-row lock — the lock every decision writer and settlement takes — the
transfer is evaluated again on the token's current ledger and current policy; any ``fail`` (a cap
that filled meanwhile, a party sanctioned since), or a ``review``/``error`` from a rule that
passed at escalation (evidence unavailable now, a new ground), refuses the approval. Otherwise
the reservation is inserted and the token's version bumped with the change, so every process's
in-memory ledger catches up exactly as after an engine approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from compliance_shield.db import Conn, ledger_queries
from compliance_shield.db import checks as checks_repo
from compliance_shield.domain.engine import evaluate
from compliance_shield.domain.facts import TravelRuleData
from compliance_shield.domain.rules.limits import lookback_seconds
from compliance_shield.domain.values import BlockchainType, RuleResult, TransferType
from compliance_shield.services.checks.contract import request_hash
from compliance_shield.services.checks.gather import CheckRequest, gather_facts
from compliance_shield.services.checks.ledger import Reservation, TokenLedger, change_reserve
from compliance_shield.services.reference.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class ApprovalTaken:
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ApprovalRefused:
    #: reason codes of the rules that fail now
    codes: tuple[str, ...]
    message: str


def request_of(check: dict[str, Any]) -> CheckRequest:
    """The stored check as the request it was decided from (its evidence is gathered again)."""
    echo = check["request"]
    travel = echo.get("travel_rule")
    return CheckRequest(
        token_id=check["token_id"],
        from_address=check["from_address"],
        to_address=check["to_address"],
        amount=check["amount"],
        blockchain_type=BlockchainType(check["blockchain_type"]),
        transfer_type=TransferType(check["transfer_type"]),
        principal=check["principal"] or "unknown",
        request_hash=request_hash(echo),
        echo=echo,
        reference=check["reference"],
        travel_rule=TravelRuleData.model_validate(travel) if travel is not None else None,
        idempotency_key=check["idempotency_key"],
    )


async def take_approval(
    conn: Conn, snapshot: Snapshot, request: CheckRequest, check_id: UUID, reviewed_rules: frozenset[str], now: datetime
) -> ApprovalTaken | ApprovalRefused:
    """Reserve the approved transfer's effect (inside the caller's transaction), or refuse.

    ``reviewed_rules``: the rules whose ``review`` or ``error`` made the engine escalate.
    """
    token = snapshot.tokens.get(request.token_id)
    policy = snapshot.policies.get(token.policy_id) if token is not None and token.policy_id else None
    if token is None or policy is None:
        return ApprovalRefused(("POLICY_MISSING",), "the token has no published policy any more")
    versions = await ledger_queries.lock_tokens(conn, [request.token_id])
    investors = snapshot.investors

    def category_of(investor_id: UUID) -> str:
        investor = investors.get(investor_id)
        return investor.category if investor is not None else "unknown"

    # a ledger read under the lock: an officer's confirmation is rare, a fresh load is exact
    ledger = await TokenLedger.load(
        conn, request.token_id, versions[request.token_id], now, lookback_seconds(policy.compiled), category_of
    )
    facts = gather_facts(snapshot, ledger, request, now)
    decision = evaluate(policy.compiled, facts, now)
    # what the officers reviewed may stand; anything failing now, or asking for review (or missing
    # its evidence) for a rule that did not at escalation, was not reviewed: fail closed
    failing = [
        t for t in decision.rules
        if t.result is RuleResult.FAIL
        or (t.result in (RuleResult.REVIEW, RuleResult.ERROR) and t.rule not in reviewed_rules)
    ]  # fmt: skip
    if failing:
        codes = tuple(t.code.value if t.code is not None else t.rule for t in failing)
        return ApprovalRefused(codes, "; ".join(t.message or t.rule for t in failing))
    expires_at = now + timedelta(seconds=policy.compiled.document.approval_ttl_seconds)
    sender = facts.sender.investor.id if facts.sender.investor else None
    receiver = facts.receiver.investor.id if facts.receiver.investor else None
    made = Reservation(check_id, sender, receiver, request.amount, now, expires_at)
    await checks_repo.insert_reservations(
        conn, [(check_id, request.token_id, sender, receiver, request.amount, now, expires_at)]
    )
    await ledger_queries.bump_versions(conn, [request.token_id], {request.token_id: [change_reserve(made)]})
    return ApprovalTaken(expires_at)
