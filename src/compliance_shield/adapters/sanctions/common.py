"""Helpers the list parsers share: decoding, dates of birth, the OFAC remark grammar, XML access."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import TypeAlias
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from compliance_shield.domain.addresses import InvalidAddress, normalize_any
from compliance_shield.domain.screening import ListAddress
from compliance_shield.errors import ListInvalid

#: file name → content
ListFiles: TypeAlias = Mapping[str, bytes]

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}


def invalid(field: str, message: str) -> ListInvalid:
    return ListInvalid([{"field": field, "message": message}])


def decode(name: str, data: bytes) -> str:
    """Text of a list file: UTF-8 (BOM allowed), else Windows-1252 as OFAC's older files are.

    The DOS end-of-file mark (Ctrl-Z) that OFAC's CSV files end with is dropped.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise invalid(name, f"not UTF-8 or Windows-1252 text: {exc}") from exc
    return text.rstrip("\x1a\r\n\t ")


def parse_dob(text: str) -> tuple[str, ...]:
    """Dates of birth in ISO precision from list notation.

    ``10 Dec 1948`` → 1948-12-10; ``Dec 1948`` → 1948-12; ``1948``/``circa 1948`` → 1948;
    ``1962 to 1964`` → each year; ``01 Jan 1962 to 31 Dec 1964`` → each year; ISO dates as they are.
    Unreadable text yields nothing (a DOB only qualifies a match, it never creates one).
    """
    value = text.strip().lower().removeprefix("circa").removeprefix("approximately").strip()
    if " to " in value:
        start, _, end = value.partition(" to ")
        first, last = _year(start), _year(end)
        if first is not None and last is not None and 0 <= last - first <= 10:
            return tuple(str(y) for y in range(first, last + 1))
        return ()
    iso = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", value)
    if iso:
        return (value,)
    match = re.fullmatch(r"(?:(\d{1,2}) )?([a-z]{3})[a-z]* (\d{4})", value)
    if match and match.group(2) in _MONTHS:
        year, month = int(match.group(3)), _MONTHS[match.group(2)]
        if match.group(1):
            try:
                return (date(year, month, int(match.group(1))).isoformat(),)
            except ValueError:
                return (f"{year:04d}-{month:02d}",)
        return (f"{year:04d}-{month:02d}",)
    only_year = _year(value)
    return (str(only_year),) if only_year else ()


def _year(text: str) -> int | None:
    found = re.search(r"\b(1[89]\d{2}|20\d{2})\b", text)
    return int(found.group(1)) if found else None


# -- OFAC remarks ---------------------------------------------------------------------------

_DCA = re.compile(r"Digital Currency Address - ([A-Za-z0-9]+)\s+([^\s;]+?)[;.]?(?=;|\s|$)")
_DOB = re.compile(r"(?:^|;\s*)(?:alt\.\s+)?DOB\s+([^;]+?)\s*(?=;|\.?$)")
_NATIONALITY = re.compile(r"(?:^|;\s*)(?:alt\.\s+)?(?:nationality|citizen)\s+([^;]+?)\s*(?=;|\.?$)")
_POB = re.compile(r"(?:^|;\s*)(?:alt\.\s+)?POB\s+([^;]+?)\s*(?=;|\.?$)")


def remark_addresses(remarks: str, entity_uid: str, field: str) -> list[ListAddress]:
    """The ``Digital Currency Address - XXX addr`` items of OFAC remarks."""
    out = []
    for asset, raw in _DCA.findall(remarks):
        out.append(list_address(raw, asset, entity_uid, field))
    return out


def remark_dobs(remarks: str) -> list[str]:
    return [d for text in _DOB.findall(remarks) for d in parse_dob(text)]


def remark_nationalities(remarks: str) -> list[str]:
    return [n.strip() for n in _NATIONALITY.findall(remarks)]


def remark_birth_countries(remarks: str) -> list[str]:
    return [p.rsplit(",", 1)[-1].strip() for p in _POB.findall(remarks)]


def list_address(raw: str, asset: str, entity_uid: str | None, field: str) -> ListAddress:
    try:
        key = normalize_any(raw.strip())
    except InvalidAddress as exc:
        raise invalid(field, f"digital-currency address {raw!r}: {exc}") from exc
    return ListAddress(address=key, asset=asset.upper(), entity_uid=entity_uid)


def unique_addresses(addresses: list[ListAddress]) -> tuple[ListAddress, ...]:
    seen: dict[tuple[str, str, str | None], ListAddress] = {}
    for a in addresses:
        seen.setdefault((a.address, a.asset, a.entity_uid), a)
    return tuple(seen.values())


def unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


# -- XML ------------------------------------------------------------------------------------


def parse_xml(name: str, data: bytes) -> Element:
    """The root element, parsed safely; namespaces are stripped from tags (OFAC changed its own)."""
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise invalid(name, f"refused unsafe XML ({type(exc).__name__})") from exc
    except SafeET.ParseError as exc:
        raise invalid(name, f"not well-formed XML: {exc}") from exc
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def text(element: Element | None, path: str) -> str | None:
    """Stripped text at ``path`` below ``element``; None when absent or empty."""
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def texts(element: Element, path: str) -> Iterator[str]:
    for found in element.findall(path):
        if found.text and found.text.strip():
            yield " ".join(found.text.split())
