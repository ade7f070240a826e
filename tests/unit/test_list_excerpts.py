"""The list fixtures are what ``scripts/list_excerpts.py`` cuts, and the script refuses lists that
lack what it selects (so a fixture edited by hand, or a selection changed without re-cutting the
fixtures, fails here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "list_excerpts.py"
FIXTURES = ROOT / "tests" / "fixtures" / "sanctions"


def _cut(data: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, str(SCRIPT), "--data", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cutting_the_fixtures_again_reproduces_them_byte_for_byte(tmp_path: Path) -> None:
    done = _cut(FIXTURES, tmp_path)
    assert done.returncode == 0, done.stderr
    committed = {name: data for name, data in _files(FIXTURES).items() if name != "README.md"}
    assert _files(tmp_path) == committed
    assert {name.split("/")[0] for name in committed} == {"ofac-sdn", "un", "ofac-crypto"}


def _without(path: Path, needle: bytes) -> None:
    """Drop the lines of ``path`` (CRLF or LF) that contain ``needle``."""
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(line for line in lines if needle not in line))


@pytest.mark.parametrize(
    ("file", "needle", "message"),
    [
        ("ofac-sdn/sdn.csv", b'306,"BANCO', "ofac-sdn/sdn.csv has no entry 306"),
        ("un/UN_consolidated.xml", b"<DATAID>6907994</DATAID>", "un: a <INDIVIDUAL> element has no DATAID"),
        ("ofac-crypto/sanctioned_addresses_TRX.txt", b"TBHTJq", "sanctioned_addresses_TRX.txt lacks TBHTJq"),
        ("ofac-crypto/sanctioned_addresses_TRX.json", b"TBHTJq", "sanctioned_addresses_TRX.json lacks TBHTJq"),
        ("ofac-crypto/sanctioned_addresses_ETH.json", b"  ", "sanctioned_addresses_ETH.json is not in the layout"),
    ],
)
def test_lists_lacking_a_selected_entry_are_refused_and_nothing_is_written(
    tmp_path: Path, file: str, needle: bytes, message: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES, data)
    _without(data / file, needle)
    out = tmp_path / "out"
    done = _cut(data, out)
    assert done.returncode == 1
    assert message in done.stderr
    assert not out.exists()


def test_a_un_entry_left_out_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES, data)
    xml = data / "un" / "UN_consolidated.xml"
    text = xml.read_text(encoding="utf-8")
    start = text.index("    <INDIVIDUAL>\n      <DATAID>6908075</DATAID>")
    end = text.index("</INDIVIDUAL>\n", start) + len("</INDIVIDUAL>\n")
    xml.write_text(text[:start] + text[end:], encoding="utf-8")
    done = _cut(data, tmp_path / "out")
    assert done.returncode == 1
    assert "un/UN_consolidated.xml has no DATAID 6908075" in done.stderr
