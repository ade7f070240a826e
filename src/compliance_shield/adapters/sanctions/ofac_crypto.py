"""OFAC digital-currency addresses as per-asset files: ``sanctioned_addresses_<ASSET>.txt`` (one
address a line) or ``.json`` (a JSON array of strings), the layout of the lists extracted from
the SDN list's ``Digital Currency Address - <ASSET>`` features.

The files name no entity: each address is stored without one (the SDN import carries the entity).
"""

from __future__ import annotations

import re

from compliance_shield.adapters.sanctions.common import ListFiles, decode, invalid, list_address, unique_addresses
from compliance_shield.domain import encoding
from compliance_shield.domain.screening import ListAddress, ParsedList

_NAME = re.compile(r"^sanctioned_addresses_([A-Za-z0-9]+)\.(txt|json)$")


def parse(source: str, files: ListFiles) -> ParsedList:
    addresses: list[ListAddress] = []
    for name in sorted(files):
        match = _NAME.match(name)
        if match is None:
            raise invalid(name, "expected a file named sanctioned_addresses_<ASSET>.txt or .json")
        asset, kind = match.group(1).upper(), match.group(2)
        text = decode(name, files[name])
        if kind == "json":
            try:
                values = encoding.loads(text) if text else []
            except encoding.InvalidJSON as exc:
                raise invalid(name, f"not valid JSON: {exc}") from exc
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise invalid(name, "expected a JSON array of address strings")
            lines = [(i, v) for i, v in enumerate(values)]
            where = "item"
        else:
            lines = [(i, v) for i, v in enumerate(text.splitlines(), start=1)]
            where = "line"
        for number, value in lines:
            if value.strip() and not value.lstrip().startswith("#"):
                addresses.append(list_address(value, asset, None, f"{name} {where} {number}"))
    if not addresses:
        raise invalid("files", "no address in the given files")
    return ParsedList(source=source, format="ofac-crypto", addresses=unique_addresses(addresses))
