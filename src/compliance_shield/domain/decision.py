"""The result of evaluating a policy: outcome, risk score, reasons and the per-rule trace.

Plain frozen dataclasses rather than validated models: they are built for every rule of every
check on the hot path, and they only ever hold values the engine made itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from compliance_shield.domain import encoding
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.values import Outcome, RuleResult


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What a rule function returns. ``code`` is required for fail/review/error."""

    result: RuleResult
    code: ReasonCode | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    #: risk points a rule adds even when it passes (e.g. a high-risk rating below review level)
    risk_points: int = 0
    #: True for outcomes that carry no per-call data and are reused across calls (see ``static``)
    shared: bool = False


@functools.lru_cache(maxsize=8192)
def static(result: RuleResult, message: str, details: tuple[tuple[str, Any], ...] = ()) -> RuleOutcome:
    """One shared outcome per (result, message, details): the engine reuses its trace line.

    ``details`` are (key, hashable value) pairs; most passes repeat exactly (the same list
    versions consulted, the same parties checked)."""
    return RuleOutcome(result=result, message=message, details=dict(details), shared=True)


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One line of the trace: what a rule concluded, with the parameters it ran with."""

    rule: str
    result: RuleResult
    code: ReasonCode | None = None
    message: str = ""
    risk_points: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    #: the JSON form, computed once (shared traces are serialized for every check that uses them)
    _json: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The stored form; callers must not mutate it (it may be shared)."""
        if self._json is None:
            json_form = {
                "rule": self.rule,
                "result": self.result.value,
                "code": self.code.value if self.code is not None else None,
                "message": self.message,
                "risk_points": self.risk_points,
                "params": self.params,  # already JSON: the compiled policy's parameter dump
                "details": _jsonable(self.details) if self.details else {},
            }
            object.__setattr__(self, "_json", json_form)
            return json_form
        return self._json


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    message: str
    rule: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "rule": self.rule}


@dataclass(frozen=True, slots=True)
class Decision:
    status: Outcome
    risk_score: int
    reasons: tuple[Reason, ...]
    rules: tuple[RuleTrace, ...]
    restriction_code: int
    engine_version: str


def _jsonable(value: Any) -> Any:
    """Rule details as JSON-native values (rules report dates, decimals, UUIDs, enums, sets).

    Through the one encoder: datetimes ISO 8601, UUIDs and enums as strings, decimals as plain
    decimal strings, integers exact at any size.
    """
    return encoding.loads(encoding.dumps(value))
