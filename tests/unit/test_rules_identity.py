"""Identity rules: kyc_verified, wallet_bound, investor_category, accreditation_valid, pep_review."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from builders import (
    NOW,
    RECEIVER,
    SENDER,
    make_facts,
    make_investor,
    make_party,
    make_receiver,
    make_sender,
    run_rule,
)

from compliance_shield.domain.facts import Facts
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.rules import REGISTRY
from compliance_shield.domain.rules.registry import NoParams
from compliance_shield.domain.values import KycStatus, RuleResult, TransferType

PASS, FAIL, REVIEW, NA = RuleResult.PASS, RuleResult.FAIL, RuleResult.REVIEW, RuleResult.NOT_APPLICABLE
JAN_1 = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def receiver_with(**investor: Any) -> Facts:
    return make_facts(receiver=make_receiver(make_investor("Vikram Shah", **investor)))


def sender_with(**investor: Any) -> Facts:
    return make_facts(sender=make_sender(make_investor("Asha Rao", **investor)))


CASES = [
    # kyc_verified
    pytest.param("kyc_verified", {}, make_facts(), PASS, None, id="kyc-both-verified"),
    pytest.param("kyc_verified", {}, receiver_with(kyc_expires_at=None), PASS, None, id="kyc-no-expiry-on-file"),
    pytest.param(
        "kyc_verified",
        {},
        receiver_with(kyc_status=KycStatus.PENDING),
        FAIL,
        ReasonCode.KYC_NOT_VERIFIED,
        id="kyc-receiver-pending",
    ),
    pytest.param(
        "kyc_verified",
        {},
        sender_with(kyc_status=KycStatus.REJECTED),
        FAIL,
        ReasonCode.KYC_NOT_VERIFIED,
        id="kyc-sender-rejected",
    ),
    pytest.param(
        "kyc_verified",
        {},
        receiver_with(kyc_expires_at=JAN_1),
        FAIL,
        ReasonCode.KYC_EXPIRED,
        id="kyc-receiver-expired-date",
    ),
    pytest.param(
        "kyc_verified",
        {},
        receiver_with(kyc_status=KycStatus.EXPIRED, kyc_expires_at=JAN_1),
        FAIL,
        ReasonCode.KYC_EXPIRED,
        id="kyc-receiver-expired-status",
    ),
    pytest.param(
        "kyc_verified",
        {},
        make_facts(receiver=make_party(RECEIVER, None)),
        FAIL,
        ReasonCode.KYC_NOT_VERIFIED,
        id="kyc-receiver-without-investor",
    ),
    pytest.param(
        "kyc_verified",
        {},
        make_facts(
            sender=make_sender(make_investor(kyc_expires_at=JAN_1)),
            receiver=make_receiver(make_investor("Vikram Shah", kyc_status=KycStatus.PENDING)),
        ),
        FAIL,
        ReasonCode.KYC_NOT_VERIFIED,
        id="kyc-not-verified-outranks-expired",
    ),
    pytest.param(
        "kyc_verified",
        {},
        make_facts(sender=make_party(SENDER, None), transfer_type=TransferType.ISSUANCE),
        PASS,
        None,
        id="kyc-issuance-ignores-treasury",
    ),
    pytest.param(
        "kyc_verified",
        {},
        make_facts(receiver=make_party(RECEIVER, None), transfer_type=TransferType.REDEMPTION),
        PASS,
        None,
        id="kyc-redemption-ignores-issuer",
    ),
    # wallet_bound
    pytest.param("wallet_bound", {}, make_facts(), PASS, None, id="wallet-both-bound"),
    pytest.param(
        "wallet_bound",
        {},
        make_facts(sender=make_party(SENDER, None)),
        FAIL,
        ReasonCode.WALLET_NOT_BOUND,
        id="wallet-sender-unbound",
    ),
    pytest.param(
        "wallet_bound",
        {},
        make_facts(sender=make_party(SENDER, None), transfer_type=TransferType.ISSUANCE),
        PASS,
        None,
        id="wallet-issuance-treasury-unchecked",
    ),
    # investor_category
    pytest.param("investor_category", {"allowed": ["retail"]}, make_facts(), PASS, None, id="category-allowed"),
    pytest.param(
        "investor_category",
        {"allowed": ["qib", "accredited"]},
        make_facts(),
        FAIL,
        ReasonCode.CATEGORY_NOT_ALLOWED,
        id="category-receiver-refused",
    ),
    pytest.param(
        "investor_category",
        {"allowed": ["accredited"]},
        receiver_with(category="accredited"),
        PASS,
        None,
        id="category-sender-ignored-by-default",
    ),
    pytest.param(
        "investor_category",
        {"allowed": ["accredited"], "apply_to": "both"},
        receiver_with(category="accredited"),
        FAIL,
        ReasonCode.CATEGORY_NOT_ALLOWED,
        id="category-both-sender-refused",
    ),
    pytest.param(
        "investor_category",
        {"allowed": ["retail"]},
        make_facts(receiver=make_party(RECEIVER, None)),
        FAIL,
        ReasonCode.CATEGORY_NOT_ALLOWED,
        id="category-unknown-investor",
    ),
    pytest.param(
        "investor_category",
        {"allowed": ["qib"]},
        make_facts(transfer_type=TransferType.REDEMPTION),
        NA,
        None,
        id="category-redemption",
    ),
    # accreditation_valid
    pytest.param(
        "accreditation_valid",
        {},
        receiver_with(category="accredited", accreditation_expires_at=NOW + timedelta(days=30)),
        PASS,
        None,
        id="accreditation-current",
    ),
    pytest.param(
        "accreditation_valid",
        {},
        receiver_with(category="accredited", accreditation_expires_at=JAN_1),
        FAIL,
        ReasonCode.ACCREDITATION_EXPIRED,
        id="accreditation-expired",
    ),
    pytest.param(
        "accreditation_valid",
        {},
        receiver_with(category="accredited", accreditation_expires_at=NOW),
        FAIL,
        ReasonCode.ACCREDITATION_EXPIRED,
        id="accreditation-expires-now",
    ),
    pytest.param(
        "accreditation_valid",
        {},
        receiver_with(category="accredited"),
        FAIL,
        ReasonCode.ACCREDITATION_EXPIRED,
        id="accreditation-missing",
    ),
    pytest.param(
        "accreditation_valid",
        {"categories": ["accredited", "qib"]},
        receiver_with(category="qib"),
        FAIL,
        ReasonCode.ACCREDITATION_EXPIRED,
        id="accreditation-custom-category",
    ),
    pytest.param("accreditation_valid", {}, make_facts(), NA, None, id="accreditation-retail"),
    pytest.param(
        "accreditation_valid",
        {},
        make_facts(receiver=make_party(RECEIVER, None)),
        NA,
        None,
        id="accreditation-no-investor",
    ),
    # pep_review
    pytest.param("pep_review", {}, make_facts(), PASS, None, id="pep-none"),
    pytest.param("pep_review", {}, receiver_with(pep=True), REVIEW, ReasonCode.PEP_REVIEW, id="pep-receiver"),
    pytest.param("pep_review", {}, sender_with(pep=True), REVIEW, ReasonCode.PEP_REVIEW, id="pep-sender"),
    pytest.param(
        "pep_review",
        {},
        make_facts(sender=make_sender(make_investor(pep=True)), transfer_type=TransferType.ISSUANCE),
        PASS,
        None,
        id="pep-issuance-treasury-unchecked",
    ),
]


@pytest.mark.parametrize(("rule", "params", "facts", "result", "code"), CASES)
def test_identity_rule(
    rule: str, params: dict[str, Any], facts: Facts, result: RuleResult, code: ReasonCode | None
) -> None:
    trace = run_rule(rule, params, facts)
    assert (trace.result, trace.code) == (result, code), trace.message
    assert trace.message


def test_kyc_message_names_party_and_date() -> None:
    trace = run_rule("kyc_verified", {}, receiver_with(kyc_expires_at=JAN_1))
    assert trace.message == "receiver KYC expired on 2026-01-01"


def test_kyc_lists_every_problem() -> None:
    facts = make_facts(
        sender=make_sender(make_investor(kyc_expires_at=JAN_1)),
        receiver=make_receiver(make_investor("Vikram Shah", kyc_status=KycStatus.PENDING)),
    )
    trace = run_rule("kyc_verified", {}, facts)
    assert trace.details["problems"] == [
        {"party": "receiver", "code": "KYC_NOT_VERIFIED"},
        {"party": "sender", "code": "KYC_EXPIRED"},
    ]


def test_pep_review_names_both_parties() -> None:
    facts = make_facts(
        sender=make_sender(make_investor(pep=True)),
        receiver=make_receiver(make_investor("Vikram Shah", pep=True)),
    )
    trace = run_rule("pep_review", {}, facts)
    assert trace.details == {"parties": ["sender", "receiver"]}
    assert trace.message == "sender and receiver are politically exposed persons"


def test_accreditation_message_names_expiry() -> None:
    trace = run_rule("accreditation_valid", {}, receiver_with(category="accredited", accreditation_expires_at=JAN_1))
    assert trace.message == "receiver accreditation expired on 2026-01-01"


def test_registry_entry_is_callable_directly() -> None:
    definition = REGISTRY["wallet_bound"]
    outcome = definition.check(NoParams(), make_facts(receiver=make_party(RECEIVER, None)), NOW)
    assert outcome.code is ReasonCode.WALLET_NOT_BOUND
    assert outcome.details == {"unbound": [{"party": "receiver", "address": RECEIVER}]}
