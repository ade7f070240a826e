"""Micro-benchmark of ``evaluate(policy, facts, now)`` on prepared facts, one core.

For each shipped policy template it builds the facts of an ordinary secondary transfer between
two verified, bound investors (balances, lots, recent transfers, a priced token and the token's
holder aggregates), then calls ``evaluate`` in a tight loop for a fixed time and prints
evaluations per second and the time per evaluation (mean, and p50/p99 over batches of 1000)::

    python -m bench.engine [--seconds 2] [--template india-aif]

``--count N`` runs a fixed number of evaluations instead, for an instruction counter that does
not care what else the machine is doing (docs/performance.md, "The decision engine")::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python -m bench.engine --template india-aif --count 2000

No I/O happens inside the loop: this measures the pure decision core only.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from rich.console import Console
from rich.table import Table

from compliance_shield.domain.engine import ENGINE_VERSION, evaluate
from compliance_shield.domain.facts import (
    Facts,
    InvestorFacts,
    Lot,
    PartyFacts,
    PastTransfer,
    SanctionsEvidence,
    TokenFacts,
    TokenStateFacts,
    TradingWindow,
    TransferFacts,
    TravelRuleData,
    TravelRuleParty,
    WalletFacts,
    WalletRiskEvidence,
)
from compliance_shield.domain.policy import CompiledPolicy
from compliance_shield.domain.screening import PartyScreening, ScreeningStatus
from compliance_shield.domain.values import BlockchainType, KycStatus, TransferType
from compliance_shield.reference_data import list_templates, load_country_lists, load_template

BATCH = 1000
#: evaluations before a fixed-count run (``--count``) starts measuring
WARM_UP = 200
#: the moment a fixed-count run evaluates at (a fixed one: instruction counts repeat exactly)
FIXED_NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SENDER = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
RECEIVER = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"


@dataclass(frozen=True, slots=True)
class TokenProfile:
    """How a template's token is shaped: price, decimals, supply and a typical transfer."""

    symbol: str
    price: Decimal
    decimals: int
    supply_units: int
    #: whole units moved by the benchmarked transfer
    transfer_units: int
    #: whole units each party already holds
    holding_units: int
    receiver_category: str = "retail"


PROFILES: dict[str, TokenProfile] = {
    "india-private-placement": TokenProfile("ACME-PP", Decimal(1000), 0, 2_000_000, 10, 800),
    "india-aif": TokenProfile("ALPHA-AIF", Decimal(100_000), 2, 50_000, 1, 110, receiver_category="accredited"),
    "india-sm-reit": TokenProfile("METRO-SMR", Decimal(10_000), 0, 500_000, 2, 150),
    "india-listed-equity": TokenProfile("BHARAT-EQ", Decimal(2500), 0, 10_000_000, 20, 2_000),
}
#: for a template without a profile: a priced token and a small transfer
DEFAULT_PROFILE = TokenProfile("TOKEN", Decimal(1000), 0, 1_000_000, 10, 500)


def _investor(name: str, category: str, now: datetime) -> InvestorFacts:
    return InvestorFacts(
        id=uuid5(NAMESPACE_URL, f"bench-investor:{name}"),
        name=name,
        country="IN",
        nationality="IN",
        category=category,
        kyc_status=KycStatus.VERIFIED,
        kyc_expires_at=now + timedelta(days=400),
        accreditation_expires_at=now + timedelta(days=200) if category == "accredited" else None,
        screening=PartyScreening(
            status=ScreeningStatus.CLEAR, list_versions=("un:bench", "ofac-sdn:bench"), screened_at=now
        ),
    )


def _party(address: str, investor: InvestorFacts, balance: int, now: datetime, *, history: int) -> PartyFacts:
    lots = (
        Lot(acquired_at=now - timedelta(days=420), amount=balance // 2),
        Lot(acquired_at=now - timedelta(days=95), amount=balance - balance // 2),
    )
    recent = tuple(PastTransfer(at=now - timedelta(hours=30 + 24 * i), amount=1) for i in range(history))
    return PartyFacts(
        address=address,
        wallet=WalletFacts(address=address, investor_id=investor.id),
        investor=investor,
        balance=balance,
        lots=lots,
        recent_transfers=recent,
    )


def _token_state(profile: TokenProfile, unit: int) -> TokenStateFacts:
    """Aggregates of a token with a few hundred holders across the usual categories."""
    holders = {"retail": 140, "accredited": 36, "nri": 30, "employee": 25, "institutional": 12, "qib": 6}
    per_holder = profile.holding_units * unit
    by_category = {category: count * per_holder for category, count in holders.items()}
    return TokenStateFacts(
        holder_count=sum(holders.values()),
        holder_count_by_category=holders,
        outstanding=sum(by_category.values()),
        balance_by_category=by_category,
    )


def build_facts(template: str, now: datetime) -> Facts:
    """The facts of a compliant secondary transfer of ``template``'s token at ``now``."""
    profile = PROFILES.get(template, DEFAULT_PROFILE)
    unit = 10**profile.decimals
    token_id: UUID = uuid5(NAMESPACE_URL, f"bench-token:{profile.symbol}")
    # a closed trading window binds designated persons only; neither party is one
    window = TradingWindow(start=now - timedelta(days=3), end=now + timedelta(days=7), reason="quarter end")
    token = TokenFacts(
        id=token_id,
        symbol=profile.symbol,
        decimals=profile.decimals,
        price_per_unit=profile.price,
        price_currency="INR",
        trading_windows=(window,) if template == "india-listed-equity" else (),
        total_supply=profile.supply_units * unit,
    )
    sender = _party(SENDER, _investor("Asha Rao", "retail", now), profile.holding_units * unit, now, history=2)
    receiver = _party(
        RECEIVER,
        _investor("Vikram Shah", profile.receiver_category, now),
        profile.holding_units * unit,
        now,
        history=0,
    )
    return Facts(
        transfer=TransferFacts(
            token_id=token_id,
            from_address=SENDER,
            to_address=RECEIVER,
            amount=profile.transfer_units * unit,
            blockchain_type=BlockchainType.PERMISSIONED,
            transfer_type=TransferType.SECONDARY,
            travel_rule=TravelRuleData(
                originator=TravelRuleParty(name="Asha Rao", account=SENDER),
                beneficiary=TravelRuleParty(name="Vikram Shah", account=RECEIVER),
            ),
        ),
        token=token,
        token_state=_token_state(profile, unit),
        sender=sender,
        receiver=receiver,
        sanctions=SanctionsEvidence(),
        countries=load_country_lists(),
        wallet_risk=WalletRiskEvidence(sources=("wallet_labels",)),
    )


@dataclass(frozen=True, slots=True)
class Result:
    template: str
    rules: int
    evaluations: int
    seconds: float
    #: µs per evaluation of each batch of ``BATCH``
    batches_us: list[float]
    outcome: str

    @property
    def per_second(self) -> float:
        return self.evaluations / self.seconds

    @property
    def mean_us(self) -> float:
        return self.seconds / self.evaluations * 1e6


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by the nearest-rank method."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run(template: str, policy: CompiledPolicy, seconds: float, count: int | None = None) -> Result:
    """Evaluate for ``seconds``, or exactly ``count`` evaluations (rounded up to whole batches)
    after a fixed warm-up, so that an instruction counter sees the same work on every run."""
    now = datetime.now(UTC) if count is None else FIXED_NOW
    facts = build_facts(template, now)
    decision = evaluate(policy, facts, now)
    if count is None:
        warm_until = time.perf_counter() + min(0.2, seconds / 10)
        while time.perf_counter() < warm_until:  # warm caches and the CPU clock before measuring
            evaluate(policy, facts, now)
    else:
        for _ in range(WARM_UP):
            evaluate(policy, facts, now)
    gc.collect()
    batches: list[float] = []
    total = 0.0
    clock = time.perf_counter
    while (total < seconds if count is None else len(batches) * BATCH < count) or not batches:
        start = clock()
        for _ in range(BATCH):
            evaluate(policy, facts, now)
        elapsed = clock() - start
        total += elapsed
        batches.append(elapsed / BATCH * 1e6)
    outcome = decision.status.value
    if decision.reasons:
        outcome += " (" + ", ".join(r.code.value for r in decision.reasons) + ")"
    return Result(template, len(policy.rules), len(batches) * BATCH, total, batches, outcome)


def pin_to_one_core() -> str:
    """Run on one CPU so the numbers do not depend on the scheduler moving the process."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to cpu {cpu}"


def render(results: list[Result], seconds: float, pinned: str) -> Table:
    table = Table(
        title=f"evaluate() per template — engine {ENGINE_VERSION}, {seconds:g} s each, {pinned}",
        title_justify="left",
    )
    table.add_column("template", no_wrap=True)
    table.add_column("rules", justify="right")
    table.add_column("evaluations/s", justify="right")
    table.add_column("mean µs", justify="right")
    table.add_column("p50 µs", justify="right")
    table.add_column("p99 µs", justify="right")
    table.add_column("outcome")
    for r in results:
        table.add_row(
            r.template,
            str(r.rules),
            f"{r.per_second:,.0f}",
            f"{r.mean_us:.1f}",
            f"{statistics.median(r.batches_us):.1f}",
            f"{percentile(r.batches_us, 0.99):.1f}",
            r.outcome,
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per template (default 2)")
    parser.add_argument("--template", action="append", help="only this template (repeatable)")
    parser.add_argument(
        "--count",
        type=int,
        help="run exactly this many evaluations per template instead of timing (for instruction counters "
        "such as valgrind --tool=callgrind; rounded up to whole batches of 1000)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.count is not None and args.count <= 0:
        parser.error("--count must be positive")
    templates = list_templates()
    if args.template:
        unknown = sorted(set(args.template) - set(templates))
        if unknown:
            parser.error(f"unknown template(s) {', '.join(unknown)}; shipped: {', '.join(templates)}")
        templates = [t for t in templates if t in args.template]
    pinned = pin_to_one_core()
    results = [run(name, load_template(name), args.seconds, args.count) for name in templates]
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=140)
    console.print(render(results, args.seconds, pinned))
    return 0


if __name__ == "__main__":
    sys.exit(main())
