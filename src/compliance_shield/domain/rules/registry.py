"""The rule table: each rule registers its name, parameter model and check function.

Rule names are the contract used in policy documents; renaming one breaks published policies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from compliance_shield.domain.decision import RuleOutcome
from compliance_shield.domain.facts import Facts

P = TypeVar("P", bound=BaseModel)

Check = Callable[[P, Facts, datetime], RuleOutcome]


class NoParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleParams(BaseModel):
    """Base for rule parameter models: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class RuleDefinition(Generic[P]):
    name: str
    params_model: type[P]
    check: Check[P]
    description: str


REGISTRY: dict[str, RuleDefinition[Any]] = {}


def rule(name: str, params_model: type[P], description: str) -> Callable[[Check[P]], Check[P]]:
    """Register ``check`` under ``name``. Registering a name twice is a programming error."""

    def register(check: Check[P]) -> Check[P]:
        if name in REGISTRY:
            raise RuntimeError(f"rule {name!r} registered twice")
        REGISTRY[name] = RuleDefinition(name, params_model, check, description)
        return check

    return register
