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


#: bound on remembered traces per rule (static outcomes are few: one per message)
_TRACE_CACHE_SIZE = 64


def _trace(rule: CompiledRule, outcome: RuleOutcome) -> RuleTrace:
    """The trace line of ``outcome``; rules that return a shared outcome object get a shared trace.

    The cache holds the outcome itself, so its identity cannot be reused while it is cached.
    """
    cached = rule.trace_cache.get(id(outcome))
    if cached is not None and cached[0] is outcome:
        trace: RuleTrace = cached[1]
        return trace
    trace = _build_trace(rule, outcome)
    if outcome.shared:
        if len(rule.trace_cache) >= _TRACE_CACHE_SIZE:
            rule.trace_cache.clear()
        rule.trace_cache[id(outcome)] = (outcome, trace)
    return trace


def _build_trace(rule: CompiledRule, outcome: RuleOutcome) -> RuleTrace:
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
    traces: list[RuleTrace] = []
    append = traces.append
    score = 0
    adverse = False
    # this loop runs for every rule of every check: it only runs, traces and adds up; the
    # reasons are collected afterwards, and only when a rule found something
    for rule, check, params, cache in policy.steps:
        try:
            outcome = check(params, facts, now)
        except Exception as exc:  # a broken rule must fail closed, never approve
            outcome = RuleOutcome(
                result=RuleResult.ERROR,
                code=ReasonCode.RULE_ERROR,
                message=f"rule raised {type(exc).__name__}: {exc}",
            )
        cached = cache.get(id(outcome))
        trace: RuleTrace = cached[1] if cached is not None and cached[0] is outcome else _trace(rule, outcome)
        append(trace)
        score += trace.risk_points
        if trace.code is not None:
            adverse = True
    score = min(100, score)
    reasons: tuple[Reason, ...] = ()
    first: ReasonCode | None = None
    if adverse:
        status, first, reasons = _combine(traces)
    elif score >= policy.document.escalation_threshold:
        status, first = Outcome.ESCALATED, ReasonCode.RISK_SCORE_THRESHOLD
    else:
        status = Outcome.APPROVED
    if first is ReasonCode.RISK_SCORE_THRESHOLD:
        reasons = (Reason(code=first, message=MESSAGES[first] + f" ({score})", rule="escalation_threshold"),)
    return Decision(
        status=status,
        risk_score=score,
        reasons=reasons,
        rules=tuple(traces),
        restriction_code=restriction_code(first),
        engine_version=ENGINE_VERSION,
    )


def _combine(traces: list[RuleTrace]) -> tuple[Outcome, ReasonCode, tuple[Reason, ...]]:
    """Outcome, restriction reason and reasons when some rule failed, asked for review or erred.

    REJECTED with the first fail's code when any rule failed, else ESCALATED with the first
    review's or error's code; the reasons list every adverse line in policy order.
    """
    reasons = tuple(Reason(code=t.code, message=t.message, rule=t.rule) for t in traces if t.code is not None)
    first_fail = next((t.code for t in traces if t.code is not None and t.result is RuleResult.FAIL), None)
    if first_fail is not None:
        return Outcome.REJECTED, first_fail, reasons
    return Outcome.ESCALATED, reasons[0].code, reasons
