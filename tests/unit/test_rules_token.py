"""Token rules: token_paused, wallet_frozen, lockup, trading_window, sufficient_balance,
max_holders, max_balance, max_ownership_pct, min_investment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from builders import (
    NOW,
    RECEIVER,
    SENDER,
    TOKEN_ID,
    make_facts,
    make_investor,
    make_party,
    make_receiver,
    make_sender,
    make_token,
    one_rule_policy,
    run_rule,
)

from compliance_shield.domain.facts import Facts, Lot, TokenStateFacts, TradingWindow
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.values import RuleResult, TransferType, WalletStatus
from compliance_shield.errors import PolicyInvalid

PASS, FAIL, NA, ERROR = RuleResult.PASS, RuleResult.FAIL, RuleResult.NOT_APPLICABLE, RuleResult.ERROR
ISSUANCE, REDEMPTION = TransferType.ISSUANCE, TransferType.REDEMPTION

# -- fixtures of the cases ------------------------------------------------------------------------


def lots_sender(**position: Any) -> Facts:
    """Sender holding 100 units bought 400 days ago and 50 bought 10 days ago."""
    lots = (
        Lot(acquired_at=NOW - timedelta(days=400), amount=100),
        Lot(acquired_at=NOW - timedelta(days=10), amount=50),
    )
    amount = position.pop("amount", 100)
    return make_facts(sender=make_sender(balance=150, lots=lots, **position), amount=amount)


CLOSED = TradingWindow(start=NOW - timedelta(days=2), end=NOW + timedelta(days=3), reason="Q4 results")
PAST = TradingWindow(start=NOW - timedelta(days=30), end=NOW - timedelta(days=20))


def designated(side: str, window: TradingWindow = CLOSED, **facts: Any) -> Facts:
    person = make_investor("Insider", designated_tokens=frozenset({TOKEN_ID}))
    parties = {"sender": make_sender(person)} if side == "sender" else {"receiver": make_receiver(person)}
    return make_facts(token=make_token(trading_windows=(window,)), **parties, **facts)


def holders(count: int, **position: Any) -> Facts:
    """A token with ``count`` retail and 30 qib holders; the receiver's position from ``position``."""
    state = TokenStateFacts(holder_count=count + 30, holder_count_by_category={"retail": count, "qib": 30})
    category = position.pop("category", "retail")
    receiver = make_receiver(make_investor("Vikram Shah", category=category), **position)
    return make_facts(receiver=receiver, token_state=state)


def leaving(count: int, sender_category: str = "retail", amount: int = 1_000, **sender: Any) -> Facts:
    """``holders(count)`` with a sender holding 1,000 units that sends ``amount`` to a new receiver."""
    state = TokenStateFacts(holder_count=count + 30, holder_count_by_category={"retail": count, "qib": 30})
    investor = make_investor("Asha Rao", category=sender_category)
    return make_facts(
        sender=make_sender(investor, **sender),
        receiver=make_receiver(make_investor("Vikram Shah")),
        token_state=state,
        amount=amount,
    )


def owner(category: str, held: int = 0, amount: int = 10, **facts: Any) -> Facts:
    """A receiver of ``category`` holding ``held`` of a 1,000-unit token, buying ``amount``."""
    receiver = make_receiver(make_investor("Vikram Shah", category=category), balance=held)
    facts.setdefault("token", make_token(total_supply=1_000))
    return make_facts(receiver=receiver, amount=amount, **facts)


def nri_aggregate(aggregate: int, sender_category: str = "retail") -> Facts:
    state = TokenStateFacts(outstanding=1_000, balance_by_category={"nri": aggregate})
    return owner(
        "nri",
        amount=20,
        token=make_token(),
        token_state=state,
        sender=make_sender(make_investor(category=sender_category)),
    )


def investing(category: str, amount: int, held: int = 0, **token: Any) -> Facts:
    receiver = make_receiver(make_investor("Vikram Shah", category=category), balance=held)
    return make_facts(receiver=receiver, amount=amount, token=make_token(**token))


NRI = {"category_limits": {"nri": {"each_pct": "5", "aggregate_pct": "10"}}}
REIT = {"max_pct": "25", "exempt_categories": ["manager"]}
AIF_MIN = {
    "min_value": "10000000",
    "currency": "INR",
    "exempt_categories": ["accredited"],
    "category_minimums": {"employee": "2500000"},
}
CAP = {"max_holders": 200, "exempt_categories": ["qib", "employee"]}

CASES = [
    # token_paused
    pytest.param("token_paused", {}, make_facts(), PASS, None, id="paused-no"),
    pytest.param(
        "token_paused",
        {},
        make_facts(token=make_token(paused=True)),
        FAIL,
        ReasonCode.TOKEN_PAUSED,
        id="paused",
    ),
    # wallet_frozen
    pytest.param("wallet_frozen", {}, make_facts(), PASS, None, id="frozen-none"),
    pytest.param(
        "wallet_frozen",
        {},
        make_facts(sender=make_party(SENDER, make_investor(), wallet_status=WalletStatus.FROZEN, balance=1_000)),
        FAIL,
        ReasonCode.WALLET_FROZEN,
        id="frozen-sender",
    ),
    pytest.param(
        "wallet_frozen",
        {},
        make_facts(
            receiver=make_party(RECEIVER, make_investor("Vikram Shah"), wallet_status=WalletStatus.FROZEN),
            transfer_type=REDEMPTION,
        ),
        PASS,
        None,
        id="frozen-redemption-issuer-unchecked",
    ),
    # lockup
    pytest.param("lockup", {}, make_facts(), PASS, None, id="lockup-none"),
    pytest.param(
        "lockup",
        {},
        make_facts(token=make_token(lockup_until=NOW + timedelta(days=1))),
        FAIL,
        ReasonCode.LOCKUP_ACTIVE,
        id="lockup-token-wide",
    ),
    pytest.param(
        "lockup",
        {},
        make_facts(token=make_token(lockup_until=NOW)),
        PASS,
        None,
        id="lockup-token-wide-ends-now",
    ),
    pytest.param(
        "lockup",
        {"holding_period_days": 365, "use_token_lockup_until": False},
        make_facts(token=make_token(lockup_until=NOW + timedelta(days=1))),
        PASS,
        None,
        id="lockup-token-wide-ignored",
    ),
    pytest.param("lockup", {"holding_period_days": 365}, lots_sender(), PASS, None, id="lockup-old-lot-free"),
    pytest.param(
        "lockup",
        {"holding_period_days": 365},
        lots_sender(amount=101),
        FAIL,
        ReasonCode.LOCKUP_ACTIVE,
        id="lockup-young-lot-locked",
    ),
    pytest.param(
        "lockup",
        {"holding_period_days": 365},
        lots_sender(amount=80, reserved_out=30),
        FAIL,
        ReasonCode.LOCKUP_ACTIVE,
        id="lockup-reservations-use-free-lots",
    ),
    pytest.param("lockup", {"holding_period_days": 5}, lots_sender(amount=150), PASS, None, id="lockup-short-period"),
    pytest.param(
        "lockup",
        {},
        make_facts(token=make_token(lockup_until=NOW + timedelta(days=1)), transfer_type=ISSUANCE),
        NA,
        None,
        id="lockup-issuance",
    ),
    # trading_window
    pytest.param("trading_window", {}, make_facts(), NA, None, id="window-not-designated"),
    pytest.param(
        "trading_window",
        {},
        designated("receiver"),
        FAIL,
        ReasonCode.TRADING_WINDOW_CLOSED,
        id="window-closed-designated-buyer",
    ),
    pytest.param(
        "trading_window",
        {},
        designated("sender"),
        FAIL,
        ReasonCode.TRADING_WINDOW_CLOSED,
        id="window-closed-designated-seller",
    ),
    pytest.param("trading_window", {}, designated("receiver", PAST), PASS, None, id="window-open"),
    pytest.param(
        "trading_window",
        {},
        designated(
            "receiver",
            TradingWindow(start=NOW - timedelta(days=1), end=NOW),
        ),
        PASS,
        None,
        id="window-end-is-exclusive",
    ),
    pytest.param(
        "trading_window",
        {},
        designated("sender", transfer_type=ISSUANCE),
        NA,
        None,
        id="window-issuance-treasury-unchecked",
    ),
    # sufficient_balance
    pytest.param("sufficient_balance", {}, make_facts(amount=1_000), PASS, None, id="balance-exact"),
    pytest.param(
        "sufficient_balance",
        {},
        make_facts(sender=make_sender(balance=1_000, reserved_out=995), amount=10),
        FAIL,
        ReasonCode.INSUFFICIENT_BALANCE,
        id="balance-reserved",
    ),
    pytest.param(
        "sufficient_balance",
        {},
        make_facts(amount=1_001),
        FAIL,
        ReasonCode.INSUFFICIENT_BALANCE,
        id="balance-short",
    ),
    pytest.param(
        "sufficient_balance",
        {},
        make_facts(sender=make_sender(balance=0), transfer_type=ISSUANCE),
        NA,
        None,
        id="balance-issuance",
    ),
    # max_holders
    pytest.param("max_holders", CAP, holders(199), PASS, None, id="holders-200th"),
    pytest.param("max_holders", CAP, holders(200), FAIL, ReasonCode.MAX_HOLDERS_EXCEEDED, id="holders-201st"),
    pytest.param("max_holders", CAP, holders(200, balance=5), PASS, None, id="holders-existing-holder"),
    pytest.param("max_holders", CAP, holders(200, reserved_in=5), PASS, None, id="holders-incoming-holder"),
    pytest.param("max_holders", CAP, holders(200, category="qib"), NA, None, id="holders-exempt-receiver"),
    pytest.param(
        "max_holders",
        {"max_holders": 200},
        holders(171),
        FAIL,
        ReasonCode.MAX_HOLDERS_EXCEEDED,
        id="holders-exempt-counted-without-exemption",
    ),
    pytest.param("max_holders", CAP, make_facts(transfer_type=REDEMPTION), NA, None, id="holders-redemption"),
    # at the cap, a sender that leaves the register with this transfer makes room for its receiver
    pytest.param("max_holders", CAP, leaving(200), PASS, None, id="holders-sender-leaves"),
    pytest.param(
        "max_holders", CAP, leaving(201), FAIL, ReasonCode.MAX_HOLDERS_EXCEEDED, id="holders-over-cap-already"
    ),
    pytest.param(
        "max_holders", CAP, leaving(200, amount=999), FAIL, ReasonCode.MAX_HOLDERS_EXCEEDED, id="holders-sender-stays"
    ),
    pytest.param(
        "max_holders",
        CAP,
        leaving(200, amount=600, reserved_out=400),
        PASS,
        None,
        id="holders-sender-leaves-after-its-reservations",
    ),
    pytest.param(
        "max_holders",
        CAP,
        leaving(200, reserved_in=5),
        FAIL,
        ReasonCode.MAX_HOLDERS_EXCEEDED,
        id="holders-sender-has-tokens-on-the-way",
    ),
    pytest.param(
        "max_holders",
        CAP,
        leaving(200, sender_category="qib"),
        FAIL,
        ReasonCode.MAX_HOLDERS_EXCEEDED,
        id="holders-exempt-sender-frees-no-counted-place",
    ),
    # max_balance
    pytest.param("max_balance", {"max_amount": 100}, owner("retail", 90), PASS, None, id="max-balance-reached"),
    pytest.param(
        "max_balance",
        {"max_amount": 100},
        owner("retail", 91),
        FAIL,
        ReasonCode.MAX_BALANCE_EXCEEDED,
        id="max-balance-exceeded",
    ),
    pytest.param(
        "max_balance",
        {"max_amount": 100},
        make_facts(receiver=make_receiver(reserved_in=95), amount=10),
        FAIL,
        ReasonCode.MAX_BALANCE_EXCEEDED,
        id="max-balance-counts-reservations",
    ),
    pytest.param(
        "max_balance",
        {"max_amount": 1},
        make_facts(transfer_type=REDEMPTION),
        NA,
        None,
        id="max-balance-redemption",
    ),
    # max_ownership_pct (total supply 1,000)
    pytest.param("max_ownership_pct", REIT, owner("retail", 240), PASS, None, id="own-25pct-exactly"),
    pytest.param(
        "max_ownership_pct",
        REIT,
        owner("retail", 241),
        FAIL,
        ReasonCode.MAX_OWNERSHIP_EXCEEDED,
        id="own-above-25pct",
    ),
    pytest.param("max_ownership_pct", REIT, owner("manager", 500), NA, None, id="own-exempt-manager"),
    pytest.param("max_ownership_pct", NRI, owner("nri", 40), PASS, None, id="own-nri-5pct"),
    pytest.param(
        "max_ownership_pct",
        NRI,
        owner("nri", 50),
        FAIL,
        ReasonCode.MAX_OWNERSHIP_EXCEEDED,
        id="own-nri-6pct",
    ),
    pytest.param("max_ownership_pct", NRI, owner("retail", 500), NA, None, id="own-no-limit-for-category"),
    pytest.param("max_ownership_pct", NRI, nri_aggregate(80), PASS, None, id="own-nri-aggregate-10pct"),
    pytest.param(
        "max_ownership_pct",
        NRI,
        nri_aggregate(81),
        FAIL,
        ReasonCode.MAX_OWNERSHIP_EXCEEDED,
        id="own-nri-aggregate-exceeded",
    ),
    pytest.param(
        "max_ownership_pct",
        NRI,
        nri_aggregate(100, sender_category="nri"),
        PASS,
        None,
        id="own-nri-to-nri-keeps-aggregate",
    ),
    pytest.param(
        "max_ownership_pct",
        REIT,
        owner(
            "retail",
            0,
            amount=25,
            token=make_token(),
            token_state=TokenStateFacts(outstanding=75),
            transfer_type=ISSUANCE,
        ),
        PASS,
        None,
        id="own-issuance-counts-new-units",
    ),
    pytest.param(
        "max_ownership_pct",
        REIT,
        owner("retail", 0, token=make_token(), token_state=TokenStateFacts(outstanding=0)),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="own-no-supply",
    ),
    pytest.param("max_ownership_pct", REIT, owner("retail", transfer_type=REDEMPTION), NA, None, id="own-redemption"),
    # min_investment (price 1,000 INR per unit)
    pytest.param("min_investment", AIF_MIN, investing("retail", 10_000), PASS, None, id="min-1-crore"),
    pytest.param(
        "min_investment",
        AIF_MIN,
        investing("retail", 5_000),
        FAIL,
        ReasonCode.BELOW_MIN_INVESTMENT,
        id="min-50-lakh-retail",
    ),
    pytest.param("min_investment", AIF_MIN, investing("retail", 1_000, held=9_000), PASS, None, id="min-top-up-counts"),
    pytest.param("min_investment", AIF_MIN, investing("employee", 2_500), PASS, None, id="min-employee-25-lakh"),
    pytest.param(
        "min_investment",
        AIF_MIN,
        investing("employee", 2_499),
        FAIL,
        ReasonCode.BELOW_MIN_INVESTMENT,
        id="min-employee-below",
    ),
    pytest.param("min_investment", AIF_MIN, investing("accredited", 1), NA, None, id="min-accredited-exempt"),
    pytest.param(
        "min_investment",
        AIF_MIN,
        investing("retail", 10_000, price_per_unit=None),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="min-no-price",
    ),
    pytest.param(
        "min_investment",
        AIF_MIN,
        investing("retail", 10_000, price_currency="USD"),
        ERROR,
        ReasonCode.EVIDENCE_UNAVAILABLE,
        id="min-currency-mismatch",
    ),
    pytest.param("min_investment", AIF_MIN, make_facts(transfer_type=REDEMPTION), NA, None, id="min-redemption"),
]


@pytest.mark.parametrize(("rule", "params", "facts", "result", "code"), CASES)
def test_token_rule(
    rule: str, params: dict[str, Any], facts: Facts, result: RuleResult, code: ReasonCode | None
) -> None:
    trace = run_rule(rule, params, facts)
    assert (trace.result, trace.code) == (result, code), trace.message
    assert trace.message


def test_lockup_names_next_unlock() -> None:
    trace = run_rule("lockup", {"holding_period_days": 365}, lots_sender(amount=120))
    assert trace.details["free"] == "100"
    assert trace.details["next_unlock"] == (NOW - timedelta(days=10) + timedelta(days=365)).isoformat()
    assert trace.message.startswith("sender may move 100 units held at least 365 days, not 120")


def test_trading_window_details() -> None:
    trace = run_rule("trading_window", {}, designated("receiver"))
    assert trace.details["parties"] == ["receiver"]
    assert trace.details["window"]["reason"] == "Q4 results"
    assert "(Q4 results)" in trace.message


def test_max_holders_details() -> None:
    trace = run_rule("max_holders", CAP, holders(200))
    assert trace.details == {"holders": 200, "max_holders": 200}
    assert trace.message == "receiver would be holder 201; the cap is 200 (excluding qib, employee)"


def test_ownership_breach_details() -> None:
    trace = run_rule("max_ownership_pct", NRI, owner("nri", 50))
    assert trace.details["breaches"] == [{"holder": "receiver (nri)", "units": "60", "pct": "6.0000", "limit_pct": "5"}]
    assert trace.message == "receiver (nri) would hold 6.00% of PVTX, above the 5% limit"


def test_min_investment_message() -> None:
    trace = run_rule("min_investment", AIF_MIN, investing("retail", 5_000))
    assert trace.message == "receiver's position would be 5,000,000.00 INR, below the minimum 10,000,000.00 INR"


@pytest.mark.parametrize(
    ("rule", "params", "field"),
    [
        ("max_holders", {"max_holders": 0}, "rules[0].params.max_holders"),
        ("max_holders", {}, "rules[0].params.max_holders"),
        ("lockup", {"holding_period_days": 0}, "rules[0].params.holding_period_days"),
        ("lockup", {"use_token_lockup_until": False}, "rules[0].params"),
        ("max_ownership_pct", {}, "rules[0].params"),
        ("max_ownership_pct", {"max_pct": "101"}, "rules[0].params.max_pct"),
        ("max_ownership_pct", {"category_limits": {"nri": {}}}, "rules[0].params.category_limits.nri"),
        ("min_investment", {"min_value": "1", "currency": "inr"}, "rules[0].params.currency"),
        ("max_balance", {"max_amount": 1, "extra": 2}, "rules[0].params.extra"),
    ],
)
def test_bad_token_params_are_rejected(rule: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        one_rule_policy(rule, params)
    assert field in [e["field"] for e in caught.value.errors]


def test_naive_now_is_a_rule_error_not_an_approval() -> None:
    naive = datetime(2026, 3, 2, 10, 0)  # naive on purpose
    trace = run_rule("lockup", {}, make_facts(token=make_token(lockup_until=datetime(2027, 1, 1, tzinfo=UTC))), naive)
    assert trace.result is ERROR
    assert trace.code is ReasonCode.RULE_ERROR
