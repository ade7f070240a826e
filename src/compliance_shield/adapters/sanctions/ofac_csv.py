"""OFAC SDN list in the legacy CSV layout: ``sdn.csv``, ``add.csv``, ``alt.csv``, ``sdn_comments.csv``.

Headerless CSV, ``-0-`` for an empty field, joined on ``ent_num``:

* ``sdn.csv``: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
  Vess_flag, Vess_owner, Remarks (``SDN_Type`` empty for entities; programmes ``A] [B``);
* ``add.csv``: ent_num, Add_num, Address, City/State/Province/Postal Code, Country, Add_remarks;
* ``alt.csv``: ent_num, alt_num, alt_type (aka/fka/nka), alt_name, alt_remarks;
* ``sdn_comments.csv``: ent_num, the continuation of a Remarks value cut at 1,000 characters
  (appended verbatim: the cut may fall inside a word or an address).

Remarks carry dates of birth (``DOB 10 Dec 1948``), nationality/citizenship, place of birth and
``Digital Currency Address - XBT 1abc…`` items. The set has no publication date; pass one on import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from compliance_shield.adapters.sanctions import countries
from compliance_shield.adapters.sanctions.common import (
    ListFiles,
    decode,
    invalid,
    remark_addresses,
    remark_birth_countries,
    remark_dobs,
    remark_nationalities,
    unique,
    unique_addresses,
)
from compliance_shield.domain.screening import EntityKind, ListAddress, ListEntity, ParsedList

FILES = ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv")
_WIDTH = {"sdn.csv": 12, "add.csv": 6, "alt.csv": 5, "sdn_comments.csv": 2}
_KINDS = {"individual": EntityKind.INDIVIDUAL, "vessel": EntityKind.VESSEL, "aircraft": EntityKind.AIRCRAFT}


def _value(raw: str) -> str | None:
    value = raw.strip()
    return None if value in ("", "-0-") else value


def _rows(files: ListFiles, name: str, required: bool) -> Iterator[tuple[int, list[str | None]]]:
    found = {n.lower(): n for n in files}
    if name not in found:
        if required:
            raise invalid(name, "missing from the OFAC CSV set")
        return
    text = decode(name, files[found[name]])
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != _WIDTH[name]:
                raise invalid(f"{name}:{number}", f"expected {_WIDTH[name]} columns, found {len(row)}")
            ent_num = row[0].strip()
            if not ent_num.isdigit():
                raise invalid(f"{name}:{number}", f"ent_num {ent_num!r} is not a number")
            yield number, [_value(v) for v in row]
    except csv.Error as exc:
        raise invalid(name, f"malformed CSV: {exc}") from exc


def parse(source: str, files: ListFiles) -> ParsedList:
    entries: dict[str, list[str | None]] = {}
    for number, row in _rows(files, "sdn.csv", required=True):
        uid = str(row[0])
        if uid in entries:
            raise invalid(f"sdn.csv:{number}", f"ent_num {uid} appears twice")
        if not row[1]:
            raise invalid(f"sdn.csv:{number}", "SDN_Name is empty")
        entries[uid] = row
    if not entries:
        raise invalid("sdn.csv", "no entries")
    remarks = {uid: row[11] or "" for uid, row in entries.items()}
    for number, row in _rows(files, "sdn_comments.csv", required=False):
        uid = _known(entries, row[0], "sdn_comments.csv", number)
        remarks[uid] += row[1] or ""
    aliases: dict[str, list[str]] = {}
    for number, row in _rows(files, "alt.csv", required=False):
        uid = _known(entries, row[0], "alt.csv", number)
        if row[3]:
            aliases.setdefault(uid, []).append(row[3])
    places: dict[str, list[str | None]] = {}
    for number, row in _rows(files, "add.csv", required=False):
        uid = _known(entries, row[0], "add.csv", number)
        places.setdefault(uid, []).append(row[4])

    entities: list[ListEntity] = []
    addresses: list[ListAddress] = []
    for uid, row in entries.items():
        text = remarks[uid]
        addresses.extend(remark_addresses(text, uid, f"sdn.csv ent_num {uid}"))
        nationalities = countries.codes(remark_nationalities(text))
        residence = countries.codes([*places.get(uid, []), *remark_birth_countries(text)])
        entities.append(
            ListEntity(
                uid=uid,
                kind=_KINDS.get((row[2] or "").lower(), EntityKind.ENTITY),
                name=str(row[1]),
                aliases=unique(aliases.get(uid, [])),
                dates_of_birth=unique(remark_dobs(text)),
                nationalities=nationalities,
                countries=residence,
                programmes=unique([p.strip() for p in (row[3] or "").strip("[] ").split("] [")]),
                remarks=text or None,
            )
        )
    return ParsedList(source=source, format="ofac-csv", entities=tuple(entities), addresses=unique_addresses(addresses))


def _known(entries: dict[str, list[str | None]], ent_num: str | None, name: str, number: int) -> str:
    uid = str(ent_num)
    if uid not in entries:
        raise invalid(f"{name}:{number}", f"ent_num {uid} is not in sdn.csv")
    return uid
