"""Operator lists (internal block lists, EU or national lists) in a plain CSV or JSON format.

CSV (UTF-8, a header row; column names case-insensitive; several values in one cell separated
by ``;``)::

    uid,kind,name,aliases,dates_of_birth,nationalities,countries,programmes,addresses,asset,remarks
    EU-123,individual,Ivan PETROV,Ivan Petrow;I. Petrov,1970-03-01,RU,RU;CY,EU-RU,0xabc…;TXyz…,ETH,…

Only ``name`` or ``addresses`` is required per row (an address-only row lists addresses without an
entity). JSON: ``{"published_on": "2026-01-31", "entities": [{…same fields, "addresses":
["0x…", {"address": "T…", "asset": "TRX"}]}], "addresses": [{"address": …, "asset": …}]}`` or
just the array of entities. Countries may be ISO alpha-2 codes or names. An entity without
``uid`` gets one derived from its name, so it stays the same list entry from one version to the next.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compliance_shield.adapters.sanctions import countries
from compliance_shield.adapters.sanctions.common import (
    ListFiles,
    decode,
    invalid,
    list_address,
    parse_dob,
    unique,
    unique_addresses,
)
from compliance_shield.domain import encoding
from compliance_shield.domain.screening import EntityKind, ListAddress, ListEntity, ParsedList
from compliance_shield.errors import ListInvalid

_COLUMNS = {
    "uid": "uid",
    "id": "uid",
    "kind": "kind",
    "type": "kind",
    "name": "name",
    "aliases": "aliases",
    "alias": "aliases",
    "dates_of_birth": "dates_of_birth",
    "date_of_birth": "dates_of_birth",
    "dob": "dates_of_birth",
    "nationalities": "nationalities",
    "nationality": "nationalities",
    "countries": "countries",
    "country": "countries",
    "programmes": "programmes",
    "programme": "programmes",
    "programs": "programmes",
    "program": "programmes",
    "addresses": "addresses",
    "address": "addresses",
    "asset": "asset",
    "remarks": "remarks",
}


class _AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=1, max_length=128)
    asset: str = Field(default="ANY", min_length=1, max_length=16)


class _EntityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uid: str | None = Field(default=None, min_length=1, max_length=128)
    kind: EntityKind = EntityKind.UNKNOWN
    name: str = Field(min_length=1, max_length=500)
    aliases: list[str] = Field(default_factory=list)
    dates_of_birth: list[str] = Field(default_factory=list)
    nationalities: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    programmes: list[str] = Field(default_factory=list)
    addresses: list[str | _AddressIn] = Field(default_factory=list)
    remarks: str | None = None


class _ListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    published_on: date | None = None
    entities: list[_EntityIn] = Field(default_factory=list)
    addresses: list[_AddressIn] = Field(default_factory=list)


def _uid(name: str) -> str:
    return "name:" + hashlib.sha256(" ".join(name.lower().split()).encode()).hexdigest()[:16]


def _entity(item: _EntityIn, where: str) -> tuple[ListEntity, list[ListAddress]]:
    uid = item.uid or _uid(item.name)
    entity = ListEntity(
        uid=uid,
        kind=item.kind,
        name=" ".join(item.name.split()),
        aliases=unique([" ".join(a.split()) for a in item.aliases]),
        dates_of_birth=unique([d for value in item.dates_of_birth for d in parse_dob(value)]),
        nationalities=countries.codes(item.nationalities),
        countries=countries.codes(item.countries),
        programmes=unique(item.programmes),
        remarks=item.remarks,
    )
    addresses = [
        list_address(a, "ANY", uid, where) if isinstance(a, str) else list_address(a.address, a.asset, uid, where)
        for a in item.addresses
    ]
    return entity, addresses


def _from_json(name: str, text: str) -> _ListIn:
    try:
        data: Any = encoding.loads(text)
    except encoding.InvalidJSON as exc:
        raise invalid(name, f"not valid JSON: {exc}") from exc
    if isinstance(data, list):
        data = {"entities": data}
    try:
        return _ListIn.model_validate(data)
    except ValidationError as exc:
        raise ListInvalid(
            [{"field": f"{name}:" + ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        ) from exc


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def _from_csv(name: str, text: str) -> _ListIn:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise invalid(name, "the file is empty") from None
    except csv.Error as exc:
        raise invalid(name, f"malformed CSV: {exc}") from exc
    columns = [_COLUMNS.get(h.strip().lower()) for h in header]
    unknown = [h for h, c in zip(header, columns, strict=True) if c is None]
    if unknown:
        raise invalid(f"{name}:1", f"unknown columns: {', '.join(unknown)}")
    if "name" not in columns and "addresses" not in columns:
        raise invalid(f"{name}:1", "a name or an addresses column is required")
    result = _ListIn()
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                raise invalid(f"{name}:{number}", f"expected {len(columns)} columns, found {len(row)}")
            cells = {c: v.strip() for c, v in zip(columns, row, strict=True) if c}
            asset = cells.get("asset") or "ANY"
            addresses = [_AddressIn(address=a, asset=asset) for a in _split(cells.get("addresses"))]
            for a in addresses:
                list_address(a.address, asset, None, f"{name}:{number}")  # refuse a bad address at its line
            if not cells.get("name"):
                if not addresses:
                    raise invalid(f"{name}:{number}", "the row has neither a name nor an address")
                result.addresses.extend(addresses)
                continue
            try:
                entity = _EntityIn(
                    uid=cells.get("uid") or None,
                    kind=cells.get("kind") or EntityKind.UNKNOWN,
                    name=cells["name"],
                    aliases=_split(cells.get("aliases")),
                    dates_of_birth=_split(cells.get("dates_of_birth")),
                    nationalities=_split(cells.get("nationalities")),
                    countries=_split(cells.get("countries")),
                    programmes=_split(cells.get("programmes")),
                    addresses=list(addresses),
                    remarks=cells.get("remarks") or None,
                )
            except ValidationError as exc:
                raise ListInvalid(
                    [{"field": f"{name}:{number}:{e['loc'][0]}", "message": e["msg"]} for e in exc.errors()]
                ) from exc
            result.entities.append(entity)
    except csv.Error as exc:
        raise invalid(name, f"malformed CSV: {exc}") from exc
    return result


def parse(source: str, files: ListFiles) -> ParsedList:
    entities: list[ListEntity] = []
    addresses: list[ListAddress] = []
    published: date | None = None
    for name in sorted(files):
        text = decode(name, files[name])
        data = _from_json(name, text) if text.lstrip().startswith(("{", "[")) else _from_csv(name, text)
        published = data.published_on or published
        for index, item in enumerate(data.entities):
            entity, own = _entity(item, f"{name}: entity {index + 1}")
            entities.append(entity)
            addresses.extend(own)
        for index, a in enumerate(data.addresses):
            addresses.append(list_address(a.address, a.asset, None, f"{name}: address {index + 1}"))
    if not entities and not addresses:
        raise invalid("files", "the list has no entity and no address")
    uids = [e.uid for e in entities]
    duplicates = sorted({u for u in uids if uids.count(u) > 1})
    if duplicates:
        raise invalid("uid", f"duplicate entries: {', '.join(duplicates[:5])}")
    return ParsedList(
        source=source,
        format="operator",
        published_on=published,
        entities=tuple(entities),
        addresses=unique_addresses(addresses),
    )
