"""A seeded corpus of varied facts and the fingerprint of each decision the engine makes on it.

Stored decisions are replayed against the engine, so every part of a decision (status, score,
restriction code, reasons and the full rule trace as stored) must stay the same when the engine
changes. ``tests/unit/test_engine_golden.py`` compares the engine against fingerprints recorded
in ``tests/unit/data/engine_golden.json``; regenerate them (only for an intended change of
behaviour) with::

    .venv/bin/python tests/unit/engine_corpus.py
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from builders import (
    COUNTRIES,
    NOW,
    RECEIVER,
    SENDER,
    TOKEN_ID,
    make_facts,
    make_investor,
    make_party,
    make_token,
    policy_document,
)

from compliance_shield.domain import encoding
from compliance_shield.domain.decision import Decision
from compliance_shield.domain.engine import evaluate
from compliance_shield.domain.facts import (
    Facts,
    InvestorFacts,
    Lot,
    MonitoringEvidence,
    PartyFacts,
    PastTransfer,
    ProviderKyc,
    SanctionsEvidence,
    SanctionsHit,
    TokenStateFacts,
    TradingWindow,
    TravelRuleData,
    TravelRuleParty,
    WalletRiskEvidence,
    WalletRiskSignal,
)
from compliance_shield.domain.policy import CompiledPolicy, compile_policy
from compliance_shield.domain.screening import EntityKind, NameMatch, PartyScreening, ScreeningStatus
from compliance_shield.domain.values import KycStatus, TransferType, WalletStatus
from compliance_shield.reference_data import list_templates, load_template

GOLDEN = Path(__file__).parent / "data" / "engine_golden.json"
CASES_PER_POLICY = 300
SEED = 15
MAX_UNITS = 2**256 - 1

CATEGORIES = ("retail", "accredited", "employee", "qib", "nri", "institutional", "foreign", None)
COUNTRY_CODES = ("IN", "IN", "IN", "US", "KP", "IR", "MM", "AE", "CN", "PK", "np", "GB")
LIST_VERSIONS = ("un:2026-02-27:test", "ofac-sdn:2026-02-20:test", "eu:2026-01-30:test")

#: a policy that runs every rule of the catalogue with non-default parameters and spec options
CATALOGUE = policy_document(
    {"rule": "token_paused"},
    {"rule": "sanctioned_address", "on_fail": "review", "risk_points": 30},
    {"rule": "sanctioned_party", "params": {"min_list_versions": 2, "apply_to": "receiver"}},
    {"rule": "wallet_risk", "params": {"apply_to": "receiver", "level_points": {"medium": 10, "low": 3}}},
    {"rule": "external_monitoring", "params": {"review_score": 60, "reject_score": 90}},
    {"rule": "wallet_bound"},
    {"rule": "kyc_verified"},
    {"rule": "wallet_frozen", "on_fail": "review"},
    {"rule": "investor_category", "params": {"allowed": ["retail", "accredited", "qib"], "apply_to": "both"}},
    {"rule": "accreditation_valid", "params": {"categories": ["accredited", "qib"]}},
    {"rule": "pep_review", "risk_points": 35},
    {"rule": "country_blocked", "params": {"countries": ["CN"], "include_fatf_call_for_action": True}},
    {"rule": "country_review", "params": {"countries": ["PK"]}, "risk_points": 20},
    {"rule": "sufficient_balance"},
    {"rule": "lockup", "params": {"holding_period_days": 180, "use_token_lockup_until": True}},
    {"rule": "trading_window"},
    {"rule": "max_holders", "params": {"max_holders": 5, "exempt_categories": ["qib"]}},
    {"rule": "max_balance", "params": {"max_amount": "5000"}},
    {
        "rule": "max_ownership_pct",
        "params": {
            "max_pct": "10",
            "exempt_categories": ["qib"],
            "category_limits": {"nri": {"each_pct": "5", "aggregate_pct": "24"}, "qib": {"aggregate_pct": "50"}},
        },
    },
    {
        "rule": "min_investment",
        "params": {"min_value": "100000", "currency": "INR", "category_minimums": {"employee": "1000"}},
    },
    {"rule": "travel_rule", "params": {"threshold": "0", "currency": "INR", "required_fields": ["name", "country"]}},
    {"rule": "large_transfer_review", "params": {"threshold": "5000000", "currency": "INR"}, "on_fail": "review"},
    {
        "rule": "transfer_limit",
        "params": {
            "windows": [
                {"window_seconds": 86400, "max_amount": "500", "max_count": 2},
                {"window_seconds": 90, "max_count": 1},
            ]
        },
    },
    name="catalogue",
    escalation_threshold=60,
)


def policies() -> dict[str, CompiledPolicy]:
    """The shipped templates and the catalogue policy, by name."""
    found = {name: load_template(name) for name in list_templates()}
    found["catalogue"] = compile_policy(CATALOGUE)
    return found


def _amount(rng: random.Random) -> int:
    return rng.choice(
        (0, 1, 2, 10, rng.randint(1, 1000), rng.randint(1, 10**8), rng.randint(1, 10**20), 10**18, MAX_UNITS)
    )


def _screening(rng: random.Random, side: str) -> PartyScreening | None:
    kind = rng.random()
    if kind < 0.05:
        return None
    if kind < 0.1:
        return PartyScreening(status=ScreeningStatus.PENDING)
    versions = tuple(rng.sample(LIST_VERSIONS, rng.randint(1, 3)))
    hits = tuple(
        NameMatch(
            source=version.split(":")[0],
            list_version=version,
            entity_uid=f"{side}-{i}",
            entity_name=rng.choice(("Ivan Petrov", "Kim Jong", "Al Example")),
            entity_kind=EntityKind.INDIVIDUAL,
            matched_name=rng.choice(("Ivan Petrov", "Asha Rao")),
            score=rng.choice((0.5, 0.7, 0.75, 0.89999, 0.9, 0.97, 1.0)),
            dismissed=rng.random() < 0.2,
        )
        for i, version in enumerate(versions)
        if rng.random() < 0.15
    )
    return PartyScreening(status=ScreeningStatus.CLEAR, hits=hits, list_versions=versions, screened_at=NOW)


def _investor(rng: random.Random, side: str) -> InvestorFacts:
    name = rng.choice(("Asha Rao", "Vikram Shah", "Meera Iyer", "Zoë 名前")) + f" {side}"
    status = rng.choices(list(KycStatus), weights=(1, 12, 1, 1))[0]
    return make_investor(
        name,
        category=rng.choice(CATEGORIES) or "retail",
        country=rng.choice(COUNTRY_CODES),
        nationality=rng.choice((*COUNTRY_CODES, None)),
        kyc_status=status,
        kyc_expires_at=rng.choice((None, NOW + timedelta(days=300), NOW - timedelta(days=3), NOW)),
        accreditation_expires_at=rng.choice((None, NOW + timedelta(days=30), NOW - timedelta(seconds=1))),
        pep=rng.random() < 0.1,
        designated_tokens=frozenset({TOKEN_ID}) if rng.random() < 0.1 else frozenset(),
        screening=_screening(rng, side),
    )


def _party(rng: random.Random, address: str, side: str, decimals: int) -> PartyFacts:
    unit = 10**decimals
    investor = None if rng.random() < 0.05 else _investor(rng, side)
    balance = rng.choice((0, 0, 5, 100, 1000, 10**6)) * unit
    if rng.random() < 0.02:
        balance = MAX_UNITS
    lots = tuple(
        Lot(acquired_at=NOW - timedelta(days=rng.choice((1, 90, 179, 180, 181, 400))), amount=balance // 2)
        for _ in range(rng.randint(0, 3))
    )
    recent = tuple(
        PastTransfer(
            at=NOW - timedelta(seconds=rng.choice((30, 89, 90, 3600, 86399, 86400, 10**6))), amount=rng.randint(1, 400)
        )
        for _ in range(rng.choice((0, 0, 1, 2, 3, 5)))
    )
    party = make_party(
        address,
        investor,
        wallet_status=WalletStatus.FROZEN if rng.random() < 0.05 else WalletStatus.ACTIVE,
        balance=balance,
        reserved_out=rng.choice((0, 0, 0, 1, balance)),
        reserved_in=rng.choice((0, 0, 0, 3 * unit)),
        lots=lots,
        recent_transfers=recent,
    )
    if investor is not None and rng.random() < 0.03:  # an address with an investor but no wallet
        party = party.model_copy(update={"wallet": None})
    return party


def _wallet_risk(rng: random.Random) -> WalletRiskEvidence | None:
    kind = rng.random()
    if kind < 0.05:
        return None
    signals = tuple(
        WalletRiskSignal(
            address=rng.choice((SENDER, RECEIVER.upper().replace("0X", "0x"), "0x" + "c3" * 20, "bc1qexample")),
            source=rng.choice(("wallet_labels", "chainalysis")),
            category=rng.choice(("Mixer", "exchange", "darknet", "gambling", "defi")),
            level=rng.choice(("low", "medium", "high", "severe")),
            kind=rng.choice(("label", "identification", "alert")),
            name=rng.choice((None, "Tornado")),
        )
        for _ in range(rng.choice((0, 0, 0, 1, 2)))
    )
    return WalletRiskEvidence(
        signals=signals,
        sources=("wallet_labels",) if rng.random() < 0.8 else ("wallet_labels", "chainalysis"),
        kyt=rng.choice(("not_requested", "not_requested", "pending", "complete")),
    )


def _monitoring(rng: random.Random) -> MonitoringEvidence | None:
    kind = rng.random()
    if kind < 0.1:
        return None
    if kind < 0.4:
        return MonitoringEvidence(configured=False)
    return MonitoringEvidence(
        provider=rng.choice((None, "marble")),
        decision_id="d-1",
        outcome=rng.choice((None, "approve", "review", "block_and_review", "decline")),
        score=rng.choice((None, 10, 60, 95)),
        scenario="s",
    )


def _travel_party(rng: random.Random, name: str, account: str) -> TravelRuleParty | None:
    if rng.random() < 0.05:
        return None
    return TravelRuleParty(
        name=rng.choice((name, name, " ", None)),
        account=rng.choice((account, account, "", None)),
        country=rng.choice(("IN", None)),
    )


def make_case(rng: random.Random) -> Facts:
    """One random but reproducible set of facts."""
    decimals = rng.choice((0, 0, 2, 6, 18))
    unit = 10**decimals
    token = make_token(
        decimals=decimals,
        price_per_unit=rng.choice((None, Decimal("1000"), Decimal("100000"), Decimal("0.0001"), Decimal("2500.5"))),
        price_currency=rng.choice(("INR", "INR", "INR", "USD", None)),
        paused=rng.random() < 0.05,
        lockup_until=rng.choice((None, None, NOW + timedelta(days=10), NOW - timedelta(days=10))),
        trading_windows=(
            (
                TradingWindow(
                    start=NOW - timedelta(days=1), end=NOW + timedelta(days=2), reason=rng.choice(("", "results"))
                ),
            )
            if rng.random() < 0.3
            else ()
        ),
        total_supply=rng.choice((None, 0, 1000 * unit, 10**6 * unit, MAX_UNITS)),
    )
    holders = {c: rng.randint(0, 400) for c in ("retail", "accredited", "nri", "qib") if rng.random() < 0.7}
    state = TokenStateFacts(
        holder_count=sum(holders.values()),
        holder_count_by_category=holders,
        outstanding=rng.choice((0, 500 * unit, 10**6 * unit)),
        balance_by_category={c: n * rng.randint(0, 100) * unit for c, n in holders.items()},
    )
    sanctions = None
    if rng.random() > 0.05:
        hits = tuple(
            SanctionsHit(
                address=rng.choice((SENDER, RECEIVER.upper().replace("0X", "0x"), "0x" + "d4" * 20)),
                source="ofac-sdn",
                entity=rng.choice((None, "Lazarus")),
                list_version=rng.choice((None, LIST_VERSIONS[1])),
            )
            for _ in range(1 if rng.random() < 0.05 else 0)
        )
        active = rng.choice((None, (), LIST_VERSIONS[:1], LIST_VERSIONS[:2]))
        sanctions = SanctionsEvidence(
            hits=hits,
            list_versions=LIST_VERSIONS[:2],
            active_list_versions=active,
            name_lists_required=rng.random() < 0.2,
        )
    sender = _party(rng, SENDER, "sender", decimals)
    receiver = _party(rng, RECEIVER, "receiver", decimals)
    kyc_checks: tuple[ProviderKyc, ...] = ()
    if rng.random() < 0.05 and sender.investor is not None:
        kyc_checks = (ProviderKyc(investor_id=sender.investor.id, provider="ballerine", reference="r", status=None),)
    facts = make_facts(
        sender=sender,
        receiver=receiver,
        token=token,
        token_state=state,
        amount=_amount(rng) * (unit if rng.random() < 0.7 else 1) if rng.random() < 0.95 else MAX_UNITS,
        transfer_type=rng.choices(list(TransferType), weights=(1, 8, 1))[0],
        travel_rule=TravelRuleData(
            originator=_travel_party(rng, "Asha Rao", SENDER), beneficiary=_travel_party(rng, "Vikram Shah", RECEIVER)
        ),
        sanctions=sanctions,
        countries=None if rng.random() < 0.05 else COUNTRIES,
        wallet_risk=_wallet_risk(rng),
        monitoring=_monitoring(rng),
    )
    if kyc_checks:
        facts = facts.model_copy(update={"kyc_checks": kyc_checks})
    return facts


def make_ordinary_case(rng: random.Random) -> Facts:
    """A transfer between verified, bound, screened investors: mostly approvals, with varied
    amounts, balances, decimals, categories, prices and recent transfers."""
    decimals = rng.choice((0, 2, 18))
    unit = 10**decimals
    token = make_token(
        decimals=decimals,
        price_per_unit=rng.choice((Decimal("1000"), Decimal("100000"), Decimal("12.5"))),
        total_supply=rng.choice((None, 10**6 * unit, 10**9 * unit)),
    )

    def party(address: str, name: str) -> PartyFacts:
        investor = make_investor(
            name,
            category=rng.choice(("retail", "accredited", "employee", "qib", "nri")),
            accreditation_expires_at=NOW + timedelta(days=rng.randint(1, 300)),
            screening=PartyScreening(
                status=ScreeningStatus.CLEAR, list_versions=LIST_VERSIONS[: rng.randint(1, 3)], screened_at=NOW
            ),
        )
        balance = rng.choice((100, 1000, 50_000)) * unit
        recent = tuple(
            PastTransfer(at=NOW - timedelta(hours=rng.randint(1, 900)), amount=rng.randint(1, 10) * unit)
            for _ in range(rng.choice((0, 1, 2)))
        )
        lots = (Lot(acquired_at=NOW - timedelta(days=400), amount=balance),)
        return make_party(address, investor, balance=balance, lots=lots, recent_transfers=recent)

    holders = {"retail": rng.randint(1, 300), "accredited": rng.randint(0, 50), "qib": rng.randint(0, 9)}
    state = TokenStateFacts(
        holder_count=sum(holders.values()),
        holder_count_by_category=holders,
        outstanding=10**6 * unit,
        balance_by_category={c: n * 1000 * unit for c, n in holders.items()},
    )
    return make_facts(
        sender=party(SENDER, "Asha Rao"),
        receiver=party(RECEIVER, "Vikram Shah"),
        token=token,
        token_state=state,
        amount=rng.choice((1, 2, 10, 100, 5000)) * unit + rng.choice((0, 0, 1)),
        wallet_risk=WalletRiskEvidence(sources=("wallet_labels",)),
    )


def corpus(policy_name: str) -> list[Facts]:
    """``CASES_PER_POLICY`` facts, seeded by the policy's name so each policy has its own cases:
    ordinary transfers and transfers with anything wrong, alternately."""
    rng = random.Random(f"{SEED}:{policy_name}")
    return [make_ordinary_case(rng) if i % 2 else make_case(rng) for i in range(CASES_PER_POLICY)]


def decision_record(decision: Decision) -> dict[str, Any]:
    """Everything of a decision that is stored and replayed, as JSON."""
    return {
        "status": decision.status.value,
        "risk_score": decision.risk_score,
        "restriction_code": decision.restriction_code,
        "engine_version": decision.engine_version,
        "reasons": [reason.to_json() for reason in decision.reasons],
        "rules": [trace.to_json() for trace in decision.rules],
    }


def fingerprint(decision: Decision) -> str:
    """A short hash of the decision's canonical JSON."""
    return hashlib.sha256(encoding.canonical(decision_record(decision)).encode()).hexdigest()[:20]


def record() -> dict[str, Any]:
    """Fingerprints per policy and case, and the full record of the first cases as a readable sample."""
    out: dict[str, Any] = {"fingerprints": {}, "samples": {}}
    for name, policy in policies().items():
        decisions = [evaluate(policy, facts, NOW) for facts in corpus(name)]
        out["fingerprints"][name] = [fingerprint(d) for d in decisions]
        out["samples"][name] = [decision_record(d) for d in decisions[:3]]
    return out


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(json.loads(encoding.canonical(record())), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
