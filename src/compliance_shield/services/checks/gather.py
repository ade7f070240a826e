"""Gathering the facts of one transfer from the snapshot and the token's ledger (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from compliance_shield.domain.facts import (
    Facts,
    PartyFacts,
    SanctionsEvidence,
    TransferFacts,
    TravelRuleData,
)
from compliance_shield.domain.values import BlockchainType, TransferType
from compliance_shield.services.checks.ledger import TokenLedger
from compliance_shield.services.reference.snapshot import Snapshot

if TYPE_CHECKING:
    from compliance_shield.services.checks.evidence import Evidence


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """A validated transfer-check request (addresses already normalized)."""

    token_id: UUID
    from_address: str
    to_address: str
    amount: int
    blockchain_type: BlockchainType
    transfer_type: TransferType
    principal: str
    request_hash: str
    #: the request as received, echoed in the response and stored
    echo: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None
    travel_rule: TravelRuleData | None = None
    idempotency_key: str | None = None
    #: external evidence gathered before the request was queued (None: not gathered: fail closed)
    evidence: Evidence | None = None


def _party(
    snapshot: Snapshot, ledger: TokenLedger, address: str, now: datetime, evidence: Evidence | None
) -> PartyFacts:
    wallet = snapshot.wallets.get(address)
    investor = snapshot.investors.get(wallet.investor_id) if wallet is not None else None
    if investor is not None and evidence is not None and evidence.kyc_checks:
        # a KYC provider's current answer stands in for the registry's stored status
        answer = next((c for c in evidence.kyc_checks if c.investor_id == investor.id and c.status), None)
        if answer is not None and answer.status is not None and answer.status != investor.kyc_status:
            investor = investor.model_copy(update={"kyc_status": answer.status})
    if investor is not None and evidence is not None and evidence.screenings:
        # a screening made for this check (the stored one predates an active list of names)
        fresh = next((result for owner, result in evidence.screenings if owner == investor.id), None)
        if fresh is not None:
            investor = investor.model_copy(update={"screening": fresh})
    position = ledger.party(address, investor.id if investor is not None else None, now)
    return PartyFacts(wallet=wallet, investor=investor, **position)


def sanctions_evidence(snapshot: Snapshot, addresses: tuple[str, ...]) -> SanctionsEvidence | None:
    """Hits for ``addresses``; None while the snapshot may be out of date (fail closed)."""
    if snapshot.stale:
        return None
    hits = tuple(hit for a in addresses for hit in snapshot.sanctions.get(a, ()))
    # every active list version was consulted, not only those with a hit
    versions = tuple(sorted(set(snapshot.list_versions) | {h.list_version or h.source for h in hits}))
    return SanctionsEvidence(
        hits=hits,
        list_versions=versions,
        active_list_versions=snapshot.name_list_versions,
        name_lists_required=snapshot.name_lists_required,
    )


def gather_facts(snapshot: Snapshot, ledger: TokenLedger, request: CheckRequest, now: datetime) -> Facts:
    token = snapshot.tokens[request.token_id]
    return Facts(
        transfer=TransferFacts(
            token_id=request.token_id,
            from_address=request.from_address,
            to_address=request.to_address,
            amount=request.amount,
            blockchain_type=request.blockchain_type,
            transfer_type=request.transfer_type,
            travel_rule=request.travel_rule,
        ),
        token=token.facts,
        token_state=ledger.state(),
        sender=_party(snapshot, ledger, request.from_address, now, request.evidence),
        receiver=_party(snapshot, ledger, request.to_address, now, request.evidence),
        sanctions=sanctions_evidence(snapshot, (request.from_address, request.to_address)),
        countries=snapshot.countries,
        wallet_risk=request.evidence.wallet_risk if request.evidence is not None else None,
        monitoring=request.evidence.monitoring if request.evidence is not None else None,
        kyc_checks=request.evidence.kyc_checks if request.evidence is not None else (),
    )
