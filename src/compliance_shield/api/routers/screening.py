"""Screening against the sanctions lists: names (batch), addresses, investors' results, dismissals
of false positives, and the list versions in force."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from compliance_shield.api.auth import READ, WRITE, Principal
from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container
from compliance_shield.domain.screening import EntityKind, NameMatch, NameQuery, status_for
from compliance_shield.services.reference.inputs import ANY_ADDRESS_PATTERN

router = APIRouter(prefix="/v1/screening", tags=["screening"])

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
PartialDate = Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]
SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _kind(value: object) -> object:
    """The lists' own type names, in any case: ``Individual``/``INDIVIDUAL``, ``Entity``, ``Vessel``,
    ``Aircraft`` (OFAC ``sdnType``, UN ``INDIVIDUAL``/``ENTITY``) — and the investor types."""
    return value.strip().lower() if isinstance(value, str) else value


ScreenedKind = Annotated[
    Literal[EntityKind.INDIVIDUAL, EntityKind.ENTITY, EntityKind.VESSEL, EntityKind.AIRCRAFT], BeforeValidator(_kind)
]


class NameQueryIn(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
    #: individual, entity, vessel or aircraft (case-insensitive, as the lists write them)
    type: ScreenedKind | None = None
    #: YYYY, YYYY-MM or YYYY-MM-DD
    date_of_birth: PartialDate | None = None
    country: CountryCode | None = None
    nationality: CountryCode | None = None

    def query(self) -> NameQuery:
        countries = tuple(dict.fromkeys(c for c in (self.country, self.nationality) if c))
        return NameQuery(name=self.name, kind=self.type, date_of_birth=self.date_of_birth, countries=countries)


class NameScreeningIn(_In):
    queries: list[NameQueryIn] = Field(min_length=1, max_length=1000)
    #: report matches scoring at least this much (regulatory-defaults row 2: log ≥ 0.50)
    min_score: float = Field(default=0.5, ge=0.3, le=1)
    limit: int = Field(default=10, ge=1, le=50)


class NameResultOut(BaseModel):
    name: str
    #: clear / review (≥ 0.70) / match (≥ 0.90) by the default thresholds
    status: str
    best_score: float
    matches: list[NameMatch]


class NameScreeningOut(BaseModel):
    list_versions: list[str]
    results: list[NameResultOut]


class AddressHitOut(BaseModel):
    address: str
    source: str
    list_version: str | None
    entity: str | None
    entity_uid: str | None = None
    asset: str | None = None


class AddressScreeningOut(BaseModel):
    address: str
    sanctioned: bool
    hits: list[AddressHitOut]
    list_versions: list[str]


class DismissalIn(_In):
    investor_id: UUID
    source: SourceName
    entity_uid: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000, strip_whitespace=True)]


class DismissalOut(BaseModel):
    id: UUID
    investor_id: UUID
    source: str
    entity_uid: str
    entity_name: str | None
    score: float | None
    reason: str
    dismissed_by: str
    dismissed_at: datetime
    #: the investor's screening status once the dismissal applies
    screening_status: str | None = None


class InvestorScreeningOut(BaseModel):
    investor_id: UUID
    name: str
    status: str
    hits: list[NameMatch]
    list_versions: list[str]
    screened_at: datetime | None
    dismissals: list[DismissalOut]


class ListVersionOut(BaseModel):
    source: str
    label: str
    format: str
    published_on: date | None
    content_hash: str
    entity_count: int
    name_count: int
    address_count: int
    origin: str | None
    imported_at: datetime
    imported_by: str
    status: str
    superseded_at: datetime | None


@router.post("/names", response_model=NameScreeningOut, summary="Screen names against the sanctions lists")
async def screen_names(
    body: NameScreeningIn, _: Principal = Depends(READ), c: Container = Depends(container)
) -> dict[str, Any]:
    """Fuzzy-match each query (name, optional type, date of birth and countries) against every
    active list version; each match carries its score and a feature-level explanation."""
    results = await c.screening.screen_names([q.query() for q in body.queries], floor=body.min_score, limit=body.limit)
    return {
        "list_versions": list(c.screening.index.versions),
        "results": [
            {
                "name": q.name,
                "status": status_for(tuple(matches)).value,
                "best_score": max((m.score for m in matches), default=0.0),
                "matches": matches,
            }
            for q, matches in zip(body.queries, results, strict=True)
        ],
    }


@router.get("/addresses/{address}", response_model=AddressScreeningOut, summary="Screen one address")
async def screen_address(
    address: Annotated[str, Path(pattern=ANY_ADDRESS_PATTERN)],
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    """Exact match after normalization per chain, against operator entries and the active lists."""
    return c.screening.address_hits(address)


@router.get("/investors/{investor_id}", response_model=InvestorScreeningOut, summary="An investor's screening")
async def investor_screening(
    investor_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)
) -> dict[str, Any]:
    return await c.screening.investor_screening(investor_id)


@router.post(
    "/dismissals",
    response_model=DismissalOut,
    status_code=status.HTTP_201_CREATED,
    summary="Dismiss a false-positive hit",
)
async def dismiss(
    body: DismissalIn, p: Principal = Depends(WRITE), c: Container = Depends(container)
) -> dict[str, Any]:
    """Record that the investor is not the listed entry: the entry no longer counts for this investor,
    in this or any later list version. Audited; the investor is re-screened at once."""
    return await c.screening.dismiss(body.investor_id, body.source, body.entity_uid, body.reason, p.sub)


@router.get("/lists", response_model=list[ListVersionOut], summary="Sanctions list versions")
async def list_versions(
    source: SourceName | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> list[dict[str, Any]]:
    """Imported list versions, newest first; ``status`` is ``active`` for the one in force per source."""
    return await c.lists.versions(source, limit)
