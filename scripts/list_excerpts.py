"""Cut the test fixtures under ``tests/fixtures/sanctions`` out of the full published lists.

    python scripts/list_excerpts.py [--data ../shared/data/sanctions] [--out tests/fixtures/sanctions]

The tests read small excerpts of the real OFAC and UN lists, committed with the repository, so
that they need nothing outside it. Each excerpt keeps the original bytes of what it keeps: whole
rows of the OFAC CSV files (with their CRLF line ends and the closing Ctrl-Z), whole
``INDIVIDUAL``/``ENTITY`` elements of the UN XML between its original prologue, root element and
closing tags, and whole lines of the per-asset address files (the JSON twins in their published
layout: an array indented by two spaces). Only the entries and addresses named below are kept,
in the order of the original files. Running the script on its own output reproduces it, so the
fixtures can be checked without the full lists (``tests/unit/test_list_excerpts.py``).

Standard library only: it runs with any Python 3.11, inside or outside the project's venv.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sanctions"
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "sanctions"

#: OFAC SDN entries (``ent_num``) kept in sdn.csv, with their rows of add.csv, alt.csv and
#: sdn_comments.csv, and what each one is there to show
OFAC_SDN: Mapping[str, str] = {
    "306": "BANCO NACIONAL DE CUBA: an entity, aliases, addresses in several countries (Zurich first)",
    "2674": "ABU ABBAS: a full date of birth in the remarks (10 Dec 1948)",
    "4243": "SAND SWAN: a vessel",
    "8407": "TARIQ ABU SHANAB EST. FOR TRADE & COMMERCE: an alias repeated within its entry",
    "12300": "CIFUENTES VILLA, Jorge Milton: remarks cut at 1,000 characters, continued in sdn_comments.csv",
    "12628": "GADDAFI, Muhammad: aliases, a place of birth (Tripoli, Libya)",
    "15431": "EP-GOM: an aircraft",
    "28263": "TIAN, Yinyin: date of birth, nationality, two programmes, an XBT address in the remarks",
    "28264": "LI, Jiadong: remarks continued in sdn_comments.csv",
    "29703": "ANDREYEV, Anton Nikolaeyvich: an ETH address cut across sdn_comments.csv, LTC, ZEC, BSV",
    "30518": "SECONDEYE SOLUTION: an entity with ETH and XBT addresses in its remarks",
}

#: UN consolidated list entries (``DATAID``) kept, and why
UN: Mapping[str, str] = {
    "6907993": "ERIC BADEGE: a year of birth, an address country",
    "6907994": "FRANK KAKOLELE BWAMBALE: three good aliases, nationality DRC",
    "6907995": "an individual with a Low quality alias (left out by the importer)",
    "6908000": "an individual with an exact DATE of birth and a Low quality alias",
    "6908021": "an individual born FROM_YEAR … TO_YEAR",
    "6908075": "HIKMAT MIZBAN IBRAHIM AL-AZZAWI: born 1934, name in Arabic script",
    "2758395": "NESSIM BEN ROMDHANE SAHRAOUI: the alias 'Dass', near the demo data's surname Das",
    "6908028": "M23: an entity with an a.k.a.",
    "113458": "AL-QAIDA: an entity with many aliases and its name in Arabic script",
}

#: OFAC digital-currency addresses kept, per asset file (any case: EVM hex is matched ignoring case)
OFAC_CRYPTO: Mapping[str, Sequence[str]] = {
    "ARB": ("0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c",),  # also BSC and ETH
    "BCH": (
        "18M8bJWMzWHDBMxoLqjHHAffdRy4SrzkfB",  # legacy base58
        "qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq",  # cashaddr
    ),
    "BSC": ("0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c",),
    "DASH": ("XnPFsRWTaSgiVauosEwQ6dEitGYXgwznz2",),
    "ETC": ("0xd882cfc20f52f2599d84b8e8d58c7fb62cfe344b",),  # also ETH
    "ETH": (
        "0x19aa5fe80d33a56d56c78e82ea5e50e5d80b4dff",  # also USDT
        "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c",
        "0x7Db418b5D567A4e0E8c59Ad71BE1FcE48f3E6107",  # SECONDEYE SOLUTION (SDN 30518)
        "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c",  # ANDREYEV (SDN 29703)
        "0x8589427373D6D84E98730D7795D8f6f8731FDA16",  # Tornado Cash, mixed-case EIP-55
        "0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2",  # also USDC and USDT
        "0xd882cfc20f52f2599d84b8e8d58c7fb62cfe344b",
    ),
    "LTC": (
        "LWnbjLYUfqeokfbWM4FcU7uk2FP2DSxuWS",  # ANDREYEV (SDN 29703)
        "M8yFL6SFC6TreATegTyuSYkDfDRbisdpT3",
    ),
    "TRX": (
        "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre",
        "TTUDyVhhpCC1xJoPmWzdjLAzeoPwbSABdr",
    ),
    "USDC": ("0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2",),
    "USDT": (
        "0x19aa5fe80d33a56d56c78e82ea5e50e5d80b4dff",
        "0x983a81ca6FB1e441266D2FbcB7D8E530AC2E05A2",
        "1CF46Rfbp97absrs7zb7dFfZS6qBXUm9EP",  # also XBT
        "TEAqwfMhXLaomXhZ8KeMhx3njGmQEDnsUR",  # a Tron address filed under USDT
    ),
    "XBT": (
        "134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak",  # TIAN, Yinyin (SDN 28263)
        "1CF46Rfbp97absrs7zb7dFfZS6qBXUm9EP",
        "31nadacWrgPeAQxKRMabhn3fPhnhi3hjKa",  # P2SH
        "bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw",  # bech32
    ),
    "XMR": (
        "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL",
        "5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320",  # 64 hex characters
    ),
    "ZEC": ("t1WSKwCDL1QYRRUrCCknEs5tDLhtGVYu9KM",),
}

CSV_FILES = ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv")
_WIDTH = {"sdn.csv": 12, "add.csv": 6, "alt.csv": 5, "sdn_comments.csv": 2}
_CRLF = b"\r\n"
_UN_ELEMENTS = {tag: re.compile(rb"[ \t]*<" + tag + rb">.*?</" + tag + rb">[ \t]*\r?\n", re.DOTALL) for tag in
                (b"INDIVIDUAL", b"ENTITY")}  # fmt: skip
_DATAID = re.compile(rb"<DATAID>\s*(\d+)\s*</DATAID>")


class ExcerptError(Exception):
    """The full lists do not hold what the selection names, or not in the layout expected."""


@dataclass(frozen=True)
class Excerpt:
    """One file of the fixtures: its path under the output folder and its bytes."""

    path: str
    data: bytes


# -- OFAC legacy CSV ----------------------------------------------------------------------------


def _csv_rows(name: str, data: bytes, keep: Mapping[str, str]) -> bytes:
    """The rows of ``data`` whose ``ent_num`` is in ``keep``, byte for byte, with the file's tail.

    OFAC writes one record a line (CRLF), quotes never span a line, and ends with Ctrl-Z: each
    kept line is checked to be one whole record of the file's width.
    """
    body, tail = (data[: data.rindex(_CRLF) + 2], data[data.rindex(_CRLF) + 2 :]) if _CRLF in data else (data, b"")
    kept: list[bytes] = []
    for number, line in enumerate(body.split(_CRLF)[:-1], start=1):
        if line.split(b",", 1)[0].strip().decode("ascii", "replace") not in keep:
            continue
        records = list(csv.reader(io.StringIO(line.decode("utf-8", "replace"), newline="")))
        if len(records) != 1 or len(records[0]) != _WIDTH[name]:
            raise ExcerptError(f"{name} line {number} is not one record of {_WIDTH[name]} columns")
        kept.append(line + _CRLF)
    return b"".join(kept) + tail


def ofac_sdn(folder: Path) -> list[Excerpt]:
    files = {name: (folder / name).read_bytes() for name in CSV_FILES}
    found = {line.split(b",", 1)[0].decode("ascii") for line in files["sdn.csv"].split(_CRLF) if b"," in line}
    missing = sorted(set(OFAC_SDN) - found, key=int)
    if missing:
        raise ExcerptError(f"ofac-sdn/sdn.csv has no entry {', '.join(missing)}")
    return [Excerpt(f"ofac-sdn/{name}", _csv_rows(name, data, OFAC_SDN)) for name, data in files.items()]


# -- UN consolidated XML ------------------------------------------------------------------------


def _elements(tag: bytes, data: bytes) -> tuple[int, int, list[tuple[str, bytes]]]:
    """Start and end of the run of ``tag`` elements and each element with its DATAID."""
    matches = list(_UN_ELEMENTS[tag].finditer(data))
    if not matches:
        raise ExcerptError(f"un: no <{tag.decode()}> element")
    out: list[tuple[str, bytes]] = []
    for match in matches:
        uid = _DATAID.search(match.group(0))
        if uid is None:
            raise ExcerptError(f"un: a <{tag.decode()}> element has no DATAID")
        out.append((uid.group(1).decode(), match.group(0)))
    return matches[0].start(), matches[-1].end(), out


def un(folder: Path) -> list[Excerpt]:
    data = (folder / "UN_consolidated.xml").read_bytes()
    first, last, people = _elements(b"INDIVIDUAL", data)
    entities_from, entities_to, entities = _elements(b"ENTITY", data[last:])
    missing = sorted(set(UN) - {uid for uid, _ in people + entities})
    if missing:
        raise ExcerptError(f"un/UN_consolidated.xml has no DATAID {', '.join(missing)}")
    excerpt = b"".join(
        (
            data[:first],
            *(element for uid, element in people if uid in UN),
            data[last : last + entities_from],
            *(element for uid, element in entities if uid in UN),
            data[last + entities_to :],
        )
    )
    # the cut must still be the list: the same root, just the kept entries
    root = ET.fromstring(excerpt)  # noqa: S314 (the published list, not untrusted input)
    kept = [e.findtext("DATAID") for e in (*root.iterfind("INDIVIDUALS/INDIVIDUAL"), *root.iterfind("ENTITIES/ENTITY"))]
    if sorted(kept, key=str) != sorted(UN):
        raise ExcerptError(f"un: the excerpt holds {kept}, not the selection")
    return [Excerpt("un/UN_consolidated.xml", excerpt)]


# -- OFAC per-asset address files ---------------------------------------------------------------


def _key(address: str) -> str:
    return address.lower() if address.lower().startswith("0x") else address


def ofac_crypto(folder: Path) -> list[Excerpt]:
    out: list[Excerpt] = []
    for asset, chosen in OFAC_CRYPTO.items():
        keep = {_key(a) for a in chosen}
        stem = f"sanctioned_addresses_{asset}"
        text = (folder / f"{stem}.txt").read_bytes()
        lines = [line for line in text.splitlines(keepends=True) if _key(line.strip().decode("ascii")) in keep]
        _check_holds(f"{stem}.txt", keep, [line.strip().decode("ascii") for line in lines])
        published = (folder / f"{stem}.json").read_bytes()
        addresses: list[str] = json.loads(published)
        if _json(addresses) != published:
            raise ExcerptError(f"ofac-crypto/{stem}.json is not in the layout this script writes")
        kept = [a for a in addresses if _key(a) in keep]
        _check_holds(f"{stem}.json", keep, kept)
        out.append(Excerpt(f"ofac-crypto/{stem}.txt", b"".join(lines)))
        out.append(Excerpt(f"ofac-crypto/{stem}.json", _json(kept)))
    return out


def _check_holds(name: str, keep: set[str], kept: Sequence[str]) -> None:
    missing = keep - {_key(a) for a in kept}
    if missing:
        raise ExcerptError(f"ofac-crypto/{name} lacks {', '.join(sorted(missing))}")


def _json(addresses: list[str]) -> bytes:
    """The layout of the published JSON files: two-space indent, a final newline."""
    return (json.dumps(addresses, indent=2) + "\n").encode()


# -- the command --------------------------------------------------------------------------------


def excerpts(data: Path) -> list[Excerpt]:
    """Every fixture file cut from the full lists in ``data``."""
    return [*ofac_sdn(data / "ofac-sdn"), *un(data / "un"), *ofac_crypto(data / "ofac-crypto")]


def write(out: Path, files: Sequence[Excerpt]) -> None:
    """Replace the list folders under ``out`` with ``files`` (other files there are left alone)."""
    for folder in {Path(f.path).parent for f in files}:
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.iterdir():
            stale.unlink()
    for excerpt in files:
        (out / excerpt.path).write_bytes(excerpt.data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the full lists (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the fixtures folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        files = excerpts(args.data)
    except (ExcerptError, OSError, ValueError) as exc:
        print(f"list_excerpts: {exc}", file=sys.stderr)
        return 1
    write(args.out, files)
    for excerpt in files:
        print(f"{len(excerpt.data):>7} bytes  {args.out / excerpt.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
