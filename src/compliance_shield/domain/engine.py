"""``evaluate(policy, facts, now) -> Decision``: the pure decision function.

Combination (architecture §3), one formula:

* each rule yields pass / fail / review / not_applicable / error;
* a failing rule whose spec says ``on_fail: review`` counts as review;
* risk points: a fail, review or error adds the spec's ``risk_points`` (default 100 / 40 / 50);
  a pass adds the points the rule itself reports (0 for most rules);
* ``risk_score = min(100, sum of risk points)``;
* any fail → REJECTED; else any review or error, or ``risk_score >= escalation_threshold``
  → ESCALATED; else APPROVED;
* restriction code: 0 when APPROVED, else the ERC-1404 code of the first fail (REJECTED) or of the
  first review/error (ESCALATED), in policy order.
"""

from __future__ import annotations

from datetime import datetime

from compliance_shield.domain.decision import Decision, Reason, RuleOutcome, RuleTrace
from compliance_shield.domain.facts import Facts
from compliance_shield.domain.policy import CompiledPolicy, CompiledRule
from compliance_shield.domain.reasons import MESSAGES, ReasonCode, restriction_code
from compliance_shield.domain.values import FailAction, Outcome, RuleResult

ENGINE_VERSION = "1.0.0"

DEFAULT_RISK_POINTS: dict[RuleResult, int] = {
    RuleResult.FAIL: 100,
    RuleResult.REVIEW: 40,
    RuleResult.ERROR: 50,
}

_ADVERSE = (RuleResult.FAIL, RuleResult.REVIEW, RuleResult.ERROR)


def _run(rule: CompiledRule, facts: Facts, now: datetime) -> RuleOutcome:
    try:
        return rule.definition.check(rule.params, facts, now)
    except Exception as exc:  # a broken rule must fail closed, never approve
        return RuleOutcome(
            result=RuleResult.ERROR,
            code=ReasonCode.RULE_ERROR,
            message=f"rule raised {type(exc).__name__}: {exc}",
        )


def _trace(rule: CompiledRule, outcome: RuleOutcome) -> RuleTrace:
    result = outcome.result
    if result is RuleResult.FAIL and rule.spec.on_fail is FailAction.REVIEW:
        result = RuleResult.REVIEW
    if result in _ADVERSE:
        code = outcome.code or (
            ReasonCode.EVIDENCE_UNAVAILABLE if result is RuleResult.ERROR else ReasonCode.RULE_ERROR
        )
        points = rule.spec.risk_points if rule.spec.risk_points is not None else DEFAULT_RISK_POINTS[result]
        message = outcome.message or MESSAGES[code]
    else:
        code, points, message = None, outcome.risk_points, outcome.message
    return RuleTrace(
        rule=rule.spec.rule,
        result=result,
        code=code,
        message=message,
        risk_points=points,
        params=rule.params_dump,
        details=outcome.details,
    )


def evaluate(policy: CompiledPolicy, facts: Facts, now: datetime) -> Decision:
    """Run every rule of ``policy`` on ``facts`` at time ``now`` and combine the results."""
    traces = tuple(_trace(rule, _run(rule, facts, now)) for rule in policy.rules)
    score = min(100, sum(t.risk_points for t in traces))
    fails = [t for t in traces if t.result is RuleResult.FAIL]
    others = [t for t in traces if t.result in (RuleResult.REVIEW, RuleResult.ERROR)]
    reasons = [Reason(code=t.code, message=t.message, rule=t.rule) for t in traces if t.code is not None]
    if fails:
        status, first = Outcome.REJECTED, fails[0].code
    elif others:
        status, first = Outcome.ESCALATED, others[0].code
    elif score >= policy.document.escalation_threshold:
        status, first = Outcome.ESCALATED, ReasonCode.RISK_SCORE_THRESHOLD
        reasons.append(Reason(code=first, message=MESSAGES[first] + f" ({score})", rule="escalation_threshold"))
    else:
        status, first = Outcome.APPROVED, None
    return Decision(
        status=status,
        risk_score=score,
        reasons=tuple(reasons),
        rules=traces,
        restriction_code=restriction_code(first),
        engine_version=ENGINE_VERSION,
    )
