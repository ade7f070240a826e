"""Gathering external evidence before a check is queued: concurrency, caching, failing closed."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from builders import COUNTRIES, RECEIVER, SENDER, TOKEN_ID, make_investor, make_token, policy_document

from compliance_shield.adapters.cache import LocalCache, TieredCache
from compliance_shield.adapters.chainalysis.kyt import KytResult, Registration
from compliance_shield.adapters.resilience import ProviderFailure
from compliance_shield.domain.facts import InvestorFacts, MonitoringEvidence, WalletFacts, WalletRiskSignal
from compliance_shield.domain.policy import compile_policy
from compliance_shield.domain.values import BlockchainType, KycStatus, TransferType
from compliance_shield.services.checks.evidence import ProviderEvidence
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.providers.kyt import KytScreening
from compliance_shield.services.reference.snapshot import PolicyEntry, Snapshot, TokenEntry

POLICY_ID = uuid4()
RULES = ("kyc_verified", "wallet_risk", "external_monitoring")


def snapshot(*investors: InvestorFacts, rules: tuple[str, ...] = RULES) -> Snapshot:
    snap = Snapshot(COUNTRIES)
    snap.tokens[TOKEN_ID] = TokenEntry(facts=make_token(), policy_id=POLICY_ID)
    policy = compile_policy(policy_document(*({"rule": r} for r in rules)))
    snap.policies[POLICY_ID] = PolicyEntry(POLICY_ID, 1, policy)
    sender, receiver = investors or (make_investor("Asha Rao"), make_investor("Vikram Shah"))
    for address, investor in ((SENDER, sender), (RECEIVER, receiver)):
        snap.investors[investor.id] = investor
        snap.wallets[address] = WalletFacts(address=address, investor_id=investor.id)
    snap.stale = False
    return snap


def request(amount: int = 10, **extra: Any) -> CheckRequest:
    return CheckRequest(
        token_id=TOKEN_ID,
        from_address=SENDER,
        to_address=RECEIVER,
        amount=amount,
        blockchain_type=BlockchainType.PUBLIC,
        transfer_type=TransferType.SECONDARY,
        principal="p",
        request_hash=hashlib.sha256(str(amount).encode()).hexdigest(),
        **extra,
    )


def label(address: str, category: str, level: str) -> WalletRiskSignal:
    return WalletRiskSignal(address=address, source="wallet_labels", category=category, level=level)  # type: ignore[arg-type]


class Screener:
    """In-memory sanctions screener: identifications by address; ``down`` makes it fail."""

    def __init__(self, listed: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.listed = listed or {}
        self.down = False
        self.delay = delay
        self.calls: list[str] = []

    async def screen(self, address: str) -> tuple[WalletRiskSignal, ...]:
        self.calls.append(address)
        await asyncio.sleep(self.delay)
        if self.down:
            raise ProviderFailure("chainalysis", "HTTP 503", retryable=True)
        if address in self.listed:
            return (
                WalletRiskSignal(
                    address=address,
                    source="chainalysis-sanctions",
                    category="sanctions",
                    level="severe",
                    kind="identification",
                    name=self.listed[address],
                ),
            )
        return ()


class Monitor:
    def __init__(self, outcome: str = "approve", delay: float = 0.0) -> None:
        self.outcome = outcome
        self.delay = delay
        self.objects: list[dict[str, Any]] = []

    async def decide(self, trigger_object: dict[str, Any]) -> MonitoringEvidence:
        self.objects.append(trigger_object)
        await asyncio.sleep(self.delay)
        if self.outcome == "down":
            raise ProviderFailure("marble", "timed out", outcome="timeout")
        return MonitoringEvidence(provider="marble", outcome=self.outcome, score=5)  # type: ignore[arg-type]


async def test_without_providers_only_the_built_in_labels_speak() -> None:
    snap = snapshot()
    snap.wallet_labels[RECEIVER] = (label(RECEIVER, "mixer", "high"),)
    evidence = await ProviderEvidence().gather(request(), snap)
    assert evidence.wallet_risk is not None
    assert [s.category for s in evidence.wallet_risk.signals] == ["mixer"]
    assert evidence.wallet_risk.sources == ("wallet_labels",)
    assert evidence.monitoring is not None
    assert evidence.monitoring.configured is False
    assert evidence.kyc_checks == ()


async def test_a_stale_snapshot_withholds_the_labels() -> None:
    snap = snapshot()
    snap.stale = True
    assert (await ProviderEvidence().gather(request(), snap)).wallet_risk is None


async def test_providers_are_asked_concurrently() -> None:
    screener, monitor = Screener(delay=0.2), Monitor(delay=0.2)
    gatherer = ProviderEvidence(sanctions=screener, monitor=monitor)
    started = asyncio.get_running_loop().time()
    evidence = await gatherer.gather(request(), snapshot())
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 0.35  # two addresses and Marble at 0.2 s each, in parallel
    assert sorted(screener.calls) == sorted([SENDER, RECEIVER])
    assert evidence.monitoring is not None
    assert evidence.monitoring.outcome == "approve"
    trigger = monitor.objects[0]
    assert trigger["object_id"]
    assert trigger["updated_at"]
    assert trigger["amount"] == "10"


async def test_sanctions_answers_are_cached() -> None:
    screener = Screener({RECEIVER: "SANCTIONS: OFAC SDN"})
    cache = TieredCache(LocalCache())
    gatherer = ProviderEvidence(cache=cache, sanctions=screener)
    first = await gatherer.gather(request(), snapshot())
    second = await gatherer.gather(request(), snapshot())
    assert len(screener.calls) == 2  # each address once
    assert first.wallet_risk == second.wallet_risk
    assert first.wallet_risk is not None
    assert first.wallet_risk.signals[0].category == "sanctions"
    assert cache.hit_ratio("chainalysis-sanctions") == 0.5


async def test_a_provider_down_leaves_its_evidence_missing() -> None:
    screener = Screener()
    screener.down = True
    evidence = await ProviderEvidence(sanctions=screener, monitor=Monitor("down")).gather(request(), snapshot())
    assert evidence.wallet_risk is None
    assert evidence.monitoring is None


async def test_the_overall_deadline_bounds_a_slow_provider() -> None:
    gatherer = ProviderEvidence(sanctions=Screener(delay=2.0), deadline=0.05)
    evidence = await gatherer.gather(request(), snapshot())
    assert evidence.wallet_risk is None


class FakeKyt:
    def __init__(self) -> None:
        self.registered: list[tuple[str, str, str, Decimal]] = []
        self.processed = False
        self.fail = False

    async def register_withdrawal(
        self, user_id: str, address: str, attempt_id: str, amount: Decimal, at: datetime
    ) -> Registration:
        if self.fail:
            raise ProviderFailure("chainalysis", "HTTP 503")
        self.registered.append((user_id, address, attempt_id, amount))
        return Registration(external_id=f"ext-{len(self.registered)}")

    async def result(self, external_id: str, address: str) -> KytResult:
        if not self.processed:
            return KytResult(processed=False)
        return KytResult(
            processed=True,
            signals=(
                WalletRiskSignal(
                    address=address, source="chainalysis-kyt", category="darknet_market", level="severe", kind="alert"
                ),
            ),
        )


async def test_kyt_is_pending_until_the_poller_sees_it_processed() -> None:
    api, cache = FakeKyt(), TieredCache(LocalCache())
    kyt = KytScreening(api, cache, clock=lambda: datetime(2026, 3, 2, tzinfo=UTC))
    gatherer = ProviderEvidence(cache=cache, screening=kyt)
    snap = snapshot()

    first = await gatherer.gather(request(), snap)
    assert first.wallet_risk is not None
    assert first.wallet_risk.kyt == "pending"
    again = await gatherer.gather(request(), snap)
    assert again.wallet_risk is not None
    assert again.wallet_risk.kyt == "pending"
    assert len(api.registered) == 1  # registered once per transfer
    user, address, _, amount = api.registered[0]
    assert (user, address, amount) == (str(snap.wallets[SENDER].investor_id), RECEIVER, Decimal(10))

    assert await kyt.poll_once() == 0
    api.processed = True
    assert await kyt.poll_once() == 1
    done = await gatherer.gather(request(), snap)
    assert done.wallet_risk is not None
    assert done.wallet_risk.kyt == "complete"
    assert [s.category for s in done.wallet_risk.signals] == ["darknet_market"]

    other = await gatherer.gather(request(amount=11), snap)  # another transfer: its own attempt
    assert other.wallet_risk is not None
    assert other.wallet_risk.kyt == "pending"
    assert len(api.registered) == 2


async def test_kyt_registration_failure_is_missing_evidence() -> None:
    api = FakeKyt()
    api.fail = True
    gatherer = ProviderEvidence(screening=KytScreening(api, TieredCache(LocalCache())))
    assert (await gatherer.gather(request(), snapshot())).wallet_risk is None


class Answers:
    """In-memory KYC provider answers by investor id; a missing one fails like an outage."""

    def __init__(self, statuses: dict[Any, KycStatus]) -> None:
        self.statuses = statuses

    def serves(self, investor: InvestorFacts) -> bool:
        return investor.kyc_provider == "ballerine"

    async def current(self, investor: InvestorFacts) -> Any:
        from compliance_shield.domain.facts import ProviderKyc

        if investor.id not in self.statuses:
            raise ProviderFailure("ballerine", "circuit breaker is open", outcome="circuit_open")
        return ProviderKyc(
            investor_id=investor.id,
            provider="ballerine",
            reference=investor.kyc_provider_ref or "",
            status=self.statuses[investor.id],
        )


@pytest.mark.parametrize("answered", [True, False])
async def test_kyc_answers_only_for_provider_backed_investors(answered: bool) -> None:
    backed = make_investor("Vikram Shah", kyc_provider="ballerine", kyc_provider_ref=f"eu-{uuid4()}")
    # an officer's override: the registry holds the status, the provider is not asked
    overridden = make_investor("Asha Rao", kyc_provider="officer", kyc_provider_ref=f"eu-{uuid4()}")
    snap = snapshot(overridden, backed)
    answers = Answers({backed.id: KycStatus.REJECTED} if answered else {})
    evidence = await ProviderEvidence(kyc=answers).gather(request(), snap)
    assert [c.investor_id for c in evidence.kyc_checks] == [backed.id]
    assert evidence.kyc_checks[0].status is (KycStatus.REJECTED if answered else None)


async def test_only_what_the_policy_runs_is_asked_for() -> None:
    screener, monitor = Screener(), Monitor()
    gatherer = ProviderEvidence(sanctions=screener, monitor=monitor)
    evidence = await gatherer.gather(request(), snapshot(rules=("kyc_verified",)))
    assert screener.calls == []
    assert monitor.objects == []
    assert evidence.wallet_risk is not None  # the built-in labels cost nothing
    await gatherer.gather(request(), snapshot(rules=("external_monitoring",)))
    assert screener.calls == []
    assert len(monitor.objects) == 1
