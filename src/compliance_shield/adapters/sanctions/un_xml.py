"""UN Security Council consolidated list (root ``CONSOLIDATED_LIST``, schema ``sc-sanctions.xsd``).

``INDIVIDUALS/INDIVIDUAL`` and ``ENTITIES/ENTITY`` each carry ``DATAID`` (an internal key),
``FIRST_NAME`` … ``FOURTH_NAME``, ``UN_LIST_TYPE`` (the sanctions regime), ``REFERENCE_NUMBER``
(``QDi.001``: the entry's public identity, used as its uid),
``NAME_ORIGINAL_SCRIPT``, aliases (``*_ALIAS`` with ``QUALITY`` Good/Low/a.k.a./f.k.a. and
``ALIAS_NAME``), ``NATIONALITY/VALUE``, addresses and places of birth (``COUNTRY``) and
``INDIVIDUAL_DATE_OF_BIRTH`` (``DATE``, ``YEAR`` or ``FROM_YEAR``/``TO_YEAR``). The root's
``dateGenerated`` is the publication date. ``Low`` quality aliases are left out (the UN marks them
as too weak to identify anyone).
"""

from __future__ import annotations

from datetime import date
from xml.etree.ElementTree import Element

from compliance_shield.adapters.sanctions import countries
from compliance_shield.adapters.sanctions.common import invalid, parse_dob, parse_xml, text, texts, unique
from compliance_shield.domain.screening import EntityKind, ListEntity, ParsedList

_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")


def _dobs(element: Element) -> list[str]:
    out: list[str] = []
    for item in element.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        exact, year = text(item, "DATE"), text(item, "YEAR")
        first, last = text(item, "FROM_YEAR"), text(item, "TO_YEAR")
        if exact:
            out.extend(parse_dob(exact[:10]))
        elif year:
            out.extend(parse_dob(year))
        elif first and last:
            out.extend(parse_dob(f"{first} to {last}"))
    return out


def _entity(element: Element, kind: EntityKind, where: str) -> ListEntity:
    dataid = text(element, "DATAID")
    reference = text(element, "REFERENCE_NUMBER")
    # the reference number (QDi.001) is how the UN, its committees and analysts name an entry;
    # DATAID is an internal key, kept only for an entry published without a reference
    uid = reference or dataid
    if uid is None:
        raise invalid(where, "REFERENCE_NUMBER and DATAID are missing")
    name = " ".join(part for p in _NAME_PARTS if (part := text(element, p)))
    if not name:
        raise invalid(f"{where} {uid}", "the entry has no name")
    prefix = "INDIVIDUAL" if kind is EntityKind.INDIVIDUAL else "ENTITY"
    aliases = [
        alias
        for item in element.findall(f"{prefix}_ALIAS")
        if (alias := text(item, "ALIAS_NAME")) and (text(item, "QUALITY") or "").lower() != "low"
    ]
    aliases.extend(texts(element, "NAME_ORIGINAL_SCRIPT"))
    places = [*texts(element, f"{prefix}_ADDRESS/COUNTRY"), *texts(element, "INDIVIDUAL_PLACE_OF_BIRTH/COUNTRY")]
    comments = text(element, "COMMENTS1")
    return ListEntity(
        uid=uid,
        kind=kind,
        name=name,
        aliases=unique([a for a in aliases if a != name]),
        dates_of_birth=unique(_dobs(element)),
        nationalities=countries.codes(list(texts(element, "NATIONALITY/VALUE"))),
        countries=countries.codes(places),
        programmes=unique([p for p in (text(element, "UN_LIST_TYPE"),) if p]),
        remarks=comments,
    )


def parse(source: str, data: bytes) -> ParsedList:
    root = parse_xml("consolidated.xml", data)
    if root.tag != "CONSOLIDATED_LIST":
        raise invalid("consolidated.xml", f"root element is <{root.tag}>, expected <CONSOLIDATED_LIST>")
    entities: list[ListEntity] = []
    for index, element in enumerate(root.findall("INDIVIDUALS/INDIVIDUAL"), start=1):
        entities.append(_entity(element, EntityKind.INDIVIDUAL, f"INDIVIDUALS/INDIVIDUAL[{index}]"))
    for index, element in enumerate(root.findall("ENTITIES/ENTITY"), start=1):
        entities.append(_entity(element, EntityKind.ENTITY, f"ENTITIES/ENTITY[{index}]"))
    if not entities:
        raise invalid("consolidated.xml", "no INDIVIDUAL or ENTITY elements")
    uids = [e.uid for e in entities]
    if len(set(uids)) != len(uids):
        raise invalid("consolidated.xml", "a REFERENCE_NUMBER (or DATAID) appears twice")
    generated = root.get("dateGenerated")
    published = None
    if generated:
        try:
            published = date.fromisoformat(generated[:10])
        except ValueError as exc:
            raise invalid("CONSOLIDATED_LIST@dateGenerated", f"unreadable date {generated!r}") from exc
    return ParsedList(source=source, format="un-xml", published_on=published, entities=tuple(entities))
