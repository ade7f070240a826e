"""What the reasoning worker may send, and how often (pure parts of services/cases/reasoning)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from compliance_shield.domain import case as rules
from compliance_shield.domain import encoding
from compliance_shield.domain.case import Origin
from compliance_shield.domain.case_narrative import narrative_schema
from compliance_shield.services.cases.reasoning import OPTIONAL_FIELDS, Budget, prompt_inputs

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def test_the_budget_allows_so_many_calls_in_any_sliding_hour() -> None:
    t = [0.0]
    budget = Budget(per_hour=2, clock=lambda: t[0])
    assert budget.take()
    assert budget.take()
    assert not budget.take()
    t[0] = 3599.0
    assert not budget.take()
    t[0] = 3600.0
    assert budget.take()


def test_the_schema_is_strict() -> None:
    schema = narrative_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])


def _check(name: str, address: str) -> dict[str, Any]:
    investor = {"name": name, "country": "IN", "nationality": "IN", "category": "retail", "kyc_status": "verified",
                "pep": True, "risk_rating": "low", "screening": {"status": "clear", "hits": []}}  # fmt: skip
    return {
        "status": "ESCALATED", "restriction_code": 6, "amount": 5, "transfer_type": "secondary", "policy_version": 1,
        "reasons": [{"code": "PEP_REVIEW", "message": "m", "rule": "pep_review"}], "rules": [],
        "facts": {"token": {"symbol": "T"}, "sender": {"address": address, "investor": investor, "balance": "9"},
                  "receiver": {"address": "0x" + "00" * 20}},
    }  # fmt: skip


#: any printable name, fenced so that it cannot be mistaken for a key of the prompt
NAMES = (
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40)
    .filter(lambda s: '"' not in s and "\\" not in s)
    .map(lambda s: f"\u2116{s}\u2116")
)


@given(NAMES, st.sets(st.sampled_from(sorted(OPTIONAL_FIELDS))))
def test_names_and_addresses_are_sent_only_when_allowed(name: str, fields: set[str]) -> None:
    address = "0x" + "ab" * 20
    case = rules.open_case(
        uuid4(), check_id=uuid4(), check_created_at=NOW, token_id=uuid4(), reason_codes=("PEP_REVIEW",),
        risk_score=40, engine_status="ESCALATED", engine_restriction_code=6, origin=Origin.ESCALATED,
        opened_by="system", four_eyes_min_risk=0, now=NOW,
    )  # fmt: skip
    text = encoding.dumps_text(prompt_inputs(case, _check(name, address), frozenset(fields)))
    assert (name in text) == ("names" in fields)
    assert (address in text) == ("addresses" in fields)
    assert str(case.check_id) not in text
