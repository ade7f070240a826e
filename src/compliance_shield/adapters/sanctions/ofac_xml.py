"""OFAC ``SDN.XML`` (root ``sdnList``), as OFAC publishes it today.

Shape (namespace varies between OFAC's publications and is ignored)::

    sdnList
      publshInformation/Publish_Date   MM/DD/YYYY (OFAC's spelling of "publish")
      sdnEntry*
        uid, firstName?, lastName, title?, sdnType (Individual|Entity|Vessel|Aircraft), remarks?
        programList/program*
        akaList/aka*            uid, type (a.k.a.|f.k.a.|n.k.a.), category (strong|weak), lastName, firstName?
        idList/id*              uid, idType, idNumber, idCountry?   ("Digital Currency Address - ETH")
        addressList/address*    uid, address1-3?, city?, stateOrProvince?, postalCode?, country?
        nationalityList/nationality*   uid, country, mainEntry
        citizenshipList/citizenship*   uid, country, mainEntry
        dateOfBirthList/dateOfBirthItem*   uid, dateOfBirth ("12 Jul 1986", "1986", "circa 1960"), mainEntry
        placeOfBirthList/placeOfBirthItem* uid, placeOfBirth ("Saint Petersburg, Russia"), mainEntry

Names are written like the CSV set (``LAST, First``). Weak aliases are left out: OFAC describes
them as too broad to screen on their own.
"""

from __future__ import annotations

from datetime import date, datetime
from xml.etree.ElementTree import Element

from compliance_shield.adapters.sanctions import countries
from compliance_shield.adapters.sanctions.common import (
    invalid,
    list_address,
    parse_dob,
    parse_xml,
    text,
    texts,
    unique,
    unique_addresses,
)
from compliance_shield.domain.screening import EntityKind, ListAddress, ListEntity, ParsedList

_KINDS = {
    "individual": EntityKind.INDIVIDUAL,
    "entity": EntityKind.ENTITY,
    "vessel": EntityKind.VESSEL,
    "aircraft": EntityKind.AIRCRAFT,
}
_DCA = "digital currency address - "


def _name(element: Element) -> str | None:
    last, first = text(element, "lastName"), text(element, "firstName")
    if last and first:
        return f"{last}, {first}"
    return last or first


def _published(root: Element) -> date | None:
    value = text(root, "publshInformation/Publish_Date") or text(root, "publishInformation/Publish_Date")
    if value is None:
        return None
    for pattern in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise invalid("publshInformation/Publish_Date", f"unreadable date {value!r}")


def parse(source: str, data: bytes) -> ParsedList:
    root = parse_xml("SDN.XML", data)
    if root.tag != "sdnList":
        raise invalid("SDN.XML", f"root element is <{root.tag}>, expected <sdnList>")
    entities: list[ListEntity] = []
    addresses: list[ListAddress] = []
    seen: set[str] = set()
    for index, entry in enumerate(root.findall("sdnEntry"), start=1):
        uid = text(entry, "uid")
        where = f"sdnEntry[{index}]"
        if uid is None:
            raise invalid(where, "uid is missing")
        if uid in seen:
            raise invalid(where, f"uid {uid} appears twice")
        seen.add(uid)
        name = _name(entry)
        if name is None:
            raise invalid(f"{where} uid {uid}", "lastName is missing")
        aliases = [
            alias_name
            for aka in entry.findall("akaList/aka")
            if (text(aka, "category") or "strong").lower() != "weak" and (alias_name := _name(aka))
        ]
        for item in entry.findall("idList/id"):
            id_type = (text(item, "idType") or "").lower()
            number = text(item, "idNumber")
            if id_type.startswith(_DCA) and number:
                asset = id_type[len(_DCA) :].strip().upper() or "UNKNOWN"
                addresses.append(list_address(number, asset, uid, f"{where} uid {uid} idList"))
        dobs = [d for value in texts(entry, "dateOfBirthList/dateOfBirthItem/dateOfBirth") for d in parse_dob(value)]
        nationality_names = [
            *texts(entry, "nationalityList/nationality/country"),
            *texts(entry, "citizenshipList/citizenship/country"),
        ]
        place_names = [
            *texts(entry, "addressList/address/country"),
            *(p.rsplit(",", 1)[-1].strip() for p in texts(entry, "placeOfBirthList/placeOfBirthItem/placeOfBirth")),
        ]
        entities.append(
            ListEntity(
                uid=uid,
                kind=_KINDS.get((text(entry, "sdnType") or "").lower(), EntityKind.UNKNOWN),
                name=name,
                aliases=unique(aliases),
                dates_of_birth=unique(dobs),
                nationalities=countries.codes(nationality_names),
                countries=countries.codes(place_names),
                programmes=unique(list(texts(entry, "programList/program"))),
                remarks=text(entry, "remarks"),
            )
        )
    if not entities:
        raise invalid("SDN.XML", "no sdnEntry elements")
    return ParsedList(
        source=source,
        format="ofac-xml",
        published_on=_published(root),
        entities=tuple(entities),
        addresses=unique_addresses(addresses),
    )
