"""Country names as lists write them → ISO 3166 alpha-2 codes (what investors carry).

pycountry supplies the ISO names; lists also use short, older or reordered forms (OFAC
``Korea, North``, ``Burma``; UN ``Iran (Islamic Republic of)``), covered by the variants built
below and a small table of names ISO does not use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import pycountry
from anyascii import anyascii

_EXTRA: dict[str, str] = {
    "korea north": "KP",
    "north korea": "KP",
    "korea south": "KR",
    "south korea": "KR",
    "republic of korea": "KR",
    "burma": "MM",
    "russia": "RU",
    "iran": "IR",
    "syria": "SY",
    "laos": "LA",
    "vietnam": "VN",
    "palestinian": "PS",
    "palestine": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "occupied palestinian territory": "PS",
    "kosovo": "XK",
    "turkey": "TR",
    "ivory coast": "CI",
    "cote divoire": "CI",
    "macedonia": "MK",
    "the former yugoslav republic of macedonia": "MK",
    "brunei": "BN",
    "cape verde": "CV",
    "czech republic": "CZ",
    "swaziland": "SZ",
    "micronesia": "FM",
    "congo democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "congo republic of the": "CG",
    "republic of the congo": "CG",
    "united states": "US",
    "usa": "US",
    "uk": "GB",
    "great britain": "GB",
    "united republic of tanzania": "TZ",
    "republic of moldova": "MD",
    "the netherlands": "NL",
    "holland": "NL",
    "bahamas the": "BS",
    "gambia the": "GM",
    "vatican": "VA",
    "yugoslavia": "RS",
    "serbia and montenegro": "RS",
}


def _key(name: str) -> str:
    text = anyascii(name).lower().replace("'", "")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z ]", " ", text)).strip()


def _variants(name: str) -> set[str]:
    out = {_key(name)}
    bare = re.sub(r"\s*\(.*?\)", "", name)
    out.add(_key(bare))
    if "," in name:
        head, _, tail = name.partition(",")
        out.add(_key(f"{tail} {head}"))
    inner = re.search(r"\((.*?)\)", name)
    if inner:
        out.add(_key(f"{inner.group(1)} {bare}"))
    return {v for v in out if v}


@cache
def _table() -> dict[str, str]:
    table: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                for variant in _variants(value):
                    table.setdefault(variant, country.alpha_2)
        table.setdefault(country.alpha_3.lower(), country.alpha_2)
    table.update(_EXTRA)
    return table


def to_iso2(name: str | None) -> str | None:
    """The alpha-2 code for a country name (or an alpha-2/alpha-3 code); None when unknown."""
    if not name or not name.strip():
        return None
    text = name.strip()
    if re.fullmatch(r"[A-Z]{2}", text) and pycountry.countries.get(alpha_2=text) is not None:
        return text
    table = _table()
    key = _key(text)
    if key in table:
        return table[key]
    if key.startswith("the ") and key[4:] in table:
        return table[key[4:]]
    return None


def codes(names: Iterable[str | None]) -> tuple[str, ...]:
    """Distinct alpha-2 codes of ``names`` in first-seen order (unknown names dropped)."""
    out: list[str] = []
    for name in names:
        code = to_iso2(name)
        if code is not None and code not in out:
            out.append(code)
    return tuple(out)
