"""What the deployment tests share: the repository root and the names the service really reads."""

from __future__ import annotations

import re
from pathlib import Path

from compliance_shield.api.app import create_app
from compliance_shield.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def setting_names() -> frozenset[str]:
    """Every environment name ``Settings`` reads (pydantic-settings: the field name, upper case)."""
    return frozenset(name.upper() for name in Settings.model_fields)


def public_get_routes() -> frozenset[str]:
    """Paths the API serves to GET without a bearer token (the probes must name one of these)."""
    from compliance_shield.api.routers.health import PUBLIC_PATHS

    paths = create_app(Settings()).openapi()["paths"]
    return frozenset(p for p in PUBLIC_PATHS if "get" in paths.get(p, {}))


_ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_file_entries(text: str) -> tuple[dict[str, str], frozenset[str]]:
    """A dotenv file's ``NAME=value`` lines, and the names it lists commented out (``# NAME=``)."""
    active: dict[str, str] = {}
    commented: set[str] = set()
    for line in text.splitlines():
        match = _ENV_LINE.match(line.strip())
        if match is None:
            continue
        if match.group(1):
            commented.add(match.group(2))
        else:
            active[match.group(2)] = match.group(3)
    return active, frozenset(commented)
