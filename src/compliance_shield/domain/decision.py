"""The result of evaluating a policy: outcome, risk score, reasons and the per-rule trace."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.values import Outcome, RuleResult


class RuleOutcome(BaseModel):
    """What a rule function returns. ``code`` is required for fail/review/error."""

    model_config = ConfigDict(frozen=True)

    result: RuleResult
    code: ReasonCode | None = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    #: risk points a rule adds even when it passes (e.g. a high-risk rating below review level)
    risk_points: int = 0


class RuleTrace(BaseModel):
    """One line of the trace: what a rule concluded, with the parameters it ran with."""

    model_config = ConfigDict(frozen=True)

    rule: str
    result: RuleResult
    code: ReasonCode | None = None
    message: str = ""
    risk_points: int = 0
    params: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: ReasonCode
    message: str
    rule: str


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Outcome
    risk_score: int
    reasons: tuple[Reason, ...]
    rules: tuple[RuleTrace, ...]
    restriction_code: int
    engine_version: str
