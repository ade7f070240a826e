"""Identity rules: KYC, wallet binding, investor category, accreditation and PEP status.

Party rules look at the parties that actually change hands: on an issuance the sender is the
issuer's treasury and is not checked; on a redemption the receiver is, and is not checked either.
``checked_parties`` encodes that once for every rule module, next to the small outcome helpers
the other rule modules share.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from compliance_shield.domain.decision import RuleOutcome, static
from compliance_shield.domain.facts import Facts, PartyFacts
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.rules.registry import NoParams, RuleParams, rule
from compliance_shield.domain.values import KycStatus, RuleResult, TransferType

Side = Literal["sender", "receiver"]


_ISSUANCE = TransferType.ISSUANCE
_REDEMPTION = TransferType.REDEMPTION
_PASS = RuleResult.PASS


def checked_parties(facts: Facts) -> tuple[tuple[Side, PartyFacts], ...]:
    """The sides a party rule checks: the receiver of an issuance, the sender of a redemption."""
    kind = facts.transfer.transfer_type
    if kind is _ISSUANCE:
        return (("receiver", facts.receiver),)
    if kind is _REDEMPTION:
        return (("sender", facts.sender),)
    return (("sender", facts.sender), ("receiver", facts.receiver))


#: the sides ``checked_parties`` names, per transfer type
CHECKED_SIDES: dict[TransferType, tuple[Side, ...]] = {
    TransferType.ISSUANCE: ("receiver",),
    TransferType.REDEMPTION: ("sender",),
    TransferType.SECONDARY: ("sender", "receiver"),
}


def receiver_checked(facts: Facts) -> bool:
    """False on a redemption, whose receiver is the issuer."""
    return facts.transfer.transfer_type is not _REDEMPTION


def passed(message: str, **details: object) -> RuleOutcome:
    """A pass. With hashable details (str, int, tuples …) the outcome is shared like ``static``:
    most passes repeat exactly, and the engine then reuses their trace line and its JSON form.

    A pass whose message and details never vary is best made once, at import (``PASS_…``)."""
    if not details:
        return static(_PASS, message)
    try:
        return static(_PASS, message, tuple(details.items()))
    except TypeError:  # unhashable details: a fresh outcome
        return RuleOutcome(result=_PASS, message=message, details=dict(details))


def not_applicable(message: str) -> RuleOutcome:
    return static(RuleResult.NOT_APPLICABLE, message)


def unavailable(message: str, **details: object) -> RuleOutcome:
    """Evidence the rule needs is missing: fail closed with ``error``."""
    return RuleOutcome(
        result=RuleResult.ERROR, code=ReasonCode.EVIDENCE_UNAVAILABLE, message=message, details=dict(details)
    )


def day(moment: datetime) -> str:
    """A timestamp as the date a message names (``2026-01-01``)."""
    return moment.date().isoformat()


# -- kyc_verified ---------------------------------------------------------------------------

_KYC_PASSES = {kind: passed("KYC verified and current", checked=sides) for kind, sides in CHECKED_SIDES.items()}


def _kyc_problem(side: Side, party: PartyFacts, now: datetime) -> tuple[ReasonCode, str] | None:
    investor = party.investor
    if investor is None:
        return ReasonCode.KYC_NOT_VERIFIED, f"{side} address {party.address} has no investor on file"
    if investor.kyc_status is KycStatus.EXPIRED:
        when = f" on {day(investor.kyc_expires_at)}" if investor.kyc_expires_at else ""
        return ReasonCode.KYC_EXPIRED, f"{side} KYC expired{when}"
    if investor.kyc_status is not KycStatus.VERIFIED:
        return ReasonCode.KYC_NOT_VERIFIED, f"{side} KYC status is {investor.kyc_status.value}"
    if investor.kyc_expires_at is not None and investor.kyc_expires_at <= now:
        return ReasonCode.KYC_EXPIRED, f"{side} KYC expired on {day(investor.kyc_expires_at)}"
    return None


_VERIFIED = KycStatus.VERIFIED


@rule(
    "kyc_verified",
    NoParams,
    "Both parties' investors have verified KYC that has not expired (no expiry on file = no expiry).",
)
def kyc_verified(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
    parties = checked_parties(facts)
    if not facts.kyc_checks:  # the common case, decided by the registry: all current?
        for _, party in parties:
            investor = party.investor
            if investor is None or investor.kyc_status is not _VERIFIED:
                break
            expires = investor.kyc_expires_at
            if expires is not None and expires <= now:
                break
        else:
            return _KYC_PASSES[facts.transfer.transfer_type]
    # an investor whose KYC provider could not be asked has no current answer: judge the others
    unknown = {check.investor_id for check in facts.kyc_checks if check.status is None} if facts.kyc_checks else ()
    undecided = [side for side, party in parties if party.investor and party.investor.id in unknown]
    problems = [
        (side, found)
        for side, party in parties
        if side not in undecided and (found := _kyc_problem(side, party, now)) is not None
    ]
    if not problems and undecided:
        return unavailable(f"the KYC provider gave no current answer for the {' and '.join(undecided)}")
    if not problems:
        return passed("KYC verified and current", checked=tuple(side for side, _ in parties))
    # "not verified" is the stronger finding, so it names the outcome when both occur
    problems.sort(key=lambda p: p[1][0] is not ReasonCode.KYC_NOT_VERIFIED)
    return RuleOutcome(
        result=RuleResult.FAIL,
        code=problems[0][1][0],
        message="; ".join(message for _, (_, message) in problems),
        details={"problems": [{"party": side, "code": code.value} for side, (code, _) in problems]},
    )


# -- wallet_bound ---------------------------------------------------------------------------


_BOUND = passed("addresses are bound to investors")


@rule("wallet_bound", NoParams, "Each address is a wallet bound to a known investor (the whitelist).")
def wallet_bound(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
    parties = checked_parties(facts)
    for _, party in parties:
        if party.wallet is None or party.investor is None:
            break
    else:
        return _BOUND
    unbound = [(side, party.address) for side, party in parties if party.wallet is None or party.investor is None]
    return RuleOutcome(
        result=RuleResult.FAIL,
        code=ReasonCode.WALLET_NOT_BOUND,
        message="; ".join(f"{side} address {a} is not bound to an investor" for side, a in unbound),
        details={"unbound": [{"party": side, "address": address} for side, address in unbound]},
    )


# -- investor_category ----------------------------------------------------------------------


class InvestorCategoryParams(RuleParams):
    allowed: list[str] = Field(min_length=1)
    apply_to: Literal["receiver", "both"] = "receiver"


_CATEGORY_ALLOWED = passed("investor category allowed")


@rule(
    "investor_category",
    InvestorCategoryParams,
    "The receiver's (or both parties') investor category is one the token allows.",
)
def investor_category(params: InvestorCategoryParams, facts: Facts, now: datetime) -> RuleOutcome:
    parties = [
        (side, party) for side, party in checked_parties(facts) if params.apply_to == "both" or side == "receiver"
    ]
    if not parties:
        return not_applicable("no party of this transfer is subject to the category rule")
    refused: list[dict[str, str | None]] = []
    for side, party in parties:
        category = party.investor.category if party.investor is not None else None
        if category not in params.allowed:
            refused.append({"party": side, "category": category})
    if not refused:
        return _CATEGORY_ALLOWED
    return RuleOutcome(
        result=RuleResult.FAIL,
        code=ReasonCode.CATEGORY_NOT_ALLOWED,
        message="; ".join(
            f"{r['party']} category {r['category'] or 'unknown'} is not one of {', '.join(params.allowed)}"
            for r in refused
        ),
        details={"refused": refused, "allowed": params.allowed},
    )


# -- accreditation_valid --------------------------------------------------------------------


class AccreditationParams(RuleParams):
    #: categories whose membership rests on an accreditation certificate
    categories: list[str] = Field(default_factory=lambda: ["accredited"], min_length=1)


@rule(
    "accreditation_valid",
    AccreditationParams,
    "A receiver in an accredited category holds an accreditation that has not expired.",
)
def accreditation_valid(params: AccreditationParams, facts: Facts, now: datetime) -> RuleOutcome:
    investor = facts.receiver.investor if receiver_checked(facts) else None
    if investor is None or investor.category not in params.categories:
        return not_applicable("receiver is not in an accredited category")
    expires = investor.accreditation_expires_at
    if expires is not None and expires > now:
        return _accredited_until(expires.date())
    message = (
        "receiver has no accreditation on file"
        if expires is None
        else f"receiver accreditation expired on {day(expires)}"
    )
    return RuleOutcome(
        result=RuleResult.FAIL,
        code=ReasonCode.ACCREDITATION_EXPIRED,
        message=message,
        details={"category": investor.category, "expires_at": expires.isoformat() if expires else None},
    )


@functools.lru_cache(maxsize=1024)
def _accredited_until(until: date) -> RuleOutcome:
    # keyed by the date the message names, not the instant: equal instants in other zones differ
    return passed(f"receiver accreditation valid until {until.isoformat()}")


# -- pep_review -----------------------------------------------------------------------------


_NO_PEP = passed("no politically exposed party")


@rule("pep_review", NoParams, "A politically exposed party sends the transfer to review.")
def pep_review(params: NoParams, facts: Facts, now: datetime) -> RuleOutcome:
    parties = checked_parties(facts)
    for _, party in parties:
        if party.investor is not None and party.investor.pep:
            break
    else:
        return _NO_PEP
    peps = [side for side, party in parties if party.investor is not None and party.investor.pep]
    return RuleOutcome(
        result=RuleResult.REVIEW,
        code=ReasonCode.PEP_REVIEW,
        message=f"{' and '.join(peps)} {'is a' if len(peps) == 1 else 'are'} politically exposed "
        f"{'person' if len(peps) == 1 else 'persons'}",
        details={"parties": peps},
    )
