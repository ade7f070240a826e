"""``wallet_risk`` and ``external_monitoring``: table-driven over the evidence they read."""

from __future__ import annotations

from typing import Any

import pytest
from builders import RECEIVER, SENDER, make_facts, run_rule

from compliance_shield.domain.facts import Facts, MonitoringEvidence, WalletRiskEvidence, WalletRiskSignal
from compliance_shield.domain.values import RuleResult, TransferType


def signal(category: str, level: str, address: str = RECEIVER, **extra: Any) -> WalletRiskSignal:
    return WalletRiskSignal(address=address, source="test", category=category, level=level, **extra)  # type: ignore[arg-type]


def with_risk(*signals: WalletRiskSignal, kyt: str = "not_requested", **facts: Any) -> Facts:
    evidence = WalletRiskEvidence(signals=signals, sources=("wallet_labels",), kyt=kyt)  # type: ignore[arg-type]
    return make_facts(**facts).model_copy(update={"wallet_risk": evidence})


@pytest.mark.parametrize(
    ("signals", "kyt", "params", "result", "code"),
    [
        ((), "not_requested", {}, RuleResult.PASS, None),
        ((signal("exchange", "low"),), "not_requested", {}, RuleResult.PASS, None),
        ((signal("darknet", "high"),), "not_requested", {}, RuleResult.FAIL, "WALLET_RISK_HIGH"),
        ((signal("sanctions", "severe", kind="identification"),), "complete", {}, RuleResult.FAIL, "WALLET_RISK_HIGH"),
        ((signal("mixer", "medium"),), "not_requested", {}, RuleResult.REVIEW, "WALLET_RISK_REVIEW"),
        ((signal("gambling", "high", kind="alert"),), "complete", {}, RuleResult.REVIEW, "WALLET_RISK_REVIEW"),
        ((signal("unknown", "severe", kind="alert"),), "complete", {}, RuleResult.FAIL, "WALLET_RISK_HIGH"),
        ((), "pending", {}, RuleResult.REVIEW, "WALLET_RISK_PENDING"),
        ((signal("darknet", "high"),), "pending", {}, RuleResult.FAIL, "WALLET_RISK_HIGH"),
        ((signal("mixer", "medium"),), "not_requested", {"review_categories": []}, RuleResult.PASS, None),
        (
            (signal("exchange", "low"),),
            "not_requested",
            {"reject_categories": ["exchange"]},
            RuleResult.FAIL,
            "WALLET_RISK_HIGH",
        ),
        ((signal("scam", "low", address=SENDER),), "not_requested", {"apply_to": "receiver"}, RuleResult.PASS, None),
        ((signal("scam", "low", address=SENDER),), "not_requested", {}, RuleResult.REVIEW, "WALLET_RISK_REVIEW"),
        # a signal about an address spelled unlike either party still counts (fail closed)
        (
            (signal("darknet", "low", address="0x" + "ff" * 20),),
            "not_requested",
            {"apply_to": "receiver"},
            RuleResult.FAIL,
            "WALLET_RISK_HIGH",
        ),
    ],
)
def test_wallet_risk(
    signals: tuple[WalletRiskSignal, ...], kyt: str, params: dict[str, Any], result: RuleResult, code: str | None
) -> None:
    trace = run_rule("wallet_risk", params, with_risk(*signals, kyt=kyt))
    assert trace.result is result, trace.message
    assert (trace.code.value if trace.code else None) == code


def test_wallet_risk_evidence_missing_is_an_error() -> None:
    trace = run_rule("wallet_risk", {}, make_facts(wallet_risk=None))
    assert trace.result is RuleResult.ERROR
    assert trace.code is not None
    assert trace.code.value == "EVIDENCE_UNAVAILABLE"


def test_wallet_risk_adds_points_for_signals_below_review() -> None:
    trace = run_rule("wallet_risk", {"level_points": {"medium": 15}}, with_risk(signal("exchange", "medium")))
    assert trace.result is RuleResult.PASS
    assert trace.risk_points == 15
    assert trace.details["signals"][0]["verdict"] == "pass"


def test_wallet_risk_names_the_signal_and_its_source() -> None:
    trace = run_rule("wallet_risk", {}, with_risk(signal("darknet", "high", name="Hydra")))
    assert "darknet" in trace.message
    assert "Hydra" in trace.message
    assert "test" in trace.message


def test_wallet_risk_on_issuance_screens_only_the_receiver() -> None:
    facts = with_risk(signal("mixer", "high", address=SENDER), transfer_type=TransferType.ISSUANCE)
    assert run_rule("wallet_risk", {}, facts).result is RuleResult.PASS


def monitoring(outcome: str | None, score: int | None = 10, configured: bool = True) -> Facts:
    evidence = MonitoringEvidence(
        configured=configured,
        provider="marble",
        decision_id="d-1",
        outcome=outcome,  # type: ignore[arg-type]
        score=score,
    )
    return make_facts().model_copy(update={"monitoring": evidence})


@pytest.mark.parametrize(
    ("outcome", "score", "params", "result", "code"),
    [
        ("approve", 0, {}, RuleResult.PASS, None),
        ("review", 40, {}, RuleResult.REVIEW, "MONITORING_REVIEW"),
        ("block_and_review", 60, {}, RuleResult.REVIEW, "MONITORING_REVIEW"),
        ("decline", 90, {}, RuleResult.FAIL, "MONITORING_DECLINED"),
        ("approve", 75, {"review_score": 70}, RuleResult.REVIEW, "MONITORING_REVIEW"),
        ("approve", 95, {"reject_score": 90}, RuleResult.FAIL, "MONITORING_DECLINED"),
        ("review", 10, {"outcomes": {"review": "pass"}}, RuleResult.PASS, None),
        ("block_and_review", 10, {"outcomes": {"block_and_review": "reject"}}, RuleResult.FAIL, "MONITORING_DECLINED"),
    ],
)
def test_external_monitoring(
    outcome: str, score: int, params: dict[str, Any], result: RuleResult, code: str | None
) -> None:
    trace = run_rule("external_monitoring", params, monitoring(outcome, score))
    assert trace.result is result, trace.message
    assert (trace.code.value if trace.code else None) == code


def test_external_monitoring_without_a_configured_system_does_not_apply() -> None:
    trace = run_rule("external_monitoring", {}, monitoring(None, None, configured=False))
    assert trace.result is RuleResult.NOT_APPLICABLE


def test_external_monitoring_that_did_not_answer_is_an_error() -> None:
    assert run_rule("external_monitoring", {}, make_facts(monitoring=None)).result is RuleResult.ERROR
    assert run_rule("external_monitoring", {}, monitoring(None)).result is RuleResult.ERROR


def test_kyc_provider_without_an_answer_escalates_unless_another_party_fails() -> None:
    from compliance_shield.domain.facts import ProviderKyc
    from compliance_shield.domain.values import KycStatus

    facts = make_facts()
    assert facts.sender.investor is not None
    assert facts.receiver.investor is not None
    unknown = ProviderKyc(investor_id=facts.receiver.investor.id, provider="ballerine", reference="eu-1", status=None)
    trace = run_rule("kyc_verified", None, facts.model_copy(update={"kyc_checks": (unknown,)}))
    assert trace.result is RuleResult.ERROR
    assert trace.code is not None
    assert trace.code.value == "EVIDENCE_UNAVAILABLE"

    pending_sender = facts.sender.model_copy(
        update={"investor": facts.sender.investor.model_copy(update={"kyc_status": KycStatus.PENDING})}
    )
    failing = facts.model_copy(update={"kyc_checks": (unknown,), "sender": pending_sender})
    assert run_rule("kyc_verified", None, failing).result is RuleResult.FAIL
