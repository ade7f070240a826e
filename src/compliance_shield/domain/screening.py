"""Sanctions lists as data: listed entities, their digital-currency addresses, and screening results.

A list is parsed (by an adapter per publisher format) into a ``ParsedList``; an import stores it
as one immutable *list version* labelled ``<source>:<publication date or import date>:<hash prefix>``.
Entity ``uid``s are the publisher's own identifiers (OFAC ``ent_num``/``uid``, the UN reference number
``QDi.001``), stable
across versions, so a dismissed false positive keeps applying to the same list entry.

Dates of birth are ISO strings of the precision the list gives: ``1971``, ``1971-05`` or
``1971-05-13``. Countries and nationalities are ISO 3166 alpha-2 codes where the list's country
name could be mapped, so they compare with investors' codes.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class EntityKind(StrEnum):
    INDIVIDUAL = "individual"
    ENTITY = "entity"
    VESSEL = "vessel"
    AIRCRAFT = "aircraft"
    UNKNOWN = "unknown"


class ScreeningStatus(StrEnum):
    """An investor's name-screening state (default thresholds 0.90 / 0.70)."""

    PENDING = "pending"
    CLEAR = "clear"
    REVIEW = "review"
    MATCH = "match"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ListAddress(_Frozen):
    """A digital-currency address on a list, as its normalized key (``domain.addresses.normalize_any``).

    ``asset`` is the list's own label (``ETH``, ``XBT``, ``USDT`` …). Labels are unreliable (Tron
    addresses filed under XBT, one address under several tokens), so matching uses the address only.
    """

    address: str
    asset: str
    entity_uid: str | None = None


class ListEntity(_Frozen):
    uid: str
    kind: EntityKind = EntityKind.UNKNOWN
    name: str
    aliases: tuple[str, ...] = ()
    dates_of_birth: tuple[str, ...] = ()
    nationalities: tuple[str, ...] = ()
    #: countries of address, residence, registration or birth (ISO alpha-2)
    countries: tuple[str, ...] = ()
    programmes: tuple[str, ...] = ()
    remarks: str | None = None


class ParsedList(_Frozen):
    """The content of one list file (or file set), ready to be stored as a version."""

    source: str
    format: str
    published_on: date | None = None
    entities: tuple[ListEntity, ...] = ()
    addresses: tuple[ListAddress, ...] = ()

    @property
    def name_count(self) -> int:
        return sum(1 + len(e.aliases) for e in self.entities)


def version_label(source: str, published_on: date | None, imported_on: date, content_hash: str) -> str:
    """``un:2026-02-27:3fa2c1d09b7e`` — the public name of a list version, cited by decisions."""
    day = (published_on or imported_on).isoformat()
    return f"{source}:{day}:{content_hash.removeprefix('sha256:')[:12]}"


# -- name-screening results -----------------------------------------------------------------


class NameQuery(_Frozen):
    """Who is screened: a name and the qualifiers that raise or lower a match's score."""

    name: str
    kind: EntityKind | None = None
    date_of_birth: str | None = None
    countries: tuple[str, ...] = ()


class Feature(_Frozen):
    """One line of a score's explanation: what was compared and how much it moved the score."""

    feature: str
    value: float
    detail: str = ""


class NameMatch(_Frozen):
    """A list entry that scored at or above the reporting floor for a query."""

    source: str
    list_version: str
    entity_uid: str
    entity_name: str
    entity_kind: EntityKind
    matched_name: str
    score: float = Field(ge=0, le=1)
    programmes: tuple[str, ...] = ()
    explanation: tuple[Feature, ...] = ()
    dismissed: bool = False


class PartyScreening(_Frozen):
    """The stored result of screening an investor's name: the ``sanctioned_party`` rule's evidence."""

    status: ScreeningStatus = ScreeningStatus.PENDING
    hits: tuple[NameMatch, ...] = ()
    list_versions: tuple[str, ...] = ()
    screened_at: datetime | None = None


def status_for(hits: tuple[NameMatch, ...], reject: float = 0.90, review: float = 0.70) -> ScreeningStatus:
    """The screening status for ``hits``: dismissed hits never count."""
    best = max((h.score for h in hits if not h.dismissed), default=0.0)
    if best >= reject:
        return ScreeningStatus.MATCH
    if best >= review:
        return ScreeningStatus.REVIEW
    return ScreeningStatus.CLEAR
