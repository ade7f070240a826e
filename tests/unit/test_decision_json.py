"""The stored JSON form of a decision's trace: JSON-native, stable, computed once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import orjson

from compliance_shield.domain.decision import Reason, RuleTrace
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.values import RuleResult


def test_trace_details_become_json_native_values() -> None:
    trace = RuleTrace(
        rule="min_investment",
        result=RuleResult.FAIL,
        code=ReasonCode.BELOW_MIN_INVESTMENT,
        message="below",
        risk_points=100,
        params={"min_value": "10000000"},
        details={
            "value": Decimal("5000000.00"),
            "at": datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            "day": date(2026, 3, 2),
            "investor": UUID("00000000-0000-4000-8000-000000000001"),
            "result": RuleResult.FAIL,
            "countries": frozenset({"KP", "IR"}),
            "nested": [{"n": 1}],
        },
    )
    json_form = trace.to_json()
    assert json_form == {
        "rule": "min_investment",
        "result": "fail",
        "code": "BELOW_MIN_INVESTMENT",
        "message": "below",
        "risk_points": 100,
        "params": {"min_value": "10000000"},
        "details": {
            "value": "5000000.00",
            "at": "2026-03-02T10:00:00Z",
            "day": "2026-03-02",
            "investor": "00000000-0000-4000-8000-000000000001",
            "result": "fail",
            "countries": ["IR", "KP"],
            "nested": [{"n": 1}],
        },
    }
    assert orjson.loads(orjson.dumps(json_form)) == json_form
    assert trace.to_json() is json_form  # computed once


def test_a_pass_without_details_has_an_empty_details_object() -> None:
    trace = RuleTrace(rule="token_paused", result=RuleResult.PASS, message="token is not paused")
    assert trace.to_json()["details"] == {}
    assert trace.to_json()["code"] is None


def test_reason_json() -> None:
    reason = Reason(code=ReasonCode.PEP_REVIEW, message="receiver is a PEP", rule="pep_review")
    assert reason.to_json() == {"code": "PEP_REVIEW", "message": "receiver is a PEP", "rule": "pep_review"}
