"""The README's Deploy section names files that exist and commands that the CLI has."""

from __future__ import annotations

import re

from deploy_support import ROOT
from typer.main import get_command

from compliance_shield.cli import app


def _deploy_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Deploy\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_every_file_in_the_deploy_table_exists() -> None:
    paths = re.findall(r"^\| `([^`]+)`(?:, `([^`]+)`)? \|", _deploy_section(), flags=re.MULTILINE)
    named = [p for pair in paths for p in pair if p]
    assert named
    for path in named:
        expanded = [path] if "{" not in path else [re.sub(r"\{([^}]+)\}", part, path) for part in ("dev", "prod")]
        for one in expanded:
            assert (ROOT / one).exists(), one


def test_every_compliance_shield_command_in_the_section_exists() -> None:
    cli = get_command(app)
    used = re.findall(
        r"(?:compliance-shield|migrate) ((?:chain deploy|version|migrate|serve|worker \w+))", _deploy_section()
    )
    assert "chain deploy" in used
    for command in used:
        group = cli
        for word in command.split():
            group = group.commands[word]  # type: ignore[attr-defined]
        assert group is not None
