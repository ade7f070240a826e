"""Micro-benchmark of the evidence step that runs before a check is queued, one core.

It builds an in-memory snapshot (a token under a policy running ``kyc_verified``, ``wallet_risk``
and ``external_monitoring``, two bound investors, ``--labels`` built-in wallet labels) and calls
``ProviderEvidence.gather`` in a tight loop, in these set-ups:

* ``local`` — the default: built-in labels only, no monitoring system, no KYC provider. This is
  the latency the evidence step adds to every check on the embedded default;
* ``local+labelled`` — the same with the receiving address labelled (the rule has a signal);
* ``cached-providers`` — Chainalysis sanctions, Marble (answering at once) and a KYC provider
  configured, every provider answer already in the in-process cache where one is cached (the
  Marble decision is made per transfer, so it is a call to an in-memory stand-in).

For each it prints calls per second and the time per call (mean, p50 and p99 over batches)::

    python -m bench.evidence [--seconds 2] [--labels 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from rich.console import Console
from rich.table import Table

from compliance_shield.adapters.cache import LocalCache, TieredCache
from compliance_shield.domain.facts import (
    InvestorFacts,
    MonitoringEvidence,
    ProviderKyc,
    TokenFacts,
    WalletFacts,
    WalletRiskSignal,
)
from compliance_shield.domain.policy import compile_policy
from compliance_shield.domain.values import BlockchainType, KycStatus, TransferType
from compliance_shield.reference_data import load_country_lists
from compliance_shield.services.checks.evidence import ProviderEvidence
from compliance_shield.services.checks.gather import CheckRequest
from compliance_shield.services.reference.snapshot import PolicyEntry, Snapshot, TokenEntry

BATCH = 1000
SENDER = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
RECEIVER = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"
TOKEN = uuid5(NAMESPACE_URL, "bench:token")
POLICY = uuid5(NAMESPACE_URL, "bench:policy")


def snapshot(labels: int, *, label_receiver: bool, kyc_provider: bool) -> Snapshot:
    snap = Snapshot(load_country_lists())
    snap.tokens[TOKEN] = TokenEntry(
        TokenFacts(id=TOKEN, symbol="BENCH", price_per_unit=1000, price_currency="INR"), POLICY
    )
    document = {
        "name": "bench-evidence",
        "jurisdiction": "IN",
        "as_of": "2026-02-17",
        "rules": [{"rule": r, "source": "bench"} for r in ("kyc_verified", "wallet_risk", "external_monitoring")],
    }
    snap.policies[POLICY] = PolicyEntry(POLICY, 1, compile_policy(document))
    for name, address in (("sender", SENDER), ("receiver", RECEIVER)):
        investor = InvestorFacts(
            id=uuid5(NAMESPACE_URL, f"bench:{name}"),
            name=name,
            country="IN",
            category="retail",
            kyc_status=KycStatus.VERIFIED,
            kyc_provider="ballerine" if kyc_provider else None,
            kyc_provider_ref=f"eu-{name}" if kyc_provider else None,
        )
        snap.investors[investor.id] = investor
        snap.wallets[address] = WalletFacts(address=address, investor_id=investor.id)
    for i in range(labels):
        address = f"0x{i:040x}"
        snap.wallet_labels[address] = (
            WalletRiskSignal(address=address, source="bench", category="exchange", level="low"),
        )
    if label_receiver:
        snap.wallet_labels[RECEIVER] = (
            WalletRiskSignal(address=RECEIVER, source="bench", category="mixer", level="high"),
        )
    snap.stale = False
    return snap


def request() -> CheckRequest:
    return CheckRequest(
        token_id=TOKEN,
        from_address=SENDER,
        to_address=RECEIVER,
        amount=10,
        blockchain_type=BlockchainType.PERMISSIONED,
        transfer_type=TransferType.SECONDARY,
        principal="bench",
        request_hash="0" * 64,
    )


class InstantSanctions:
    async def screen(self, address: str) -> tuple[WalletRiskSignal, ...]:
        return ()


class InstantMarble:
    async def decide(self, trigger_object: dict[str, Any]) -> MonitoringEvidence:
        return MonitoringEvidence(provider="marble", outcome="approve", score=0)


class CachedKyc:
    """A KYC provider whose answers are all fresh in the in-process cache (the common case)."""

    def __init__(self, cache: TieredCache) -> None:
        self._cache = cache

    async def current(self, investor: InvestorFacts) -> ProviderKyc:
        cached = await self._cache.get(f"kyc:ballerine:{investor.kyc_provider_ref}")
        assert cached is not None
        return ProviderKyc(
            investor_id=investor.id,
            provider="ballerine",
            reference=investor.kyc_provider_ref or "",
            status=KycStatus(cached["status"]),
        )


@dataclass(frozen=True, slots=True)
class Result:
    setup: str
    calls_per_second: float
    mean_us: float
    p50_us: float
    p99_us: float


async def measure(setup: str, gatherer: ProviderEvidence, snap: Snapshot, seconds: float) -> Result:
    checked = request()
    for _ in range(BATCH):  # warm up (and fill the caches)
        await gatherer.gather(checked, snap)
    per_call: list[float] = []
    total_calls = 0
    gc.collect()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        batch_start = time.perf_counter_ns()
        for _ in range(BATCH):
            await gatherer.gather(checked, snap)
        per_call.append((time.perf_counter_ns() - batch_start) / BATCH / 1000)
        total_calls += BATCH
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(per_call, n=100) if len(per_call) > 1 else [per_call[0]] * 99
    return Result(setup, total_calls / elapsed, elapsed / total_calls * 1e6, statistics.median(per_call), quantiles[98])


async def run(seconds: float, labels: int) -> list[Result]:
    setups: list[tuple[str, Callable[[], tuple[ProviderEvidence, Snapshot]]]] = []
    setups.append(("local", lambda: (ProviderEvidence(), snapshot(labels, label_receiver=False, kyc_provider=False))))
    setups.append(
        ("local+labelled", lambda: (ProviderEvidence(), snapshot(labels, label_receiver=True, kyc_provider=False)))
    )

    def providers() -> tuple[ProviderEvidence, Snapshot]:
        cache = TieredCache(LocalCache())
        for ref in ("eu-sender", "eu-receiver"):
            cache.local.set(
                f"kyc:ballerine:{ref}", {"status": "verified", "checked_at": "2026-03-02T10:00:00+00:00"}, 86400
            )
        gatherer = ProviderEvidence(
            cache=cache, sanctions=InstantSanctions(), monitor=InstantMarble(), kyc=CachedKyc(cache)
        )
        return gatherer, snapshot(labels, label_receiver=False, kyc_provider=True)

    setups.append(("cached-providers", providers))
    results = []
    for name, build in setups:
        gatherer, snap = build()
        results.append(await measure(name, gatherer, snap, seconds))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per set-up")
    parser.add_argument("--labels", type=int, default=10_000, help="built-in wallet labels in the snapshot")
    args = parser.parse_args()
    results = asyncio.run(run(args.seconds, args.labels))
    table = Table(title=f"evidence step per check ({args.labels:,} wallet labels in memory)")
    for column in ("set-up", "calls/s", "mean µs", "p50 µs", "p99 µs"):
        table.add_column(column, justify="left" if column == "set-up" else "right")
    for r in results:
        table.add_row(r.setup, f"{r.calls_per_second:,.0f}", f"{r.mean_us:.1f}", f"{r.p50_us:.1f}", f"{r.p99_us:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
