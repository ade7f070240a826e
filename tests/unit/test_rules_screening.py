"""Screening rules: country_blocked, country_review, sanctioned_address, travel_rule,
large_transfer_review."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from builders import (
    RECEIVER,
    SENDER,
    make_facts,
    make_investor,
    make_party,
    make_receiver,
    make_sender,
    make_token,
    one_rule_policy,
    run_rule,
)

from compliance_shield.domain.facts import (
    Facts,
    SanctionsEvidence,
    SanctionsHit,
    TravelRuleData,
    TravelRuleParty,
)
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.values import RuleResult, TransferType
from compliance_shield.errors import PolicyInvalid

PASS, FAIL, REVIEW = RuleResult.PASS, RuleResult.FAIL, RuleResult.REVIEW
NA, ERROR = RuleResult.NOT_APPLICABLE, RuleResult.ERROR
PN3 = ["AF", "BD", "BT", "CN", "MM", "NP", "PK"]
TRAVEL = {"threshold": "85000", "currency": "INR"}
LARGE = {"threshold": "5000000", "currency": "INR"}


def receiver_from(country: str, nationality: str | None = None) -> Facts:
    investor = make_investor("Vikram Shah", country=country, nationality=nationality or country)
    return make_facts(receiver=make_receiver(investor))


def sender_from(country: str) -> Facts:
    return make_facts(sender=make_sender(make_investor(country=country, nationality=country)))


def sanctioned(address: str) -> SanctionsEvidence:
    hit = SanctionsHit(address=address, source="OFAC SDN", entity="Lazarus Group", list_version="2026-02-20")
    return SanctionsEvidence(hits=(hit,), list_versions=("2026-02-20",))


def travel(originator: TravelRuleParty | None, beneficiary: TravelRuleParty | None) -> TravelRuleData:
    return TravelRuleData(originator=originator, beneficiary=beneficiary)


FULL = TravelRuleParty(name="Asha Rao", account=SENDER)

CASES = [
    # country_blocked
    pytest.param("country_blocked", {}, make_facts(), PASS, None, id="blocked-none"),
    pytest.param(
        "country_blocked",
        {},
        receiver_from("KP"),
        FAIL,
        ReasonCode.COUNTRY_BLOCKED,
        id="blocked-fatf-receiver",
    ),
    pytest.param(
        "country_blocked",
        {},
        receiver_from("AE", nationality="IR"),
        FAIL,
        ReasonCode.COUNTRY_BLOCKED,
        id="blocked-fatf-nationality",
    ),
    pytest.param(
        "country_blocked",
        {"countries": ["RU"], "include_fatf_call_for_action": False},
        sender_from("RU"),
        FAIL,
        ReasonCode.COUNTRY_BLOCKED,
        id="blocked-policy-list-sender",
    ),
    pytest.param(
        "country_blocked",
        {"include_fatf_call_for_action": False},
        receiver_from("KP"),
        PASS,
        None,
        id="blocked-fatf-excluded",
    ),
    pytest.param(
        "country_blocked",
        {},
        make_facts(countries=None),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="blocked-lists-unavailable",
    ),
    pytest.param(
        "country_blocked",
        {"countries": ["RU"], "include_fatf_call_for_action": False},
        make_facts(countries=None),
        PASS,
        None,
        id="blocked-policy-only-needs-no-lists",
    ),
    pytest.param(
        "country_blocked",
        {"countries": ["RU"]},
        make_facts(receiver=make_receiver(make_investor("Ivan", country="RU")), countries=None),
        FAIL,
        ReasonCode.COUNTRY_BLOCKED,
        id="blocked-policy-hit-beats-missing-lists",
    ),
    pytest.param(
        "country_blocked",
        {},
        make_facts(sender=make_sender(make_investor(country="KP")), transfer_type=TransferType.ISSUANCE),
        PASS,
        None,
        id="blocked-issuance-treasury-unchecked",
    ),
    pytest.param(
        "country_blocked",
        {},
        make_facts(sender=make_party(SENDER, None), receiver=make_party(RECEIVER, None)),
        NA,
        None,
        id="blocked-no-investors",
    ),
    # country_review
    pytest.param("country_review", {"countries": PN3}, make_facts(), PASS, None, id="review-none"),
    pytest.param(
        "country_review",
        {"countries": PN3},
        receiver_from("CN"),
        REVIEW,
        ReasonCode.COUNTRY_REVIEW,
        id="review-land-border",
    ),
    pytest.param("country_review", {}, sender_from("KE"), REVIEW, ReasonCode.COUNTRY_REVIEW, id="review-fatf-grey"),
    pytest.param("country_review", {}, receiver_from("MM"), REVIEW, ReasonCode.COUNTRY_REVIEW, id="review-fatf-edd"),
    pytest.param(
        "country_review",
        {"include_fatf_increased_monitoring": False},
        sender_from("KE"),
        PASS,
        None,
        id="review-grey-excluded",
    ),
    pytest.param(
        "country_review",
        {
            "countries": PN3,
            "include_fatf_increased_monitoring": False,
            "include_fatf_call_for_action_edd": False,
            "apply_to": "receiver",
        },
        sender_from("CN"),
        PASS,
        None,
        id="review-receiver-only-ignores-seller",
    ),
    pytest.param(
        "country_review",
        {},
        make_facts(countries=None),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="review-lists-unavailable",
    ),
    pytest.param(
        "country_review",
        {
            "countries": PN3,
            "include_fatf_increased_monitoring": False,
            "include_fatf_call_for_action_edd": False,
        },
        make_facts(countries=None),
        PASS,
        None,
        id="review-policy-only-needs-no-lists",
    ),
    pytest.param(
        "country_review",
        {},
        make_facts(receiver=make_party(RECEIVER, None), transfer_type=TransferType.ISSUANCE),
        NA,
        None,
        id="review-no-investor",
    ),
    # sanctioned_address
    pytest.param("sanctioned_address", {}, make_facts(), PASS, None, id="sanctions-clean"),
    pytest.param(
        "sanctioned_address",
        {},
        make_facts(sanctions=sanctioned(RECEIVER)),
        FAIL,
        ReasonCode.SANCTIONED_ADDRESS,
        id="sanctions-receiver-hit",
    ),
    pytest.param(
        "sanctioned_address",
        {},
        make_facts(sanctions=sanctioned(SENDER.upper().replace("0X", "0x"))),
        FAIL,
        ReasonCode.SANCTIONED_ADDRESS,
        id="sanctions-evm-case-insensitive",
    ),
    pytest.param(
        "sanctioned_address",
        {},
        make_facts(sanctions=sanctioned(SENDER), transfer_type=TransferType.ISSUANCE),
        FAIL,
        ReasonCode.SANCTIONED_ADDRESS,
        id="sanctions-checks-treasury-too",
    ),
    pytest.param(
        "sanctioned_address",
        {},
        make_facts(sanctions=sanctioned("bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh")),
        FAIL,
        ReasonCode.SANCTIONED_ADDRESS,
        id="sanctions-unmatched-hit-still-fails",
    ),
    pytest.param(
        "sanctioned_address",
        {},
        make_facts(sanctions=None),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="sanctions-unavailable",
    ),
    # travel_rule (price 1,000 INR per unit)
    pytest.param("travel_rule", TRAVEL, make_facts(amount=85), PASS, None, id="travel-complete-at-threshold"),
    pytest.param(
        "travel_rule",
        TRAVEL,
        make_facts(amount=84, travel_rule=travel(None, None)),
        PASS,
        None,
        id="travel-below-threshold",
    ),
    pytest.param(
        "travel_rule",
        TRAVEL,
        make_facts(amount=85, travel_rule=travel(FULL, TravelRuleParty(name="Vikram Shah"))),
        FAIL,
        ReasonCode.TRAVEL_RULE_DATA_MISSING,
        id="travel-beneficiary-account-missing",
    ),
    pytest.param(
        "travel_rule",
        {**TRAVEL, "required_fields": ["name", "account", "national_id"]},
        make_facts(amount=100),
        FAIL,
        ReasonCode.TRAVEL_RULE_DATA_MISSING,
        id="travel-extra-field-required",
    ),
    pytest.param(
        "travel_rule",
        {"threshold": "0", "currency": "EUR"},
        make_facts(amount=1, travel_rule=travel(FULL, None)),
        FAIL,
        ReasonCode.TRAVEL_RULE_DATA_MISSING,
        id="travel-zero-threshold-needs-no-price",
    ),
    pytest.param(
        "travel_rule",
        TRAVEL,
        make_facts(token=make_token(price_per_unit=None)),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="travel-no-price",
    ),
    pytest.param(
        "travel_rule",
        TRAVEL,
        make_facts(token=make_token(price_currency="USD")),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="travel-currency-mismatch",
    ),
    # large_transfer_review
    pytest.param("large_transfer_review", LARGE, make_facts(amount=4_999), PASS, None, id="large-below"),
    pytest.param(
        "large_transfer_review",
        LARGE,
        make_facts(amount=5_000),
        REVIEW,
        ReasonCode.LARGE_TRANSFER_REVIEW,
        id="large-at-threshold",
    ),
    pytest.param(
        "large_transfer_review",
        LARGE,
        make_facts(token=make_token(price_per_unit=None)),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="large-no-price",
    ),
    pytest.param(
        "large_transfer_review",
        LARGE,
        make_facts(token=make_token(price_currency=None)),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="large-no-currency",
    ),
]


@pytest.mark.parametrize(("rule", "params", "facts", "result", "code"), CASES)
def test_screening_rule(
    rule: str, params: dict[str, Any], facts: Facts, result: RuleResult, code: ReasonCode | None
) -> None:
    trace = run_rule(rule, params, facts)
    assert (trace.result, trace.code) == (result, code), trace.message
    assert trace.message


def test_country_hit_details_name_field_and_list() -> None:
    trace = run_rule("country_blocked", {}, receiver_from("AE", nationality="IR"))
    assert trace.details["hits"] == [
        {"party": "receiver", "field": "nationality", "country": "IR", "list": "FATF call-for-action"}
    ]
    assert trace.details["lists_as_of"] == "2026-02-13"


def test_sanctions_details_name_address_source_version_entity() -> None:
    trace = run_rule("sanctioned_address", {}, make_facts(sanctions=sanctioned(RECEIVER)))
    assert trace.details["hits"] == [
        {
            "party": "receiver",
            "address": RECEIVER,
            "source": "OFAC SDN",
            "list_version": "2026-02-20",
            "entity": "Lazarus Group",
        }
    ]
    assert trace.message == f"receiver address {RECEIVER} is on OFAC SDN (2026-02-20) as Lazarus Group"


def test_travel_rule_names_missing_fields() -> None:
    facts = make_facts(amount=100, travel_rule=travel(TravelRuleParty(name="  "), None))
    trace = run_rule("travel_rule", TRAVEL, facts)
    assert trace.details["missing"] == [
        "originator.name",
        "originator.account",
        "beneficiary.name",
        "beneficiary.account",
    ]


def test_value_uses_decimals_and_price() -> None:
    token = make_token(decimals=2, price_per_unit=Decimal("50000"))  # 100 base units = 1 unit
    trace = run_rule("large_transfer_review", LARGE, make_facts(token=token, amount=10_000))
    assert trace.result is REVIEW
    assert trace.message == "transfer value 5,000,000.00 INR is at or above 5,000,000.00 INR"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"countries": ["in"]}, "rules[0].params.countries[0]"),
        ({"threshold": "-1", "currency": "INR"}, "rules[0].params.threshold"),
        (
            {"threshold": "1", "currency": "INR", "required_fields": ["email"]},
            "rules[0].params.required_fields[0]",
        ),
    ],
)
def test_bad_screening_params_are_rejected(params: dict[str, Any], field: str) -> None:
    rule = "country_blocked" if "countries" in params else "travel_rule"
    with pytest.raises(PolicyInvalid) as caught:
        one_rule_policy(rule, params)
    assert field in [e["field"] for e in caught.value.errors]


def test_unmatched_sanctions_hit_is_attributed_to_screening() -> None:
    address = "TQ4ge2gXDTaunGMhHvE2nHhGwJ3CFGvwDS"
    trace = run_rule("sanctioned_address", {}, make_facts(sanctions=sanctioned(address)))
    assert trace.details["hits"][0]["party"] == "screened"
    assert trace.details["hits"][0]["address"] == address
