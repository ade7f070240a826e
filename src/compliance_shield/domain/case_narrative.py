"""The AI-drafted narrative of a review case: the schema the model must answer in.

A draft for the officers, never a decision: it is stored beside the case with the model, the
prompt version and a hash of exactly what was sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Line = Annotated[str, Field(min_length=1, max_length=1000)]


class Narrative(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: Annotated[str, Field(min_length=1, max_length=2000)]
    #: what made the engine escalate
    trigger: Annotated[str, Field(min_length=1, max_length=2000)]
    evidence_for: list[Line] = Field(max_length=20, description="evidence supporting approval")
    evidence_against: list[Line] = Field(max_length=20, description="evidence against approval")
    #: the rules of the policy and the regulations behind them
    applicable_rules: list[Line] = Field(max_length=20)
    suggested_resolution: Literal["approve", "reject", "needs_more_info"]
    suggested_reason: Annotated[str, Field(min_length=1, max_length=2000)]


def narrative_schema() -> dict[str, Any]:
    """The JSON schema sent as ``response_format`` (strict mode: every property required, no others)."""
    schema = Narrative.model_json_schema()
    schema["required"] = list(schema["properties"])
    schema["additionalProperties"] = False
    return schema
