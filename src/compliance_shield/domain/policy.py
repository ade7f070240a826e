"""Policy documents: the model, the parser and the compiled, hash-identified form.

A document lists rules by catalogue name with parameters and the source that justifies them.
Parsing validates the document and every rule's parameters against that rule's own model and
reports *all* problems at once, each with its path (``rules[2].params.max_holders``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compliance_shield.domain import encoding
from compliance_shield.domain.rules import REGISTRY, RuleDefinition
from compliance_shield.domain.values import FailAction
from compliance_shield.errors import PolicyInvalid


class RuleSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    #: the regulation, circular or internal decision the rule and its numbers come from
    source: str = Field(min_length=3)
    params: dict[str, Any] = Field(default_factory=dict)
    #: points added to the risk score when the rule fails or asks for review (default per result)
    risk_points: int | None = Field(default=None, ge=0, le=100)
    on_fail: FailAction = FailAction.REJECT
    description: str | None = None


class PolicyDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    title: str | None = None
    description: str | None = None
    jurisdiction: str = Field(min_length=2, max_length=8)
    as_of: date
    #: risk score at or above which a transfer without failures is ESCALATED
    escalation_threshold: int = Field(default=70, ge=1, le=100)
    #: how long an approval (and its reservation) stays valid if not settled
    approval_ttl_seconds: int = Field(default=900, ge=10, le=30 * 86400)
    rules: list[RuleSpec] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    spec: RuleSpec
    definition: RuleDefinition[Any]
    params: BaseModel
    #: the parameters as they ran, defaults included (stored in the trace)
    params_dump: dict[str, Any]
    #: traces of shared (static) outcomes, keyed by the outcome's identity: see ``engine._trace``
    trace_cache: dict[int, tuple[Any, Any]] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    document: PolicyDocument
    rules: tuple[CompiledRule, ...]
    content_hash: str
    #: the catalogue names of the rules the policy runs (evidence is gathered only for those)
    rule_names: frozenset[str] = field(init=False)
    #: what ``evaluate`` needs of each rule, in policy order, unpacked once: the rule, its check
    #: function, its parameters and its trace cache
    steps: tuple[tuple[CompiledRule, Any, BaseModel, dict[int, tuple[Any, Any]]], ...] = field(
        init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule_names", frozenset(rule.spec.rule for rule in self.rules))
        steps = tuple((rule, rule.definition.check, rule.params, rule.trace_cache) for rule in self.rules)
        object.__setattr__(self, "steps", steps)

    @property
    def name(self) -> str:
        return self.document.name


def _path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "$"


def canonical_json(data: Any) -> str:
    return encoding.canonical(data)


def content_hash(document: PolicyDocument) -> str:
    """SHA-256 of the canonical JSON of the document: the identity of a published version."""
    payload = canonical_json(document.model_dump(mode="json"))
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()


def load_document_text(text: str | bytes) -> Any:
    """Parse YAML or JSON text (JSON is YAML) into plain data, or raise PolicyInvalid."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "$"
        raise PolicyInvalid([{"field": where, "message": f"not valid YAML/JSON: {exc}"}]) from exc


def compile_policy(data: Any) -> CompiledPolicy:
    """Validate a document (already parsed to plain data) and compile its rules."""
    if not isinstance(data, Mapping):
        raise PolicyInvalid([{"field": "$", "message": "a policy document must be a mapping"}])
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise PolicyInvalid([{"field": _path(e["loc"]), "message": e["msg"]} for e in exc.errors()]) from exc
    errors: list[dict[str, str]] = []
    compiled: list[CompiledRule] = []
    for index, spec in enumerate(document.rules):
        definition = REGISTRY.get(spec.rule)
        if definition is None:
            errors.append({"field": f"rules[{index}].rule", "message": f"unknown rule {spec.rule!r}"})
            continue
        try:
            params = definition.params_model.model_validate(spec.params)
        except ValidationError as exc:
            errors.extend(
                {"field": _path(e["loc"], f"rules[{index}].params"), "message": e["msg"]} for e in exc.errors()
            )
            continue
        compiled.append(CompiledRule(spec, definition, params, params.model_dump(mode="json")))
    if errors:
        raise PolicyInvalid(errors)
    return CompiledPolicy(document, tuple(compiled), content_hash(document))


def parse_policy(text: str | bytes) -> CompiledPolicy:
    """Parse and compile a YAML or JSON policy document."""
    return compile_policy(load_document_text(text))
