"""Plain builders for facts and one-rule policies, shared by the unit tests.

Defaults describe an ordinary, compliant secondary transfer at ``NOW``: two verified, bound
Indian retail investors, a priced INR token, no sanctions hits, the FATF lists available,
complete travel-rule data, no wallet-risk signal and no monitoring system configured. Each
test overrides only what its case is about.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from compliance_shield.domain.decision import RuleTrace
from compliance_shield.domain.engine import evaluate
from compliance_shield.domain.facts import (
    CountryLists,
    Facts,
    InvestorFacts,
    Lot,
    MonitoringEvidence,
    PartyFacts,
    SanctionsEvidence,
    TokenFacts,
    TokenStateFacts,
    TransferFacts,
    TravelRuleData,
    TravelRuleParty,
    WalletFacts,
    WalletRiskEvidence,
)
from compliance_shield.domain.policy import CompiledPolicy, compile_policy
from compliance_shield.domain.screening import PartyScreening, ScreeningStatus
from compliance_shield.domain.values import (
    BlockchainType,
    KycStatus,
    TransferType,
    WalletStatus,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TOKEN_ID = uuid5(NAMESPACE_URL, "token:PVTX")
SENDER = "0x" + "a1" * 20
RECEIVER = "0x" + "b2" * 20

COUNTRIES = CountryLists(
    as_of=date(2026, 2, 13),
    source="test lists",
    call_for_action=frozenset({"KP", "IR"}),
    call_for_action_edd=frozenset({"MM"}),
    increased_monitoring=frozenset({"AE", "KE", "NP", "VN"}),
)


def investor_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"investor:{name}")


def make_investor(name: str = "Asha Rao", **overrides: Any) -> InvestorFacts:
    fields: dict[str, Any] = {
        "id": investor_id(name),
        "name": name,
        "country": "IN",
        "nationality": "IN",
        "category": "retail",
        "kyc_status": KycStatus.VERIFIED,
        "kyc_expires_at": NOW + timedelta(days=365),
        # screened by name against the sanctions lists: no hit
        "screening": PartyScreening(
            status=ScreeningStatus.CLEAR, list_versions=("un:2026-02-27:test",), screened_at=NOW
        ),
    }
    fields.update(overrides)
    return InvestorFacts(**fields)


def make_party(
    address: str,
    investor: InvestorFacts | None,
    *,
    wallet_status: WalletStatus = WalletStatus.ACTIVE,
    **position: Any,
) -> PartyFacts:
    """A party whose wallet is bound to ``investor`` (no wallet at all when it is None)."""
    wallet = (
        WalletFacts(address=address, investor_id=investor.id, status=wallet_status) if investor is not None else None
    )
    return PartyFacts(address=address, wallet=wallet, investor=investor, **position)


def make_sender(investor: InvestorFacts | None = None, **position: Any) -> PartyFacts:
    defaults: dict[str, Any] = {
        "balance": 1_000,
        "lots": (Lot(acquired_at=datetime(2025, 1, 1, tzinfo=UTC), amount=1_000),),
    }
    defaults.update(position)
    return make_party(SENDER, investor if investor is not None else make_investor("Asha Rao"), **defaults)


def make_receiver(investor: InvestorFacts | None = None, **position: Any) -> PartyFacts:
    return make_party(RECEIVER, investor if investor is not None else make_investor("Vikram Shah"), **position)


def make_token(**overrides: Any) -> TokenFacts:
    fields: dict[str, Any] = {
        "id": TOKEN_ID,
        "symbol": "PVTX",
        "decimals": 0,
        "price_per_unit": Decimal("1000"),
        "price_currency": "INR",
    }
    fields.update(overrides)
    return TokenFacts(**fields)


def complete_travel_rule() -> TravelRuleData:
    return TravelRuleData(
        originator=TravelRuleParty(name="Asha Rao", account=SENDER),
        beneficiary=TravelRuleParty(name="Vikram Shah", account=RECEIVER),
    )


def make_facts(
    *,
    sender: PartyFacts | None = None,
    receiver: PartyFacts | None = None,
    token: TokenFacts | None = None,
    token_state: TokenStateFacts | None = None,
    amount: int = 10,
    transfer_type: TransferType = TransferType.SECONDARY,
    travel_rule: TravelRuleData | None = None,
    sanctions: SanctionsEvidence | None = SanctionsEvidence(),
    countries: CountryLists | None = COUNTRIES,
    wallet_risk: WalletRiskEvidence | None = WalletRiskEvidence(),
    monitoring: MonitoringEvidence | None = MonitoringEvidence(configured=False),
) -> Facts:
    sender = sender if sender is not None else make_sender()
    receiver = receiver if receiver is not None else make_receiver()
    token = token if token is not None else make_token()
    return Facts(
        transfer=TransferFacts(
            token_id=token.id,
            from_address=sender.address,
            to_address=receiver.address,
            amount=amount,
            blockchain_type=BlockchainType.PERMISSIONED,
            transfer_type=transfer_type,
            travel_rule=travel_rule if travel_rule is not None else complete_travel_rule(),
        ),
        token=token,
        token_state=token_state if token_state is not None else TokenStateFacts(),
        sender=sender,
        receiver=receiver,
        sanctions=sanctions,
        countries=countries,
        wallet_risk=wallet_risk,
        monitoring=monitoring,
    )


def policy_document(*rules: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A valid policy document as plain data; each rule gets a source unless it has one."""
    document: dict[str, Any] = {
        "name": "test-policy",
        "jurisdiction": "IN",
        "as_of": "2026-02-13",
        "rules": [{"source": "test source", **spec} for spec in rules],
    }
    document.update(overrides)
    return document


def one_rule_policy(rule: str, params: dict[str, Any] | None = None, **spec: Any) -> CompiledPolicy:
    return compile_policy(policy_document({"rule": rule, "params": params or {}, **spec}))


def run_rule(rule: str, params: dict[str, Any] | None, facts: Facts, now: datetime = NOW) -> RuleTrace:
    """Evaluate ``rule`` alone through the engine and return its trace line."""
    return evaluate(one_rule_policy(rule, params), facts, now).rules[0]
