"""The shipped policy templates and FATF lists: they load, cite sources, and decide realistic cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from builders import (
    NOW,
    TOKEN_ID,
    make_facts,
    make_investor,
    make_receiver,
    make_sender,
    make_token,
)

from compliance_shield.domain.decision import Decision
from compliance_shield.domain.engine import evaluate
from compliance_shield.domain.facts import Facts, Lot, PartyFacts, TokenStateFacts, TradingWindow
from compliance_shield.domain.reasons import RESTRICTION_CODES, ReasonCode
from compliance_shield.domain.values import Outcome, TransferType
from compliance_shield.errors import NotFound
from compliance_shield.reference_data import list_templates, load_country_lists, load_template

TEMPLATES = ["india-aif", "india-listed-equity", "india-private-placement", "india-sm-reit"]
COMMON_RULES = {
    "token_paused",
    "sanctioned_address",
    "wallet_bound",
    "kyc_verified",
    "wallet_frozen",
    "country_blocked",
    "country_review",
    "pep_review",
    "sufficient_balance",
    "lockup",
    "travel_rule",
    "large_transfer_review",
    "transfer_limit",
}
#: an ordinary transfer for each template, in units of ₹1,000 (below its review threshold)
BASELINE_UNITS = {
    "india-aif": 10_000,  # ₹1 crore: the AIF minimum
    "india-listed-equity": 10,
    "india-private-placement": 10,
    "india-sm-reit": 1_000,  # ₹10 lakh: the SM REIT minimum
}
LAND_BORDER = {"AF", "BD", "BT", "CN", "MM", "NP", "PK"}


def sender_holding(units: int = 200_000, investor: Any = None) -> PartyFacts:
    lot = Lot(acquired_at=datetime(2024, 1, 1, tzinfo=UTC), amount=units)
    return make_sender(investor, balance=units, lots=(lot,))


def scenario(
    *,
    amount: int,
    receiver: PartyFacts | None = None,
    sender: PartyFacts | None = None,
    token_state: TokenStateFacts | None = None,
    transfer_type: TransferType = TransferType.SECONDARY,
    **token: Any,
) -> Facts:
    """Facts priced at ₹1,000 per unit with 1,000,000 units in issue and the shipped FATF lists."""
    token.setdefault("total_supply", 1_000_000)
    return make_facts(
        sender=sender if sender is not None else sender_holding(),
        receiver=receiver,
        token=make_token(**token),
        token_state=token_state or TokenStateFacts(holder_count=12, holder_count_by_category={"retail": 12}),
        amount=amount,
        transfer_type=transfer_type,
        countries=load_country_lists(),
    )


def decide(template: str, facts: Facts, now: datetime = NOW) -> Decision:
    return evaluate(load_template(template), facts, now)


def codes(decision: Decision) -> list[ReasonCode]:
    return [reason.code for reason in decision.reasons]


# -- the documents --------------------------------------------------------------------------------


def test_all_templates_are_shipped() -> None:
    assert list_templates() == TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_compiles_with_sources_and_date(name: str) -> None:
    policy = load_template(name)
    document = policy.document
    assert document.name == name
    assert document.jurisdiction == "IN"
    assert document.as_of <= NOW.date()
    assert all(len(spec.source) > 20 for spec in document.rules)
    assert {spec.rule for spec in document.rules} >= COMMON_RULES
    assert policy.content_hash.startswith("sha256:")
    currencies = {c.params_dump["currency"] for c in policy.rules if "currency" in c.params_dump}
    assert currencies == {"INR"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_reviews_land_border_receivers(name: str) -> None:
    press_note_3 = [
        c.params_dump
        for c in load_template(name).rules
        if c.spec.rule == "country_review" and c.params_dump["countries"]
    ]
    assert press_note_3 == [
        {
            "countries": sorted(LAND_BORDER),
            "include_fatf_increased_monitoring": False,
            "include_fatf_call_for_action_edd": False,
            "apply_to": "receiver",
        }
    ]


def test_unknown_template_is_not_found() -> None:
    with pytest.raises(NotFound):
        load_template("india-nonexistent")
    with pytest.raises(NotFound):
        load_template("../policies/india-aif")


def test_fatf_lists_are_dated_feb_2026() -> None:
    lists = load_country_lists()
    assert lists.as_of == date(2026, 2, 13)
    assert lists.call_for_action == {"KP", "IR"}
    assert lists.call_for_action_edd == {"MM"}
    assert len(lists.increased_monitoring) == 22
    assert {"PG", "KW", "VG", "NP"} <= lists.increased_monitoring
    assert not {"NG", "ZA", "HR", "TZ", "ML", "BF", "MZ"} & lists.increased_monitoring


# -- decisions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATES)
def test_ordinary_transfer_is_approved(name: str) -> None:
    decision = decide(name, scenario(amount=BASELINE_UNITS[name]))
    assert decision.status is Outcome.APPROVED, decision.reasons
    assert (decision.risk_score, decision.restriction_code) == (0, 0)


def test_201st_private_placement_holder_is_rejected() -> None:
    state = TokenStateFacts(holder_count=215, holder_count_by_category={"retail": 200, "qib": 15})
    decision = decide("india-private-placement", scenario(amount=10, token_state=state))
    assert decision.status is Outcome.REJECTED
    assert codes(decision) == [ReasonCode.MAX_HOLDERS_EXCEEDED]
    assert decision.restriction_code == RESTRICTION_CODES[ReasonCode.MAX_HOLDERS_EXCEEDED]


def test_qib_joins_a_full_private_placement() -> None:
    state = TokenStateFacts(holder_count=215, holder_count_by_category={"retail": 200, "qib": 15})
    receiver = make_receiver(make_investor("QIB Fund", type="entity", category="qib"))
    decision = decide("india-private-placement", scenario(amount=10, token_state=state, receiver=receiver))
    assert decision.status is Outcome.APPROVED


def aif_subscription(investor_overrides: dict[str, Any]) -> Facts:
    """A ₹50 lakh subscription (issuance of 5,000 units at ₹1,000) to a new investor."""
    receiver = make_receiver(make_investor("Meera Iyer", **investor_overrides))
    treasury = make_sender(make_investor("Fund Treasury", category="issuer"), balance=0)
    return scenario(amount=5_000, receiver=receiver, sender=treasury, transfer_type=TransferType.ISSUANCE)


def test_aif_retail_below_one_crore_is_rejected() -> None:
    decision = decide("india-aif", aif_subscription({"category": "retail"}))
    assert decision.status is Outcome.REJECTED
    assert codes(decision) == [ReasonCode.BELOW_MIN_INVESTMENT]
    assert "5,000,000.00 INR, below the minimum 10,000,000.00 INR" in decision.reasons[0].message


def test_aif_accredited_fifty_lakh_is_approved() -> None:
    accredited = {"category": "accredited", "accreditation_expires_at": NOW + timedelta(days=200)}
    decision = decide("india-aif", aif_subscription(accredited))
    assert decision.status is Outcome.APPROVED, decision.reasons


def test_aif_lapsed_accreditation_is_rejected() -> None:
    lapsed = {"category": "accredited", "accreditation_expires_at": NOW - timedelta(days=1)}
    decision = decide("india-aif", aif_subscription(lapsed))
    assert codes(decision) == [ReasonCode.ACCREDITATION_EXPIRED]


def test_designated_person_buying_in_closed_window_is_rejected() -> None:
    insider = make_investor("Rohan Mehta", designated_tokens=frozenset({TOKEN_ID}))
    window = TradingWindow(
        start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC), reason="Q3 results"
    )
    facts = scenario(amount=10, receiver=make_receiver(insider), trading_windows=(window,))
    decision = decide("india-listed-equity", facts)
    assert decision.status is Outcome.REJECTED
    assert codes(decision) == [ReasonCode.TRADING_WINDOW_CLOSED]
    assert decide("india-listed-equity", facts, datetime(2026, 4, 2, tzinfo=UTC)).status is Outcome.APPROVED


@pytest.mark.parametrize("name", TEMPLATES)
def test_transfer_to_pep_is_escalated(name: str) -> None:
    receiver = make_receiver(make_investor("Minister", pep=True))
    decision = decide(name, scenario(amount=BASELINE_UNITS[name], receiver=receiver))
    assert decision.status is Outcome.ESCALATED
    assert codes(decision) == [ReasonCode.PEP_REVIEW]
    assert decision.restriction_code == RESTRICTION_CODES[ReasonCode.PEP_REVIEW]


def test_nri_taking_six_percent_is_rejected() -> None:
    nri = make_investor("Anil Kapoor", category="nri", country="AE", nationality="IN")
    # 60,000 of 1,000,000 shares at ₹50 = ₹30 lakh, below the large-transfer review
    facts = scenario(amount=60_000, receiver=make_receiver(nri), price_per_unit=Decimal("50"))
    decision = decide("india-listed-equity", facts)
    assert decision.status is Outcome.REJECTED
    assert codes(decision) == [ReasonCode.MAX_OWNERSHIP_EXCEEDED]
    assert "6.00%" in decision.reasons[0].message


def test_fpi_above_ten_percent_is_escalated() -> None:
    fpi = make_investor("Global Fund", type="entity", category="fpi", country="SG", nationality="SG")
    facts = scenario(amount=110_000, receiver=make_receiver(fpi), price_per_unit=Decimal("40"))
    decision = decide("india-listed-equity", facts)
    assert decision.status is Outcome.ESCALATED
    assert codes(decision) == [ReasonCode.MAX_OWNERSHIP_EXCEEDED]


def test_sm_reit_holder_above_quarter_is_rejected_unless_manager() -> None:
    big = scenario(amount=250_001, sender=sender_holding(300_000), price_per_unit=Decimal("10"))
    assert codes(decide("india-sm-reit", big)) == [ReasonCode.MAX_OWNERSHIP_EXCEEDED]
    manager = make_receiver(make_investor("REIT Manager", type="entity", category="manager"))
    as_manager = scenario(
        amount=250_001, sender=sender_holding(300_000), receiver=manager, price_per_unit=Decimal("10")
    )
    assert decide("india-sm-reit", as_manager).status is Outcome.APPROVED


@pytest.mark.parametrize("name", TEMPLATES)
def test_receiver_resident_in_kp_is_rejected(name: str) -> None:
    receiver = make_receiver(make_investor("Kim", country="KP", nationality="KP"))
    decision = decide(name, scenario(amount=BASELINE_UNITS[name], receiver=receiver))
    assert decision.status is Outcome.REJECTED
    assert codes(decision) == [ReasonCode.COUNTRY_BLOCKED]


@pytest.mark.parametrize("name", TEMPLATES)
def test_land_border_buyer_is_escalated(name: str) -> None:
    receiver = make_receiver(make_investor("Li Wei", country="CN", nationality="CN"))
    decision = decide(name, scenario(amount=BASELINE_UNITS[name], receiver=receiver))
    assert decision.status is Outcome.ESCALATED
    assert codes(decision) == [ReasonCode.COUNTRY_REVIEW]


def test_missing_sanctions_evidence_fails_closed() -> None:
    facts = scenario(amount=10).model_copy(update={"sanctions": None})
    decision = decide("india-private-placement", facts)
    assert decision.status is Outcome.ESCALATED
    assert codes(decision) == [ReasonCode.EVIDENCE_UNAVAILABLE]
