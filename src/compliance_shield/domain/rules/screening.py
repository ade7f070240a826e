"""Screening rules: countries (policy lists and dated FATF lists), sanctioned addresses, the
travel rule and the large-transfer review. Currency thresholds use the token's price per unit.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from compliance_shield.domain.decision import RuleOutcome
from compliance_shield.domain.encoding import plain_decimal
from compliance_shield.domain.facts import Facts, TravelRuleParty
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.rules.identity import checked_parties, not_applicable, passed, unavailable
from compliance_shield.domain.rules.registry import NoParams, RuleParams, rule
from compliance_shield.domain.values import RuleResult

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
TravelRuleField = Literal["name", "account", "address", "national_id", "date_of_birth", "country", "vasp"]


# -- countries ------------------------------------------------------------------------------


def _country_hits(
    facts: Facts, lists: tuple[tuple[str, Collection[str]], ...], apply_to: str = "both"
) -> tuple[list[dict[str, str]], int]:
    """Matches of the checked parties' residence and nationality against named lists.

    Returns the hits (per party, attribute, then list, in that order) and how many parties had
    an investor to check.
    """
    hits: list[dict[str, str]] = []
    checked = 0
    for side, party in checked_parties(facts):
        investor = party.investor
        if investor is None or (apply_to == "receiver" and side != "receiver"):
            continue
        checked += 1
        country = investor.country.upper()
        nationality = investor.nationality.upper() if investor.nationality is not None else None
        for _, codes in lists:
            if country in codes or nationality in codes:
                break
        else:  # the common case: neither code is on any list
            continue
        for attribute, code in (("country", country), ("nationality", nationality)):
            if code is None:
                continue
            for list_name, codes in lists:
                if code in codes:
                    hits.append({"party": side, "field": attribute, "country": code, "list": list_name})
    return hits, checked


def _describe(hits: list[dict[str, str]]) -> str:
    return "; ".join(f"{h['party']} {h['field']} {h['country']} is on the {h['list']} list" for h in hits)


class CountryBlockedParams(RuleParams):
    countries: list[CountryCode] = Field(default_factory=list)
    #: add the FATF "call for action" (countermeasures) jurisdictions from the dated lists
    include_fatf_call_for_action: bool = True

    @cached_property
    def policy_list(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """The policy's own list as ``_country_hits`` takes it (none when empty: it can match nothing)."""
        return (("policy", frozenset(self.countries)),) if self.countries else ()


@rule(
    "country_blocked",
    CountryBlockedParams,
    "A party resident in or a national of a blocked country (policy or FATF countermeasures) is refused.",
)
def country_blocked(params: CountryBlockedParams, facts: Facts, now: datetime) -> RuleOutcome:
    lists = params.policy_list
    countries = facts.countries
    missing_lists = params.include_fatf_call_for_action and countries is None
    if params.include_fatf_call_for_action and countries is not None:
        lists += (("FATF call-for-action", countries.call_for_action),)
    hits, checked = _country_hits(facts, lists)
    if hits:
        return RuleOutcome(
            result=RuleResult.FAIL,
            code=ReasonCode.COUNTRY_BLOCKED,
            message=_describe(hits),
            details={"hits": hits, "lists_as_of": _as_of(facts)},
        )
    if missing_lists:
        return unavailable("FATF country lists are unavailable")
    if not checked:
        return not_applicable("no party with an investor record to check")
    return _none_blocked(countries.as_of if countries is not None else None)


@functools.lru_cache(maxsize=64)
def _none_blocked(as_of: date | None) -> RuleOutcome:
    return passed("no party in a blocked country", lists_as_of=as_of.isoformat() if as_of is not None else None)


class CountryReviewParams(RuleParams):
    #: e.g. the India Press Note 3 (2020) land-border countries
    countries: list[CountryCode] = Field(default_factory=list)
    include_fatf_increased_monitoring: bool = True
    include_fatf_call_for_action_edd: bool = True
    #: "receiver" when only the acquiring side matters (e.g. Press Note 3: investment into India)
    apply_to: Literal["receiver", "both"] = "both"

    @cached_property
    def policy_list(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """The policy's own list as ``_country_hits`` takes it (none when empty: it can match nothing)."""
        return (("policy", frozenset(self.countries)),) if self.countries else ()


@rule(
    "country_review",
    CountryReviewParams,
    "A party tied to a listed country (policy list, FATF grey list, FATF EDD list) is sent to review.",
)
def country_review(params: CountryReviewParams, facts: Facts, now: datetime) -> RuleOutcome:
    lists = params.policy_list
    wants_fatf = params.include_fatf_increased_monitoring or params.include_fatf_call_for_action_edd
    countries = facts.countries
    if countries is not None:
        if params.include_fatf_increased_monitoring:
            lists += (("FATF increased-monitoring", countries.increased_monitoring),)
        if params.include_fatf_call_for_action_edd:
            lists += (("FATF enhanced-due-diligence", countries.call_for_action_edd),)
    hits, checked = _country_hits(facts, lists, params.apply_to)
    if hits:
        return RuleOutcome(
            result=RuleResult.REVIEW,
            code=ReasonCode.COUNTRY_REVIEW,
            message=_describe(hits),
            details={"hits": hits, "lists_as_of": _as_of(facts)},
        )
    if wants_fatf and countries is None:
        return unavailable("FATF country lists are unavailable")
    if not checked:
        return not_applicable("no party with an investor record to check")
    return _none_listed(countries.as_of if countries is not None else None)


@functools.lru_cache(maxsize=64)
def _none_listed(as_of: date | None) -> RuleOutcome:
    return passed("no party tied to a listed country", lists_as_of=as_of.isoformat() if as_of is not None else None)


def _as_of(facts: Facts) -> str | None:
    return facts.countries.as_of.isoformat() if facts.countries is not None else None


# -- sanctioned_address ---------------------------------------------------------------------


def _same_address(a: str, b: str) -> bool:
    # EVM addresses match case-insensitively; other chains' addresses are case-sensitive
    if a.startswith("0x") and b.startswith("0x"):
        return a.lower() == b.lower()
    return a == b


@rule("sanctioned_address", NoParams, "Neither address is on a sanctions list.")
def sanctioned_address(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
    evidence = facts.sanctions
    if evidence is None:
        return unavailable("sanctions screening result is unavailable")
    sides = (("sender", facts.transfer.from_address), ("receiver", facts.transfer.to_address))
    # every hit counts, even one whose spelling matches neither address: fail closed
    hits = [
        {
            "party": next((side for side, address in sides if _same_address(hit.address, address)), "screened"),
            "address": hit.address,
            "source": hit.source,
            "list_version": hit.list_version,
            "entity": hit.entity,
        }
        for hit in evidence.hits
    ]
    if not hits:
        return _no_listed_address(evidence.list_versions)
    return RuleOutcome(
        result=RuleResult.FAIL,
        code=ReasonCode.SANCTIONED_ADDRESS,
        message="; ".join(
            f"{h['party']} address {h['address']} is on {h['source']}"
            + (f" ({h['list_version']})" if h["list_version"] else "")
            + (f" as {h['entity']}" if h["entity"] else "")
            for h in hits
        ),
        details={"hits": hits},
    )


@functools.lru_cache(maxsize=256)
def _no_listed_address(list_versions: tuple[str, ...]) -> RuleOutcome:
    return passed("no address on a sanctions list", list_versions=list_versions)


# -- currency thresholds --------------------------------------------------------------------


def currency_value(facts: Facts, amount: int, currency: str) -> Decimal | RuleOutcome:
    """The value of ``amount`` base units in ``currency``, or the error outcome when unknowable."""
    value = facts.value_in_currency(amount)
    if value is None:
        return unavailable(f"token {facts.token.symbol} has no price per unit")
    if facts.token.price_currency != currency:
        return unavailable(
            f"token {facts.token.symbol} is priced in {facts.token.price_currency or 'no currency'}, "
            f"the rule's threshold is in {currency}"
        )
    return value


def money(value: Decimal, currency: str) -> str:
    """``5,000,000.00 INR``: how messages show an amount of money."""
    return f"{value:,.2f} {currency}"


def _missing(role: str, party: TravelRuleParty | None, required: list[TravelRuleField]) -> list[str]:
    if party is None:
        return [f"{role}.{name}" for name in required]
    return [f"{role}.{name}" for name in required if not (getattr(party, name) or "").strip()]


def _default_fields() -> list[TravelRuleField]:
    return ["name", "account"]


_TRAVEL_DATA_COMPLETE = passed("originator and beneficiary data complete")


class TravelRuleParams(RuleParams):
    #: transfers worth at least this much (0 = every transfer) need full party data
    threshold: Decimal = Field(ge=0)
    currency: CurrencyCode
    required_fields: list[TravelRuleField] = Field(default_factory=_default_fields, min_length=1)


@rule(
    "travel_rule",
    TravelRuleParams,
    "At or above the threshold, originator and beneficiary data carry every required field.",
)
def travel_rule(params: TravelRuleParams, facts: Facts, now: datetime) -> RuleOutcome:
    if params.threshold > 0:
        value = currency_value(facts, facts.transfer.amount, params.currency)
        if isinstance(value, RuleOutcome):
            return value
        if value < params.threshold:
            return passed(f"value {money(value, params.currency)} is below the travel-rule threshold")
    data = facts.transfer.travel_rule
    required = params.required_fields
    missing = _missing("originator", data.originator if data else None, required) + _missing(
        "beneficiary", data.beneficiary if data else None, required
    )
    if not missing:
        return _TRAVEL_DATA_COMPLETE
    return RuleOutcome(
        result=RuleResult.FAIL,
        code=ReasonCode.TRAVEL_RULE_DATA_MISSING,
        message=f"travel-rule data missing: {', '.join(missing)}",
        details={"missing": missing, "threshold": plain_decimal(params.threshold), "currency": params.currency},
    )


# -- large_transfer_review ------------------------------------------------------------------


class LargeTransferParams(RuleParams):
    threshold: Decimal = Field(gt=0)
    currency: CurrencyCode


@rule(
    "large_transfer_review",
    LargeTransferParams,
    "A transfer worth at least the threshold goes to review (enhanced due diligence).",
)
def large_transfer_review(params: LargeTransferParams, facts: Facts, now: datetime) -> RuleOutcome:
    value = currency_value(facts, facts.transfer.amount, params.currency)
    if isinstance(value, RuleOutcome):
        return value
    if value < params.threshold:
        return passed(f"value {money(value, params.currency)} is below the review threshold")
    return RuleOutcome(
        result=RuleResult.REVIEW,
        code=ReasonCode.LARGE_TRANSFER_REVIEW,
        message=f"transfer value {money(value, params.currency)} is at or above "
        f"{money(params.threshold, params.currency)}",
        details={
            "value": plain_decimal(value),
            "threshold": plain_decimal(params.threshold),
            "currency": params.currency,
        },
    )
