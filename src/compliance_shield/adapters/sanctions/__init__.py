"""Sanctions list importers: one module per publisher format, each mapping a file (or file set)
to ``domain.screening.ParsedList``.

| format        | files                                                        | module         |
|---------------|--------------------------------------------------------------|----------------|
| ``ofac-csv``  | OFAC legacy set ``sdn.csv``, ``add.csv``, ``alt.csv``, ``sdn_comments.csv`` | ``ofac_csv``   |
| ``ofac-xml``  | OFAC ``SDN.XML`` (``sdnList``)                                | ``ofac_xml``   |
| ``ofac-crypto`` | per-asset ``sanctioned_addresses_<ASSET>.txt`` / ``.json``  | ``ofac_crypto``|
| ``un-xml``    | UN Security Council consolidated list (``CONSOLIDATED_LIST``) | ``un_xml``     |
| ``operator``  | plain CSV or JSON of entities and addresses (internal, EU, national lists) | ``operator`` |

Parsers are strict: anything they cannot read raises ``ListInvalid`` naming the file and line
(or element), so a malformed download never becomes a partial list version. XML is parsed with
``defusedxml`` (no entity expansion, no external references): the files come from the internet.
"""

from __future__ import annotations

from collections.abc import Mapping

from compliance_shield.adapters.sanctions import ofac_crypto, ofac_csv, ofac_xml, operator, un_xml
from compliance_shield.adapters.sanctions.common import ListFiles
from compliance_shield.domain.screening import ParsedList
from compliance_shield.errors import ListInvalid

FORMATS = ("ofac-csv", "ofac-xml", "ofac-crypto", "un-xml", "operator")

#: the format a well-known source name implies when none is given
DEFAULT_FORMATS = {"ofac-crypto": "ofac-crypto", "un": "un-xml"}


def detect_format(source: str, files: Mapping[str, bytes]) -> str:
    """The format of ``files`` for ``source``: by source name, then by the files' names and content."""
    if source in DEFAULT_FORMATS:
        return DEFAULT_FORMATS[source]
    names = {n.lower() for n in files}
    if "sdn.csv" in names:
        return "ofac-csv"
    if names and all(n.startswith("sanctioned_addresses_") for n in names):
        return "ofac-crypto"
    if len(files) == 1:
        head = next(iter(files.values()))[:4096].lstrip()
        if head.startswith(b"<") or head.startswith(b"\xef\xbb\xbf<"):
            if b"<sdnList" in head:
                return "ofac-xml"
            if b"CONSOLIDATED_LIST" in head:
                return "un-xml"
    return "operator"


def parse_list(source: str, files: ListFiles, list_format: str | None = None) -> ParsedList:
    """Parse ``files`` (name → content) as ``list_format`` (detected when None)."""
    if not files:
        raise ListInvalid([{"field": "files", "message": "no list file given"}])
    chosen = list_format or detect_format(source, files)
    if chosen == "ofac-csv":
        return ofac_csv.parse(source, files)
    if chosen == "ofac-xml":
        return ofac_xml.parse(source, _single(files, chosen))
    if chosen == "ofac-crypto":
        return ofac_crypto.parse(source, files)
    if chosen == "un-xml":
        return un_xml.parse(source, _single(files, chosen))
    if chosen == "operator":
        return operator.parse(source, files)
    raise ListInvalid([{"field": "format", "message": f"unknown format {chosen!r}; one of {', '.join(FORMATS)}"}])


def _single(files: ListFiles, list_format: str) -> bytes:
    if len(files) != 1:
        raise ListInvalid([{"field": "files", "message": f"format {list_format} takes exactly one file"}])
    return next(iter(files.values()))


__all__ = ["DEFAULT_FORMATS", "FORMATS", "ListFiles", "detect_format", "parse_list"]
