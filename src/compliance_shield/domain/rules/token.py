"""Token rules: the ERC-3643 compliance modules evaluated off chain.

Pause and freeze, lock-ups, insider-trading windows, balance, holder caps, ownership limits and
minimum investment. Positions are *projected*: approved, unsettled transfers count against the
caps until they settle or their reservation expires.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from compliance_shield.domain.decision import RuleOutcome
from compliance_shield.domain.encoding import Units, plain_decimal, units
from compliance_shield.domain.facts import Facts
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.rules.identity import (
    checked_parties,
    day,
    not_applicable,
    passed,
    receiver_checked,
    unavailable,
)
from compliance_shield.domain.rules.registry import NoParams, RuleParams, rule
from compliance_shield.domain.rules.screening import CurrencyCode, currency_value, money
from compliance_shield.domain.values import RuleResult, TransferType, WalletStatus


def _fail(code: ReasonCode, message: str, **details: Any) -> RuleOutcome:
    return RuleOutcome(result=RuleResult.FAIL, code=code, message=message, details=details)


def _receiver_category(facts: Facts) -> str | None:
    investor = facts.receiver.investor
    return investor.category if investor is not None else None


# -- token_paused, wallet_frozen -------------------------------------------------------------

# passes whose message never varies, made once
_FROZEN = WalletStatus.FROZEN
_NOT_PAUSED = passed("token is not paused")
_NONE_FROZEN = passed("no wallet is frozen")
_NO_TOKEN_LOCKUP = passed("no token-wide lock-up in force")
_WINDOW_OPEN = passed("trading window is open")
_ALREADY_HOLDS = passed("receiver already holds the token")


@rule("token_paused", NoParams, "The token is not paused by its issuer or agent.")
def token_paused(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
    if facts.token.paused:
        return _fail(ReasonCode.TOKEN_PAUSED, f"token {facts.token.symbol} is paused")
    return _NOT_PAUSED


@rule("wallet_frozen", NoParams, "Neither party's wallet is frozen.")
def wallet_frozen(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
    parties = checked_parties(facts)
    for _, party in parties:
        if party.wallet is not None and party.wallet.status is _FROZEN:
            break
    else:
        return _NONE_FROZEN
    frozen = [
        (side, party.address) for side, party in parties if party.wallet is not None and party.wallet.status is _FROZEN
    ]
    return _fail(
        ReasonCode.WALLET_FROZEN,
        "; ".join(f"{side} wallet {address} is frozen" for side, address in frozen),
        frozen=[{"party": side, "address": address} for side, address in frozen],
    )


# -- lockup ---------------------------------------------------------------------------------


class LockupParams(RuleParams):
    #: each lot of the sender stays locked this many days after it was acquired
    holding_period_days: int | None = Field(default=None, ge=1, le=36500)
    #: honour the token-wide lock-up date (e.g. ICDR pre-IPO lock-in)
    use_token_lockup_until: bool = True

    @model_validator(mode="after")
    def _something_to_check(self) -> Self:
        if self.holding_period_days is None and not self.use_token_lockup_until:
            raise ValueError("set holding_period_days or use_token_lockup_until")
        return self


@rule(
    "lockup",
    LockupParams,
    "Tokens under the token-wide lock-up, or held for less than the holding period, do not move.",
)
def lockup(params: LockupParams, facts: Facts, now: datetime) -> RuleOutcome:
    if facts.transfer.transfer_type is TransferType.ISSUANCE:
        return not_applicable("an issuance moves no locked holding")
    until = facts.token.lockup_until
    if params.use_token_lockup_until and until is not None and now < until:
        return _fail(
            ReasonCode.LOCKUP_ACTIVE,
            f"token {facts.token.symbol} is locked up until {day(until)}",
            lockup_until=until.isoformat(),
        )
    if params.holding_period_days is None:
        return _NO_TOKEN_LOCKUP
    period = timedelta(days=params.holding_period_days)
    sender = facts.sender
    unlocked = sum(lot.amount for lot in sender.lots if lot.acquired_at <= now - period)
    free = unlocked - sender.reserved_out
    amount = facts.transfer.amount
    if amount <= free:
        return passed(f"{amount} units held at least {params.holding_period_days} days are free")
    locked = [lot.acquired_at for lot in sender.lots if lot.acquired_at > now - period]
    next_unlock = min(locked) + period if locked else None
    return _fail(
        ReasonCode.LOCKUP_ACTIVE,
        f"sender may move {max(free, 0)} units held at least {params.holding_period_days} days, "
        f"not {amount}" + (f"; next lot unlocks on {day(next_unlock)}" if next_unlock else ""),
        unlocked=units(unlocked),
        reserved_out=units(sender.reserved_out),
        free=units(free),
        next_unlock=next_unlock.isoformat() if next_unlock else None,
    )


# -- trading_window -------------------------------------------------------------------------


@rule(
    "trading_window",
    NoParams,
    "A designated person of the issuer may not trade while the issuer's trading window is closed.",
)
def trading_window(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
    token = facts.token
    designated = [
        side
        for side, party in checked_parties(facts)
        if party.investor is not None and token.id in party.investor.designated_tokens
    ]
    if not designated:
        return not_applicable("no party is a designated person for this token")
    closed = next((w for w in token.trading_windows if w.start <= now < w.end), None)
    if closed is None:
        return _WINDOW_OPEN
    because = f" ({closed.reason})" if closed.reason else ""
    return _fail(
        ReasonCode.TRADING_WINDOW_CLOSED,
        f"{' and '.join(designated)} designated person: trading window closed until {closed.end.isoformat()}{because}",
        parties=designated,
        window={"start": closed.start.isoformat(), "end": closed.end.isoformat(), "reason": closed.reason},
    )


# -- sufficient_balance ---------------------------------------------------------------------


@rule("sufficient_balance", NoParams, "The sender's available balance covers the amount.")
def sufficient_balance(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
    if facts.transfer.transfer_type is TransferType.ISSUANCE:
        return not_applicable("an issuance mints new units")
    sender, amount = facts.sender, facts.transfer.amount
    available = sender.available
    if amount <= available:
        return _covers(available, amount)
    return _fail(
        ReasonCode.INSUFFICIENT_BALANCE,
        f"sender's available balance {sender.available} is less than {amount}",
        balance=units(sender.balance),
        reserved_out=units(sender.reserved_out),
        available=units(sender.available),
    )


@functools.lru_cache(maxsize=1024)
def _covers(available: int, amount: int) -> RuleOutcome:
    # amounts repeat (the same order size from the same holding): the message is made once
    return passed(f"available balance {available} covers {amount}")


# -- max_holders ----------------------------------------------------------------------------


class MaxHoldersParams(RuleParams):
    max_holders: int = Field(ge=1)
    #: categories that neither count towards the cap nor are limited by it
    exempt_categories: list[str] = Field(default_factory=list)


def _sender_leaves(facts: Facts, exempt: set[str]) -> bool:
    """Whether this transfer empties a counted sender, whose place on the register the receiver takes.

    Only a departure within the same transfer is credited (one on-chain transfer moves both, so
    they settle or fail together); a sender still counts while any of its holding stays, or while
    tokens are on their way to it.
    """
    sender = facts.sender
    investor = sender.investor
    if investor is None or investor.category in exempt:
        return False
    counted = sender.balance > 0 or sender.reserved_in > 0
    return counted and sender.reserved_in == 0 and sender.available == facts.transfer.amount


@rule(
    "max_holders",
    MaxHoldersParams,
    "A new, non-exempt holder may join only while the count of non-exempt holders is below the cap, "
    "unless the sender leaves the register with this transfer.",
)
def max_holders(params: MaxHoldersParams, facts: Facts, now: datetime) -> RuleOutcome:
    if not receiver_checked(facts):
        return not_applicable("a redemption adds no holder")
    category = _receiver_category(facts)
    if category in params.exempt_categories:
        return _exempt_from_cap(category)
    receiver = facts.receiver
    if receiver.balance + receiver.reserved_in > 0:
        return _ALREADY_HOLDS
    exempt = set(params.exempt_categories)
    count = sum(n for cat, n in facts.token_state.holder_count_by_category.items() if cat not in exempt)
    # (a register already above the cap, e.g. after the cap was lowered, admits no one)
    leaves = count <= params.max_holders and _sender_leaves(facts, exempt)
    if leaves and facts.transfer.transfer_type is TransferType.SECONDARY:
        return passed(f"receiver takes the sender's place: still {count} of at most {params.max_holders} holders")
    if count + 1 <= params.max_holders:
        return passed(f"holder {count + 1} of at most {params.max_holders}")
    return _fail(
        ReasonCode.MAX_HOLDERS_EXCEEDED,
        f"receiver would be holder {count + 1}; the cap is {params.max_holders}"
        + (f" (excluding {', '.join(params.exempt_categories)})" if params.exempt_categories else ""),
        holders=count,
        max_holders=params.max_holders,
    )


# -- max_balance ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _exempt_from_cap(category: str | None) -> RuleOutcome:
    return not_applicable(f"receiver category {category} is exempt from the holder cap")


class MaxBalanceParams(RuleParams):
    #: in base units of the token
    max_amount: Units = Field(ge=0)


@rule("max_balance", MaxBalanceParams, "The receiver's projected balance stays within the maximum.")
def max_balance(params: MaxBalanceParams, facts: Facts, now: datetime) -> RuleOutcome:
    if not receiver_checked(facts):
        return not_applicable("the issuer receives a redemption")
    resulting = facts.receiver.projected_balance + facts.transfer.amount
    if resulting <= params.max_amount:
        return passed(f"resulting balance {resulting} within {params.max_amount}")
    return _fail(
        ReasonCode.MAX_BALANCE_EXCEEDED,
        f"receiver's balance would be {resulting}, above the maximum {params.max_amount}",
        resulting_balance=units(resulting),
    )


# -- max_ownership_pct ----------------------------------------------------------------------

Percent = Annotated[Decimal, Field(gt=0, le=100)]


class CategoryLimit(RuleParams):
    #: the most one investor of the category may hold, in % of the token
    each_pct: Percent | None = None
    #: the most all investors of the category together may hold, in % of the token
    aggregate_pct: Percent | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> Self:
        if self.each_pct is None and self.aggregate_pct is None:
            raise ValueError("set each_pct or aggregate_pct")
        return self


class MaxOwnershipParams(RuleParams):
    max_pct: Percent | None = None
    #: categories the general ``max_pct`` does not bind (their category limits still do)
    exempt_categories: list[str] = Field(default_factory=list)
    category_limits: dict[str, CategoryLimit] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_limit(self) -> Self:
        if self.max_pct is None and not self.category_limits:
            raise ValueError("set max_pct or category_limits")
        return self


@rule(
    "max_ownership_pct",
    MaxOwnershipParams,
    "The receiver's share, and its category's aggregate share, of the token stay within the limits.",
)
def max_ownership_pct(params: MaxOwnershipParams, facts: Facts, now: datetime) -> RuleOutcome:
    if not receiver_checked(facts):
        return not_applicable("the issuer receives a redemption")
    category = _receiver_category(facts)
    general = params.max_pct if category not in params.exempt_categories else None
    special = params.category_limits.get(category) if category is not None else None
    if general is None and special is None:
        return not_applicable(f"no ownership limit binds receiver category {category}")
    kind, amount = facts.transfer.transfer_type, facts.transfer.amount
    supply = facts.token.total_supply
    if supply is None:
        supply = facts.token_state.outstanding + (amount if kind is TransferType.ISSUANCE else 0)
    if supply <= 0:
        return unavailable(f"token {facts.token.symbol} has no supply to measure ownership against")

    def share(units: int) -> Decimal:
        return Decimal(units) * 100 / supply

    held = facts.receiver.projected_balance + amount
    checks: list[tuple[str, int, Decimal]] = []
    if general is not None:
        checks.append(("receiver", held, general))
    if special is not None and special.each_pct is not None:
        checks.append((f"receiver ({category})", held, special.each_pct))
    if category is not None and special is not None and special.aggregate_pct is not None:
        sender = facts.sender.investor
        # a transfer inside the category leaves its aggregate unchanged
        inside = kind is TransferType.SECONDARY and sender is not None and sender.category == category
        if not inside:
            aggregate = facts.token_state.balance_by_category.get(category, 0) + amount
            checks.append((f"{category} investors together", aggregate, special.aggregate_pct))
    over = [(who, units, limit) for who, units, limit in checks if Decimal(units) * 100 > limit * supply]
    if not over:
        return passed(f"receiver would hold {share(held):.2f}% within the limits", supply=units(supply))
    return _fail(
        ReasonCode.MAX_OWNERSHIP_EXCEEDED,
        "; ".join(
            f"{who} would hold {share(units):.2f}% of {facts.token.symbol}, above the {limit}% limit"
            for who, units, limit in over
        ),
        breaches=[
            {
                "holder": who,
                "units": units(held_units),
                "pct": f"{share(held_units):.4f}",
                "limit_pct": plain_decimal(limit),
            }
            for who, held_units, limit in over
        ],
        supply=units(supply),
    )


# -- min_investment -------------------------------------------------------------------------


class MinInvestmentParams(RuleParams):
    min_value: Decimal = Field(gt=0)
    currency: CurrencyCode
    exempt_categories: list[str] = Field(default_factory=list)
    #: a different minimum for some categories (e.g. employees of the manager)
    category_minimums: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(default_factory=dict)


@functools.lru_cache(maxsize=64)
def _exempt_from_minimum(category: str | None) -> RuleOutcome:
    return not_applicable(f"receiver category {category} is exempt from the minimum investment")


@rule(
    "min_investment",
    MinInvestmentParams,
    "The receiver's resulting position is worth at least the minimum investment.",
)
def min_investment(params: MinInvestmentParams, facts: Facts, now: datetime) -> RuleOutcome:
    if not receiver_checked(facts):
        return not_applicable("a redemption makes no investment")
    category = _receiver_category(facts)
    if category in params.exempt_categories:
        return _exempt_from_minimum(category)
    minimum = params.category_minimums.get(category, params.min_value) if category else params.min_value
    value = currency_value(facts, facts.receiver.projected_balance + facts.transfer.amount, params.currency)
    if isinstance(value, RuleOutcome):
        return value
    if value >= minimum:
        return passed(f"resulting position {money(value, params.currency)} meets the minimum")
    return _fail(
        ReasonCode.BELOW_MIN_INVESTMENT,
        f"receiver's position would be {money(value, params.currency)}, "
        f"below the minimum {money(minimum, params.currency)}"
        + (f" for {category} investors" if category in params.category_minimums else ""),
        value=plain_decimal(value),
        minimum=plain_decimal(minimum),
        currency=params.currency,
    )
