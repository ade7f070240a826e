"""External evidence for a transfer check, gathered before the request is queued.

The group-commit writer decides from memory only, so anything that needs I/O — provider APIs,
the shared cache — is gathered here first, concurrently, each source with its own timeout and
cache, and carried on the request. A source that fails yields no evidence (``None``), and the
rule that needs it answers ``error``: the check is ESCALATED with EVIDENCE_UNAVAILABLE, never
APPROVED.

Sources (each optional except the built-in labels):

* wallet risk — the built-in ``wallet_labels`` (from the snapshot, no I/O), Chainalysis sanctions
  identifications for both addresses (cached), and Chainalysis KYT for the receiving address
  (asynchronous: ``pending`` until KYT has processed the attempt);
* monitoring — a Marble decision for the transfer (``configured=False`` without Marble);
* KYC — the current answer of an investor's external KYC provider (cached; pulled when stale).
  Investors whose KYC the registry holds (no provider, or an officer's override) need no
  evidence: the ``kyc_verified`` rule reads their status from the snapshot.

What is cached where, per kind, is in ``adapters.cache.tiered``; concurrent misses of one key
make one provider call (single flight).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from uuid import UUID

import structlog

from compliance_shield.adapters.cache.local import LocalCache
from compliance_shield.adapters.cache.tiered import TieredCache
from compliance_shield.adapters.resilience import ProviderFailure
from compliance_shield.domain.facts import (
    InvestorFacts,
    KytState,
    MonitoringEvidence,
    ProviderKyc,
    WalletRiskEvidence,
    WalletRiskSignal,
)
from compliance_shield.domain.screening import PartyScreening
from compliance_shield.domain.values import TransferType
from compliance_shield.observability.metrics import EVIDENCE_LATENCY, EVIDENCE_UNAVAILABLE
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.reference.snapshot import Snapshot

log = structlog.get_logger(__name__)

T = TypeVar("T")

LABELS_SOURCE = "wallet_labels"
NOT_CONFIGURED = MonitoringEvidence(configured=False)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the external sources said; ``None`` marks a source that did not answer."""

    wallet_risk: WalletRiskEvidence | None
    monitoring: MonitoringEvidence | None
    kyc_checks: tuple[ProviderKyc, ...] = ()
    #: name screenings made for this check, of parties whose stored result predates an active
    #: list of names (the re-screening sweep had not reached them): (investor id, result)
    screenings: tuple[tuple[UUID, PartyScreening], ...] = ()


class EvidenceGatherer(Protocol):
    async def gather(self, request: CheckRequest, snapshot: Snapshot) -> Evidence:
        """Evidence for ``request``; never raises for a provider failure (the field is None)."""
        ...


# -- the provider interfaces this service consumes (adapters implement them) -------------------


class AddressScreener(Protocol):
    async def screen(self, address: str) -> tuple[WalletRiskSignal, ...]: ...


class TransferScreening(Protocol):
    """Asynchronous screening of a transfer (KYT): ``pending`` until the provider has processed it."""

    @property
    def sources(self) -> tuple[str, ...]: ...

    async def status(
        self, request: CheckRequest, snapshot: Snapshot
    ) -> tuple[KytState, tuple[WalletRiskSignal, ...]]: ...


class TransferMonitor(Protocol):
    async def decide(self, trigger_object: dict[str, Any]) -> MonitoringEvidence: ...


class KycAnswers(Protocol):
    def serves(self, investor: InvestorFacts) -> bool:
        """Whether ``investor``'s KYC is this provider's (otherwise the registry's status holds)."""
        ...

    async def current(self, investor: InvestorFacts) -> ProviderKyc: ...


# -- the gatherer --------------------------------------------------------------------------


class ProviderEvidence:
    """The production ``EvidenceGatherer``: built-in labels plus whichever providers are configured.

    With no provider configured, ``gather`` does no I/O and never suspends.
    """

    def __init__(
        self,
        *,
        cache: TieredCache | None = None,
        sanctions: AddressScreener | None = None,
        sanctions_ttl: float = 3600.0,
        screening: TransferScreening | None = None,
        monitor: TransferMonitor | None = None,
        kyc: KycAnswers | None = None,
        deadline: float = 5.0,
    ) -> None:
        self._cache = cache or TieredCache(LocalCache())
        self._sanctions = sanctions
        self._sanctions_ttl = sanctions_ttl
        self._screening = screening
        self._monitor = monitor
        self._kyc = kyc
        self._deadline = deadline
        sources = [LABELS_SOURCE]
        if sanctions is not None:
            sources.append("chainalysis-sanctions")
        if screening is not None:
            sources.extend(screening.sources)
        self._sources = tuple(sources)

    async def gather(self, request: CheckRequest, snapshot: Snapshot) -> Evidence:
        started = time.perf_counter()
        labels = _labels(snapshot, request)
        # only what the token's policy looks at is asked for: no vendor call (nor a Marble
        # decision, nor a KYT attempt) for a rule the policy does not run
        needs = _policy_rules(snapshot, request)
        sanctions = self._sanctions if "wallet_risk" in needs else None
        screening = self._screening if "wallet_risk" in needs else None
        monitor = self._monitor if "external_monitoring" in needs else None
        kyc = self._kyc if "kyc_verified" in needs else None
        kyc_investors = _kyc_investors(kyc, request, snapshot) if kyc is not None else []
        if sanctions is None and screening is None and monitor is None and not kyc_investors:
            wallet_risk = None if labels is None else WalletRiskEvidence(signals=labels, sources=self._sources)
            if wallet_risk is None:
                EVIDENCE_UNAVAILABLE.labels("wallet_risk").inc()
            EVIDENCE_LATENCY.observe(time.perf_counter() - started)
            return Evidence(wallet_risk=wallet_risk, monitoring=NOT_CONFIGURED)
        sanctions_part = self._guard("sanctions", self._screen_addresses(request, sanctions))
        screening_part = self._guard("kyt", screening.status(request, snapshot)) if screening else None
        monitor_part = (
            self._guard("monitoring", monitor.decide(_trigger_object(request, snapshot))) if monitor else None
        )
        kyc_parts = [self._guard("kyc", kyc.current(i)) for i in kyc_investors] if kyc else []
        parts: list[Awaitable[Any]] = [sanctions_part]
        parts += [p for p in (screening_part, monitor_part) if p is not None]
        parts += kyc_parts
        results = await asyncio.gather(*parts)
        sanctioned: tuple[WalletRiskSignal, ...] | None = results[0]
        index = 1
        kyt: tuple[KytState, tuple[WalletRiskSignal, ...]] | None = ("not_requested", ())
        if screening_part is not None:
            kyt, index = results[index], index + 1
        monitoring: MonitoringEvidence | None = NOT_CONFIGURED
        if monitor_part is not None:
            monitoring, index = results[index], index + 1
        kyc_checks = tuple(
            answer
            if answer is not None
            else ProviderKyc(
                investor_id=investor.id,
                provider=investor.kyc_provider or "unknown",
                reference=investor.kyc_provider_ref or "",
                status=None,
            )
            for investor, answer in zip(kyc_investors, results[index:], strict=True)
        )
        wallet_risk = None
        if labels is not None and sanctioned is not None and kyt is not None:
            state, alerts = kyt
            wallet_risk = WalletRiskEvidence(
                signals=labels + sanctioned + alerts,
                sources=self._sources,
                kyt=state,
            )
        for name, value in (("wallet_risk", wallet_risk), ("monitoring", monitoring)):
            if value is None:
                EVIDENCE_UNAVAILABLE.labels(name).inc()
        EVIDENCE_LATENCY.observe(time.perf_counter() - started)
        return Evidence(wallet_risk=wallet_risk, monitoring=monitoring, kyc_checks=kyc_checks)

    async def _guard(self, name: str, part: Awaitable[T]) -> T | None:
        """One source under the overall deadline; a failure is logged and becomes None."""
        try:
            async with asyncio.timeout(self._deadline):
                return await part
        except (ProviderFailure, TimeoutError) as exc:
            log.warning("evidence.unavailable", source=name, error=str(exc) or type(exc).__name__)
            return None

    async def _screen_addresses(
        self, request: CheckRequest, screener: AddressScreener | None
    ) -> tuple[WalletRiskSignal, ...]:
        if screener is None:
            return ()
        addresses = list(dict.fromkeys((request.from_address, request.to_address)))
        answers = await asyncio.gather(*(self._screen_one(screener, a) for a in addresses))
        return tuple(signal for answer in answers for signal in answer)

    async def _screen_one(self, screener: AddressScreener, address: str) -> tuple[WalletRiskSignal, ...]:
        async def screen() -> list[Any]:
            return [s.model_dump(mode="json") for s in await screener.screen(address)]

        found = await self._cache.get_or_load(f"chainalysis-sanctions:{address}", screen, self._sanctions_ttl)
        return tuple(WalletRiskSignal.model_validate(item) for item in found.value)


def _kyc_investors(kyc: KycAnswers, request: CheckRequest, snapshot: Snapshot) -> list[InvestorFacts]:
    """The parties whose KYC ``kyc`` answers for (the others' status is the registry's)."""
    sides = []
    if request.transfer_type is not TransferType.ISSUANCE:
        sides.append(request.from_address)
    if request.transfer_type is not TransferType.REDEMPTION:
        sides.append(request.to_address)
    found: dict[Any, InvestorFacts] = {}
    for address in sides:
        wallet = snapshot.wallets.get(address)
        investor = snapshot.investors.get(wallet.investor_id) if wallet is not None else None
        if investor is not None and kyc.serves(investor):
            found[investor.id] = investor
    return list(found.values())


def _policy_rules(snapshot: Snapshot, request: CheckRequest) -> frozenset[str]:
    """Names of the rules the token's published policy runs (none without a policy)."""
    token = snapshot.tokens.get(request.token_id)
    policy = snapshot.policies.get(token.policy_id) if token is not None and token.policy_id else None
    if policy is None:
        return frozenset()
    return policy.compiled.rule_names


def _labels(snapshot: Snapshot, request: CheckRequest) -> tuple[WalletRiskSignal, ...] | None:
    """Built-in labels of both addresses; None while the snapshot may be out of date."""
    if snapshot.stale:
        return None
    labels = snapshot.wallet_labels
    if not labels:
        return ()
    return labels.get(request.from_address, ()) + labels.get(request.to_address, ())


def base_units_to_decimal(amount: int, decimals: int) -> Decimal:
    return Decimal(amount).scaleb(-decimals)


def _trigger_object(request: CheckRequest, snapshot: Snapshot) -> dict[str, Any]:
    """The transfer as Marble's ``transfers`` object (``object_id`` and ``updated_at`` required)."""
    token = snapshot.tokens[request.token_id].facts

    def investor_of(address: str) -> str | None:
        wallet = snapshot.wallets.get(address)
        return str(wallet.investor_id) if wallet is not None else None

    return {
        "object_id": request.idempotency_key or request.request_hash,
        "updated_at": datetime.now(UTC).isoformat(),
        "token_id": str(request.token_id),
        "token_symbol": token.symbol,
        "from_address": request.from_address,
        "to_address": request.to_address,
        "sender_id": investor_of(request.from_address),
        "receiver_id": investor_of(request.to_address),
        "amount": str(base_units_to_decimal(request.amount, token.decimals)),
        "value": str(token.price_per_unit * base_units_to_decimal(request.amount, token.decimals))
        if token.price_per_unit is not None
        else None,
        "currency": token.price_currency,
        "transfer_type": request.transfer_type.value,
        "blockchain_type": request.blockchain_type.value,
        "reference": request.reference,
    }
