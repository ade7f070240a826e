"""``sanctioned_party``: the parties' names screened against the sanctions lists.

The evidence is each investor's stored name-screening result (``InvestorFacts.screening``): the
hits at or above the reporting floor, with their scores, and the list versions screened against.
Screening happens when an investor is created or changed and again whenever a list version
changes, so the check path only reads it. Dismissed hits (an officer's recorded false positive
for that list entry) never count.

* a hit at or above ``reject_threshold`` → fail ``SANCTIONED_PARTY``;
* else a hit at or above ``review_threshold`` → review ``SANCTIONS_REVIEW``;
* an investor never screened (``pending``), screened before an active list of names was imported
  (neither the re-screening sweep nor the check itself could screen it against that list yet), or
  screened against fewer list versions than ``min_list_versions`` → error
  ``EVIDENCE_UNAVAILABLE`` (fail closed);
* no active list of names at all, where the deployment requires one (production, or
  ``SCREENING_REQUIRE_LISTS``) → error ``EVIDENCE_UNAVAILABLE``: a deployment that never imported
  a list screens nothing, and must say so rather than pass;
* a side without an investor is left to ``wallet_bound``.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from compliance_shield.domain.decision import RuleOutcome
from compliance_shield.domain.facts import Facts
from compliance_shield.domain.reasons import ReasonCode
from compliance_shield.domain.rules.identity import checked_parties, not_applicable, passed, unavailable
from compliance_shield.domain.rules.registry import RuleParams, rule
from compliance_shield.domain.screening import NameMatch, ScreeningStatus
from compliance_shield.domain.values import RuleResult


class SanctionedPartyParams(RuleParams):
    #: regulatory-defaults row 2: ≥ 0.90 reject, 0.70–0.90 escalate
    reject_threshold: float = Field(default=0.90, gt=0, le=1)
    review_threshold: float = Field(default=0.70, gt=0, le=1)
    #: fewer list versions than this behind a screening result counts as no evidence
    min_list_versions: int = Field(default=0, ge=0, le=50)
    apply_to: Literal["receiver", "both"] = "both"

    @model_validator(mode="after")
    def _ordered(self) -> SanctionedPartyParams:
        if self.review_threshold > self.reject_threshold:
            raise ValueError("review_threshold must not exceed reject_threshold")
        return self


def _hit(side: str, hit: NameMatch) -> dict[str, Any]:
    return {
        "party": side,
        "source": hit.source,
        "list_version": hit.list_version,
        "entity_uid": hit.entity_uid,
        "entity": hit.entity_name,
        "matched_name": hit.matched_name,
        "score": hit.score,
    }


def _not_consulted(facts: Facts, consulted: tuple[str, ...]) -> list[str]:
    """Active lists of names a screening did not consult (one was imported since, and neither the
    re-screening sweep nor the check itself has screened this investor against it)."""
    active = facts.sanctions.active_list_versions if facts.sanctions is not None else None
    if not active:
        return []
    return sorted(set(active).difference(consulted))


@rule(
    "sanctioned_party",
    SanctionedPartyParams,
    "No party's name matches a sanctions-list entry (fuzzy score; dismissed false positives excepted).",
)
def sanctioned_party(params: SanctionedPartyParams, facts: Facts, now: datetime) -> RuleOutcome:
    evidence = facts.sanctions
    if evidence is not None and evidence.name_lists_required and not evidence.active_list_versions:
        return unavailable("no sanctions list of names is active: import one before screening (see README)")
    cleared = _all_cleared(params, facts)
    if cleared is not None:
        return _no_match(tuple(sorted(set(cleared))))
    rejects: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    missing: list[str] = []
    versions: set[str] = set()
    checked = 0
    active = facts.sanctions.active_list_versions if facts.sanctions is not None else None
    for side, party in checked_parties(facts):
        investor = party.investor
        if investor is None or (params.apply_to == "receiver" and side != "receiver"):
            continue
        checked += 1
        screening = investor.screening
        if screening is None or screening.status is ScreeningStatus.PENDING:
            missing.append(f"{side} investor {investor.id} has not been screened")
            continue
        if active and (superseded := _not_consulted(facts, screening.list_versions)):
            missing.append(f"{side} investor {investor.id} has not yet been screened against {', '.join(superseded)}")
            continue
        if len(screening.list_versions) < params.min_list_versions:
            missing.append(
                f"{side} investor {investor.id} was screened against {len(screening.list_versions)} list "
                f"version(s), the policy needs {params.min_list_versions}"
            )
            continue
        versions.update(screening.list_versions)
        for hit in screening.hits:
            if hit.dismissed:
                continue
            if hit.score >= params.reject_threshold:
                rejects.append(_hit(side, hit))
            elif hit.score >= params.review_threshold:
                reviews.append(_hit(side, hit))
    found = rejects or reviews
    if found:
        result, code = (RuleResult.FAIL, ReasonCode.SANCTIONED_PARTY) if rejects else (
            RuleResult.REVIEW, ReasonCode.SANCTIONS_REVIEW
        )  # fmt: skip
        best = sorted(found, key=lambda h: -float(h["score"]))
        return RuleOutcome(
            result=result,
            code=code,
            message="; ".join(
                f"{h['party']} name matches {h['entity']} on {h['list_version']} (score {h['score']:.2f})"
                for h in best[:3]
            ),
            details={"hits": best, "list_versions": sorted(versions)},
        )
    if missing:
        return unavailable("; ".join(missing))
    if not checked:
        return not_applicable("no party with an investor record to check")
    return _no_match(tuple(sorted(versions)))


def _all_cleared(params: SanctionedPartyParams, facts: Facts) -> tuple[str, ...] | None:
    """The list versions consulted when every party to check was screened without any hit, against
    enough list versions, and no list has been imported since; None otherwise (or when no party
    has an investor): then the full rule below decides and explains."""
    if facts.sanctions is not None and facts.sanctions.active_list_versions:
        return None
    consulted: tuple[str, ...] | None = None
    receiver_only = params.apply_to == "receiver"
    for side, party in checked_parties(facts):
        investor = party.investor
        if investor is None or (receiver_only and side != "receiver"):
            continue
        screening = investor.screening
        if (
            screening is None
            or screening.status is ScreeningStatus.PENDING
            or screening.hits
            or len(screening.list_versions) < params.min_list_versions
        ):
            return None
        consulted = screening.list_versions if consulted is None else consulted + screening.list_versions
    return consulted


@functools.lru_cache(maxsize=256)
def _no_match(list_versions: tuple[str, ...]) -> RuleOutcome:
    return passed("no party name matches a sanctions list", list_versions=list_versions)
