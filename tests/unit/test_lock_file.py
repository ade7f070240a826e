"""requirements.lock (hashes for every runtime and test dependency) agrees with pyproject.toml:
each pinned dependency is locked at its pin, and every locked package carries hashes.
Regenerate it with the command in the README's "Security and reliability" section."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^;\s]+)")
_LOCKED = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.MULTILINE)


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    return {_name(n): v for n, v in _LOCKED.findall((ROOT / "requirements.lock").read_text())}


def test_every_pin_of_pyproject_is_locked_at_its_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    locked = _locked()
    stale = []
    for pin in pins:
        match = _PIN.match(pin)
        assert match is not None, f"{pin} is not pinned with =="
        name, version = _name(match.group(1)), match.group(2)
        if locked.get(name) != version:
            stale.append(f"{name}: pyproject {version}, lock {locked.get(name)}")
    assert not stale, "requirements.lock is stale (regenerate it, see README): " + "; ".join(stale)


def test_every_locked_package_has_hashes() -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9._-]+==)", (ROOT / "requirements.lock").read_text())
    packages = [b for b in blocks if _LOCKED.match(b)]
    assert len(packages) == len(_locked()) > 50
    unhashed = [b.split()[0] for b in packages if "--hash=sha256:" not in b]
    assert not unhashed


def test_the_sbom_command_lists_every_locked_component(tmp_path: Path) -> None:
    """The README's SBOM command (CycloneDX, from the lock file) works and misses nothing."""
    out = tmp_path / "sbom.cdx.json"
    command = [str(Path(sys.executable).parent / "cyclonedx-py"), "requirements", str(ROOT / "requirements.lock"),
               "--of", "JSON", "-o", str(out)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603 (the venv's own tool)
    sbom = json.loads(out.read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    listed = {(_name(c["name"]), c["version"]) for c in sbom["components"]}
    assert listed == set(_locked().items())
    assert all(c["purl"].startswith("pkg:pypi/") for c in sbom["components"])
