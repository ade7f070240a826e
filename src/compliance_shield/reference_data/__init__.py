"""Reference data shipped with the package: dated country lists and the policy templates.

Lists that change (FATF) are dated YAML, not code; the templates are policy documents in
``compliance_shield/policies``. Both are read through ``importlib.resources`` so they work from a
source checkout and from an installed wheel alike.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable

from pydantic import ValidationError

from compliance_shield.domain.facts import CountryLists
from compliance_shield.domain.policy import CompiledPolicy, compile_policy, load_document_text
from compliance_shield.errors import NotFound, PolicyInvalid

_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def _package_file(*parts: str) -> Traversable:
    node = resources.files("compliance_shield")
    for part in parts:
        node = node.joinpath(part)
    return node


def load_country_lists() -> CountryLists:
    """The dated FATF lists in ``fatf.yaml`` (call for action, EDD, increased monitoring)."""
    text = _package_file("reference_data", "fatf.yaml").read_text(encoding="utf-8")
    data = load_document_text(text)
    try:
        return CountryLists.model_validate(data)
    except ValidationError as exc:  # a packaging mistake, not a user error
        raise RuntimeError(f"reference_data/fatf.yaml is invalid: {exc}") from exc


def list_templates() -> list[str]:
    """Names of the shipped policy templates, sorted."""
    folder = _package_file("policies")
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(".yaml")
    )


def load_template(name: str) -> CompiledPolicy:
    """Compile the template ``name``; raises ``NotFound`` for a name that is not shipped."""
    if not _TEMPLATE_NAME.match(name) or name not in list_templates():
        raise NotFound(f"no policy template named {name!r}", details={"available": list_templates()})
    text = _package_file("policies", f"{name}.yaml").read_text(encoding="utf-8")
    try:
        return compile_policy(load_document_text(text))
    except PolicyInvalid as exc:  # shipped templates are tested; this is a packaging mistake
        raise RuntimeError(f"policy template {name!r} is invalid: {exc.message}") from exc
