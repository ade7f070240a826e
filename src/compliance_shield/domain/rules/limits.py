"""Limits over an investor's recent transfers (T-REX ``TimeTransfersLimits`` semantics).

Each window is rolling and counts the transfer under check: the sender's approved outgoing
transfers with ``at > now - window`` plus this one must stay within the window's amount and count.
Services gather ``recent_transfers`` for ``lookback_seconds(policy)`` — the longest window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Self

from pydantic import Field, model_validator

from compliance_shield.domain.decision import RuleOutcome
from compliance_shield.domain.encoding import Units, units
from compliance_shield.domain.facts import Facts
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.rules.identity import not_applicable, passed
from compliance_shield.domain.rules.registry import RuleParams, rule
from compliance_shield.domain.values import RuleResult, TransferType

if TYPE_CHECKING:  # policy.py imports the rules package
    from compliance_shield.domain.policy import CompiledPolicy

#: T-REX allows at most four time windows per token
MAX_WINDOWS = 4


class LimitWindow(RuleParams):
    window_seconds: int = Field(ge=1, le=400 * 86400)
    #: in base units of the token
    max_amount: Units | None = Field(default=None, ge=0)
    max_count: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_limit(self) -> Self:
        if self.max_amount is None and self.max_count is None:
            raise ValueError("set max_amount or max_count")
        return self


class TransferLimitParams(RuleParams):
    windows: list[LimitWindow] = Field(min_length=1, max_length=MAX_WINDOWS)

    @cached_property
    def spans(self) -> tuple[tuple[LimitWindow, timedelta], ...]:
        """Each window with its length as a ``timedelta``, computed once per policy."""
        return tuple((window, timedelta(seconds=window.window_seconds)) for window in self.windows)


def _span(seconds: int) -> str:
    """``86400`` → ``1d``, ``3600`` → ``1h``, ``90`` → ``90s``: how messages name a window."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_WITHIN = passed("within every transfer window")


@rule(
    "transfer_limit",
    TransferLimitParams,
    "The sender's transfers within each rolling window, this one included, stay within its limits.",
)
def transfer_limit(params: TransferLimitParams, facts: Facts, now: datetime) -> RuleOutcome:
    if facts.transfer.transfer_type is TransferType.ISSUANCE:
        return not_applicable("issuances are not limited per sender")
    amount = facts.transfer.amount
    past = facts.sender.recent_transfers
    breaches: list[dict[str, object]] = []
    for window, span in params.spans:
        since = now - span
        total, count = amount, 1
        for transfer in past:
            if transfer.at > since:
                total += transfer.amount
                count += 1
        if window.max_amount is not None and total > window.max_amount:
            breaches.append(
                {
                    "window": _span(window.window_seconds),
                    "window_seconds": window.window_seconds,
                    "limit": "amount",
                    "value": units(total),
                    "max": units(window.max_amount),
                }
            )
        if window.max_count is not None and count > window.max_count:
            breaches.append(
                {
                    "window": _span(window.window_seconds),
                    "window_seconds": window.window_seconds,
                    "limit": "count",
                    "value": count,
                    "max": window.max_count,
                }
            )
    if not breaches:
        return _WITHIN
    return RuleOutcome(
        result=RuleResult.FAIL,
        code=ReasonCode.TRANSFER_LIMIT_EXCEEDED,
        message="; ".join(
            f"{b['window']} transfer {b['limit']} would be {b['value']}, above {b['max']}" for b in breaches
        ),
        details={"breaches": breaches},
    )


def lookback_seconds(policy: CompiledPolicy) -> int:
    """The longest ``transfer_limit`` window of ``policy`` in seconds (0 when it has none)."""
    return max(
        (
            window.window_seconds
            for compiled in policy.rules
            if isinstance(compiled.params, TransferLimitParams)
            for window in compiled.params.windows
        ),
        default=0,
    )
