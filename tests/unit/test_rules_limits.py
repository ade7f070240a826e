"""transfer_limit (rolling windows, the transfer counts itself) and lookback_seconds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from builders import NOW, make_facts, make_sender, one_rule_policy, policy_document, run_rule

from compliance_shield.domain.facts import Facts, PastTransfer
from compliance_shield.domain.policy import compile_policy
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.rules.limits import lookback_seconds
from compliance_shield.domain.values import RuleResult, TransferType
from compliance_shield.errors import PolicyInvalid

PASS, FAIL, NA = RuleResult.PASS, RuleResult.FAIL, RuleResult.NOT_APPLICABLE
HOUR, DAY = 3600, 86400


def history(*ago_amount: tuple[timedelta, int], amount: int = 10, **transfer: Any) -> Facts:
    """A sender whose past transfers happened ``ago`` before NOW, sending ``amount`` now."""
    recent = tuple(PastTransfer(at=NOW - ago, amount=size) for ago, size in ago_amount)
    return make_facts(sender=make_sender(recent_transfers=recent), amount=amount, **transfer)


def windows(*specs: dict[str, int]) -> dict[str, Any]:
    return {"windows": list(specs)}


DAILY_100 = windows({"window_seconds": DAY, "max_amount": 100})
DAILY_3 = windows({"window_seconds": DAY, "max_count": 3})
MINUTES = timedelta(minutes=1)

CASES = [
    pytest.param(DAILY_100, history(), PASS, None, id="first-transfer"),
    pytest.param(DAILY_100, history(amount=100), PASS, None, id="amount-at-limit"),
    pytest.param(DAILY_100, history(amount=101), FAIL, ReasonCode.TRANSFER_LIMIT_EXCEEDED, id="alone-too-big"),
    pytest.param(
        DAILY_100,
        history((timedelta(hours=3), 60), (timedelta(hours=20), 30), amount=11),
        FAIL,
        ReasonCode.TRANSFER_LIMIT_EXCEEDED,
        id="amount-sum-exceeded",
    ),
    pytest.param(
        DAILY_100,
        history((timedelta(days=1), 95), amount=10),
        PASS,
        None,
        id="transfer-exactly-window-ago-drops-out",
    ),
    pytest.param(
        DAILY_100,
        history((timedelta(days=1) - MINUTES, 95), amount=10),
        FAIL,
        ReasonCode.TRANSFER_LIMIT_EXCEEDED,
        id="transfer-just-inside-window",
    ),
    pytest.param(DAILY_3, history((MINUTES, 1), (MINUTES, 1)), PASS, None, id="count-at-limit"),
    pytest.param(
        DAILY_3,
        history((MINUTES, 1), (MINUTES, 1), (MINUTES, 1)),
        FAIL,
        ReasonCode.TRANSFER_LIMIT_EXCEEDED,
        id="count-exceeded",
    ),
    pytest.param(
        windows(
            {"window_seconds": HOUR, "max_count": 2},
            {"window_seconds": 30 * DAY, "max_amount": 1_000},
        ),
        history((timedelta(days=10), 995), amount=10),
        FAIL,
        ReasonCode.TRANSFER_LIMIT_EXCEEDED,
        id="longer-window-exceeded",
    ),
    pytest.param(
        windows(
            {"window_seconds": HOUR, "max_count": 2},
            {"window_seconds": 30 * DAY, "max_amount": 1_000},
        ),
        history((timedelta(hours=2), 1), (timedelta(hours=3), 1)),
        PASS,
        None,
        id="both-windows-respected",
    ),
    pytest.param(
        DAILY_100,
        history((MINUTES, 100), transfer_type=TransferType.REDEMPTION),
        FAIL,
        ReasonCode.TRANSFER_LIMIT_EXCEEDED,
        id="redemption-counts",
    ),
    pytest.param(
        DAILY_100,
        history(amount=1_000, transfer_type=TransferType.ISSUANCE),
        NA,
        None,
        id="issuance",
    ),
]


@pytest.mark.parametrize(("params", "facts", "result", "code"), CASES)
def test_transfer_limit(params: dict[str, Any], facts: Facts, result: RuleResult, code: ReasonCode | None) -> None:
    trace = run_rule("transfer_limit", params, facts)
    assert (trace.result, trace.code) == (result, code), trace.message
    assert trace.message


def test_breach_names_the_window() -> None:
    params = windows({"window_seconds": HOUR, "max_count": 1}, {"window_seconds": DAY, "max_amount": 15})
    trace = run_rule("transfer_limit", params, history((MINUTES, 10)))
    assert trace.details["breaches"] == [
        {"window": "1h", "window_seconds": HOUR, "limit": "count", "value": 2, "max": 1},
        {"window": "1d", "window_seconds": DAY, "limit": "amount", "value": "20", "max": "15"},
    ]
    assert trace.message == "1h transfer count would be 2, above 1; 1d transfer amount would be 20, above 15"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"windows": []}, "rules[0].params.windows"),
        ({"windows": [{"window_seconds": DAY}]}, "rules[0].params.windows[0]"),
        ({"windows": [{"window_seconds": 0, "max_count": 1}]}, "rules[0].params.windows[0].window_seconds"),
        ({"windows": [{"window_seconds": DAY, "max_count": 1}] * 5}, "rules[0].params.windows"),
    ],
)
def test_bad_windows_are_rejected(params: dict[str, Any], field: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        one_rule_policy("transfer_limit", params)
    assert field in [e["field"] for e in caught.value.errors]


def test_lookback_is_the_longest_window_of_the_policy() -> None:
    policy = compile_policy(
        policy_document(
            {"rule": "token_paused"},
            {"rule": "transfer_limit", "params": windows({"window_seconds": DAY, "max_count": 5})},
            {
                "rule": "transfer_limit",
                "params": windows(
                    {"window_seconds": HOUR, "max_count": 1}, {"window_seconds": 7 * DAY, "max_amount": 9}
                ),
            },
        )
    )
    assert lookback_seconds(policy) == 7 * DAY


def test_lookback_is_zero_without_transfer_limits() -> None:
    assert lookback_seconds(one_rule_policy("token_paused")) == 0


@pytest.mark.parametrize(("seconds", "name"), [(90, "90s"), (120, "2m"), (7200, "2h"), (7 * DAY, "7d")])
def test_windows_are_named_in_the_largest_whole_unit(seconds: int, name: str) -> None:
    trace = run_rule("transfer_limit", windows({"window_seconds": seconds, "max_count": 1}), history((timedelta(0), 1)))
    assert trace.details["breaches"][0]["window"] == name
