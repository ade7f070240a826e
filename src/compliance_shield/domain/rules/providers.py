"""Rules on evidence from external providers: wallet risk (labels, identifications, KYT alerts)
and the external transaction-monitoring system (Marble).

Both read evidence gathered before evaluation. Missing evidence (``None``) is an ``error``
(EVIDENCE_UNAVAILABLE), so an unreachable provider can only escalate, never approve.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Literal

from pydantic import Field

from compliance_shield.domain.decision import RuleOutcome
from compliance_shield.domain.facts import Facts, MonitoringOutcome, RiskLevel, WalletRiskSignal
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.rules.identity import checked_parties, not_applicable, passed, unavailable
from compliance_shield.domain.rules.registry import RuleParams, rule
from compliance_shield.domain.values import RuleResult, TransferType

Verdict = Literal["pass", "review", "reject"]

# -- wallet_risk ----------------------------------------------------------------------------


def _default_reject_categories() -> list[str]:
    return ["sanctions", "darknet", "ransomware", "terrorist_financing", "child_abuse", "stolen_funds"]


def _default_review_categories() -> list[str]:
    return ["mixer", "scam", "fraud", "gambling", "high_risk_exchange"]


def _default_level_points() -> dict[RiskLevel, int]:
    return {"medium": 10}


def _severe() -> list[RiskLevel]:
    return ["severe"]


def _high() -> list[RiskLevel]:
    return ["high"]


class WalletRiskParams(RuleParams):
    #: a signal in one of these categories rejects the transfer, whatever its level
    reject_categories: list[str] = Field(default_factory=_default_reject_categories)
    #: a signal in one of these categories sends the transfer to review
    review_categories: list[str] = Field(default_factory=_default_review_categories)
    #: signal levels that reject / send to review regardless of category
    reject_levels: list[RiskLevel] = Field(default_factory=_severe)
    review_levels: list[RiskLevel] = Field(default_factory=_high)
    #: risk points added (without review) for remaining signals of these levels
    level_points: dict[RiskLevel, int] = Field(default_factory=_default_level_points)
    #: which addresses count: both parties', or only the receiving one
    apply_to: Literal["receiver", "both"] = "both"


def _verdict(signal: WalletRiskSignal, params: WalletRiskParams) -> Verdict:
    category = signal.category.lower()
    if category in params.reject_categories or signal.level in params.reject_levels:
        return "reject"
    if category in params.review_categories or signal.level in params.review_levels:
        return "review"
    return "pass"


def _describe(signal: WalletRiskSignal) -> str:
    name = f" ({signal.name})" if signal.name else ""
    return f"{signal.address} {signal.kind} {signal.category}{name} at level {signal.level} from {signal.source}"


@rule(
    "wallet_risk",
    WalletRiskParams,
    "Wallet-risk signals (built-in labels, provider identifications, KYT alerts) map to pass, review or "
    "reject by category and level; pending KYT screening sends the transfer to review.",
)
def wallet_risk(params: WalletRiskParams, facts: Facts, now: datetime) -> RuleOutcome:
    evidence = facts.wallet_risk
    if evidence is None:
        return unavailable("wallet-risk screening is unavailable")
    if (
        not evidence.signals
        and evidence.kyt != "pending"
        and not (params.apply_to == "receiver" and facts.transfer.transfer_type is TransferType.REDEMPTION)
    ):
        return _no_signal(evidence.sources)  # the common case: some address screened, nothing found
    sides = [(side, party.address) for side, party in checked_parties(facts)]
    if params.apply_to == "receiver":
        sides = [(side, address) for side, address in sides if side == "receiver"]
    if not sides:
        return not_applicable("no address of this transfer is subject to wallet screening")
    addresses = {address.lower() if address.startswith("0x") else address for _, address in sides}
    # a signal about a screened address counts, and so does one whose spelling matches neither
    # address (fail closed: a provider may spell an address its own way)
    judged = [
        (signal, _verdict(signal, params))
        for signal in evidence.signals
        if _key(signal.address) in addresses or not _matches_any(signal, facts)
    ]
    if not judged and evidence.kyt != "pending":
        return _no_signal(evidence.sources)
    details = {
        "signals": [{"verdict": verdict, **signal.model_dump(mode="json")} for signal, verdict in judged],
        "sources": list(evidence.sources),
        "kyt": evidence.kyt,
    }
    for verdict, result, code in (
        ("reject", RuleResult.FAIL, ReasonCode.WALLET_RISK_HIGH),
        ("review", RuleResult.REVIEW, ReasonCode.WALLET_RISK_REVIEW),
    ):
        hits = [signal for signal, found in judged if found == verdict]
        if hits:
            return RuleOutcome(result=result, code=code, message="; ".join(_describe(s) for s in hits), details=details)
    if evidence.kyt == "pending":
        return RuleOutcome(
            result=RuleResult.REVIEW,
            code=ReasonCode.WALLET_RISK_PENDING,
            message="transaction screening (KYT) has not finished for this transfer",
            details=details,
        )
    return RuleOutcome(
        result=RuleResult.PASS,
        message="wallet-risk signals below review level: " + "; ".join(_describe(s) for s, _ in judged),
        details=details,
        risk_points=sum(params.level_points.get(s.level, 0) for s, _ in judged),
    )


@functools.lru_cache(maxsize=64)
def _no_signal(sources: tuple[str, ...]) -> RuleOutcome:
    return passed("no wallet-risk signal for the transfer's addresses", sources=sources)


def _key(address: str) -> str:
    return address.lower() if address.startswith("0x") else address


def _matches_any(signal: WalletRiskSignal, facts: Facts) -> bool:
    key = _key(signal.address)
    return key in (_key(facts.transfer.from_address), _key(facts.transfer.to_address))


# -- external_monitoring --------------------------------------------------------------------


def _default_outcomes() -> dict[MonitoringOutcome, Verdict]:
    return {"approve": "pass", "review": "review", "block_and_review": "review", "decline": "reject"}


class ExternalMonitoringParams(RuleParams):
    #: what each monitoring outcome means here
    outcomes: dict[MonitoringOutcome, Verdict] = Field(default_factory=_default_outcomes)
    #: a score at or above this sends the transfer to review (whatever the outcome)
    review_score: int | None = Field(default=None, ge=0)
    #: a score at or above this rejects the transfer (whatever the outcome)
    reject_score: int | None = Field(default=None, ge=0)


@rule(
    "external_monitoring",
    ExternalMonitoringParams,
    "The external transaction-monitoring decision (Marble outcome and score) maps to pass, review or reject; "
    "not applicable when no monitoring system is configured.",
)
def external_monitoring(params: ExternalMonitoringParams, facts: Facts, now: datetime) -> RuleOutcome:
    evidence = facts.monitoring
    if evidence is None:
        return unavailable("the transaction-monitoring system did not answer")
    if not evidence.configured:
        return not_applicable("no transaction-monitoring system is configured")
    if evidence.outcome is None:
        return unavailable("the transaction-monitoring system answered without an outcome")
    verdict: Verdict = params.outcomes.get(evidence.outcome, "review")
    score = evidence.score
    if score is not None and params.reject_score is not None and score >= params.reject_score:
        verdict = "reject"
    elif score is not None and params.review_score is not None and score >= params.review_score and verdict == "pass":
        verdict = "review"
    details = {
        "provider": evidence.provider,
        "decision_id": evidence.decision_id,
        "outcome": evidence.outcome,
        "score": score,
        "scenario": evidence.scenario,
        "verdict": verdict,
    }
    message = f"{evidence.provider or 'monitoring'} outcome {evidence.outcome}, score {score}"
    if verdict == "reject":
        return RuleOutcome(
            result=RuleResult.FAIL, code=ReasonCode.MONITORING_DECLINED, message=message, details=details
        )
    if verdict == "review":
        return RuleOutcome(
            result=RuleResult.REVIEW, code=ReasonCode.MONITORING_REVIEW, message=message, details=details
        )
    return RuleOutcome(result=RuleResult.PASS, message=message, details=details)
