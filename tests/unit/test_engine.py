"""The combination formula of ``evaluate`` (engine docstring, architecture §3).

Most cases use scripted rules — compiled rules whose check returns a fixed outcome — so each
case states exactly what every rule concluded; the last cases run real catalogue rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from builders import NOW, make_facts, make_investor, make_receiver, make_token, policy_document

from compliance_shield.domain.decision import Decision, RuleOutcome, RuleTrace
from compliance_shield.domain.engine import ENGINE_VERSION, evaluate
from compliance_shield.domain.facts import Facts
from compliance_shield.domain.policy import (
    CompiledPolicy,
    CompiledRule,
    PolicyDocument,
    RuleSpec,
    compile_policy,
)
from compliance_shield.domain.reasons import RESTRICTION_CODES, ReasonCode
from compliance_shield.domain.rules.registry import NoParams, RuleDefinition
from compliance_shield.domain.values import Outcome, RuleResult

R = ReasonCode


@dataclass(frozen=True)
class Script:
    """What a scripted rule concludes (or raises), and how its spec treats it."""

    result: RuleResult
    code: ReasonCode | None = None
    points: int = 0  # the rule's own risk points (used on pass)
    raises: Exception | None = None
    spec: tuple[tuple[str, Any], ...] = ()


def ok(points: int = 0) -> Script:
    return Script(RuleResult.PASS, points=points)


def fail(code: ReasonCode, **spec: Any) -> Script:
    return Script(RuleResult.FAIL, code, spec=tuple(spec.items()))


def review(code: ReasonCode, **spec: Any) -> Script:
    return Script(RuleResult.REVIEW, code, spec=tuple(spec.items()))


def error(code: ReasonCode | None = R.EVIDENCE_UNAVAILABLE) -> Script:
    return Script(RuleResult.ERROR, code)


NA = Script(RuleResult.NOT_APPLICABLE)


def scripted_rule(index: int, script: Script) -> CompiledRule:
    def check(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
        if script.raises is not None:
            raise script.raises
        return RuleOutcome(result=script.result, code=script.code, risk_points=script.points)

    name = f"scripted_{index}"
    spec = RuleSpec(rule=name, source="test script", **dict(script.spec))
    return CompiledRule(spec, RuleDefinition(name, NoParams, check, "scripted"), NoParams(), {})


def run(*scripts: Script, threshold: int = 70) -> Decision:
    document = PolicyDocument.model_validate(policy_document({"rule": "token_paused"}, escalation_threshold=threshold))
    rules = tuple(scripted_rule(i, s) for i, s in enumerate(scripts))
    return evaluate(CompiledPolicy(document, rules, "sha256:test"), make_facts(), NOW)


CASES = [
    pytest.param([ok(), NA], Outcome.APPROVED, 0, [], 0, id="all-pass"),
    pytest.param([NA], Outcome.APPROVED, 0, [], 0, id="only-not-applicable"),
    pytest.param(
        [review(R.PEP_REVIEW), fail(R.TOKEN_PAUSED)],
        Outcome.REJECTED,
        100,
        [R.PEP_REVIEW, R.TOKEN_PAUSED],
        RESTRICTION_CODES[R.TOKEN_PAUSED],
        id="fail-beats-review",
    ),
    pytest.param(
        [error(), fail(R.LOCKUP_ACTIVE)],
        Outcome.REJECTED,
        100,
        [R.EVIDENCE_UNAVAILABLE, R.LOCKUP_ACTIVE],
        RESTRICTION_CODES[R.LOCKUP_ACTIVE],
        id="fail-beats-error",
    ),
    pytest.param(
        [fail(R.WALLET_FROZEN), fail(R.TOKEN_PAUSED)],
        Outcome.REJECTED,
        100,
        [R.WALLET_FROZEN, R.TOKEN_PAUSED],
        RESTRICTION_CODES[R.WALLET_FROZEN],
        id="first-fail-names-the-restriction-score-capped",
    ),
    pytest.param(
        [ok(), error()],
        Outcome.ESCALATED,
        50,
        [R.EVIDENCE_UNAVAILABLE],
        RESTRICTION_CODES[R.EVIDENCE_UNAVAILABLE],
        id="error-escalates",
    ),
    pytest.param(
        [error(code=None)],
        Outcome.ESCALATED,
        50,
        [R.EVIDENCE_UNAVAILABLE],
        RESTRICTION_CODES[R.EVIDENCE_UNAVAILABLE],
        id="error-without-code",
    ),
    pytest.param(
        [review(R.COUNTRY_REVIEW), error()],
        Outcome.ESCALATED,
        90,
        [R.COUNTRY_REVIEW, R.EVIDENCE_UNAVAILABLE],
        RESTRICTION_CODES[R.COUNTRY_REVIEW],
        id="first-review-or-error-names-the-restriction",
    ),
    pytest.param(
        [fail(R.MAX_OWNERSHIP_EXCEEDED, on_fail="review")],
        Outcome.ESCALATED,
        40,
        [R.MAX_OWNERSHIP_EXCEEDED],
        RESTRICTION_CODES[R.MAX_OWNERSHIP_EXCEEDED],
        id="on-fail-review",
    ),
    pytest.param(
        [review(R.PEP_REVIEW, risk_points=10)],
        Outcome.ESCALATED,
        10,
        [R.PEP_REVIEW],
        RESTRICTION_CODES[R.PEP_REVIEW],
        id="spec-risk-points-override-default",
    ),
    pytest.param(
        [ok(30), ok(39)],
        Outcome.APPROVED,
        69,
        [],
        0,
        id="risk-below-threshold",
    ),
    pytest.param(
        [ok(30), ok(40)],
        Outcome.ESCALATED,
        70,
        [R.RISK_SCORE_THRESHOLD],
        RESTRICTION_CODES[R.RISK_SCORE_THRESHOLD],
        id="risk-at-threshold",
    ),
    pytest.param(
        [ok(80), ok(80)],
        Outcome.ESCALATED,
        100,
        [R.RISK_SCORE_THRESHOLD],
        RESTRICTION_CODES[R.RISK_SCORE_THRESHOLD],
        id="risk-capped-at-100",
    ),
    pytest.param(
        [ok(), Script(RuleResult.PASS, raises=ZeroDivisionError("boom"))],
        Outcome.ESCALATED,
        50,
        [R.RULE_ERROR],
        RESTRICTION_CODES[R.RULE_ERROR],
        id="raising-rule-is-an-error-not-an-approval",
    ),
]


@pytest.mark.parametrize(("scripts", "status", "score", "reasons", "restriction"), CASES)
def test_combination(
    scripts: list[Script], status: Outcome, score: int, reasons: list[ReasonCode], restriction: int
) -> None:
    decision = run(*scripts)
    assert decision.status is status
    assert decision.risk_score == score
    assert [r.code for r in decision.reasons] == reasons
    assert decision.restriction_code == restriction
    assert decision.engine_version == ENGINE_VERSION
    assert len(decision.rules) == len(scripts)


def test_threshold_is_the_policy_s() -> None:
    assert run(ok(30), threshold=30).status is Outcome.ESCALATED
    assert run(ok(30), threshold=31).status is Outcome.APPROVED


def test_on_fail_review_is_traced_as_review() -> None:
    (trace,) = run(fail(R.MAX_OWNERSHIP_EXCEEDED, on_fail="review")).rules
    assert (trace.result, trace.code, trace.risk_points) == (RuleResult.REVIEW, R.MAX_OWNERSHIP_EXCEEDED, 40)


def test_raising_rule_message_names_the_exception() -> None:
    decision = run(Script(RuleResult.PASS, raises=KeyError("nri")))
    (trace,) = decision.rules
    assert trace.result is RuleResult.ERROR
    assert trace.message == "rule raised KeyError: 'nri'"


def test_default_message_comes_from_the_code() -> None:
    (trace,) = run(fail(R.TOKEN_PAUSED)).rules
    assert trace.message == "The token is paused"


def test_real_rules_trace_their_parameters() -> None:
    policy = compile_policy(
        policy_document(
            {"rule": "token_paused"},
            {"rule": "pep_review"},
            {"rule": "max_balance", "params": {"max_amount": 5}},
        )
    )
    facts = make_facts(token=make_token(paused=True), receiver=make_receiver(make_investor("Minister", pep=True)))
    decision = evaluate(policy, facts, NOW)
    assert decision.status is Outcome.REJECTED
    assert [(t.rule, t.result) for t in decision.rules] == [
        ("token_paused", RuleResult.FAIL),
        ("pep_review", RuleResult.REVIEW),
        ("max_balance", RuleResult.FAIL),
    ]
    assert decision.rules[2].params == {"max_amount": "5"}  # amounts are decimal strings
    assert decision.rules[2].details == {"resulting_balance": "10"}
    assert decision.risk_score == 100


def test_evaluate_is_deterministic() -> None:
    policy = compile_policy(policy_document({"rule": "pep_review"}, {"rule": "kyc_verified"}))
    facts = make_facts(receiver=make_receiver(make_investor("Minister", pep=True)))
    assert evaluate(policy, facts, NOW) == evaluate(policy, facts, NOW)


def test_repeated_passes_share_one_outcome_and_trace_line() -> None:
    from compliance_shield.domain.rules.identity import passed

    first = passed("KYC verified and current", checked=("sender", "receiver"))
    assert first is passed("KYC verified and current", checked=("sender", "receiver"))
    assert first.shared
    assert first.details == {"checked": ("sender", "receiver")}
    unhashable = passed("KYC verified and current", checked=["sender"])
    assert not unhashable.shared
    assert unhashable is not passed("KYC verified and current", checked=["sender"])
    # tuples are written as JSON arrays, as lists were
    trace = RuleTrace(rule="kyc_verified", result=RuleResult.PASS, details=first.details)
    assert trace.to_json()["details"] == {"checked": ["sender", "receiver"]}
