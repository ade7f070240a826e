"""Four-eyes rules of review cases (pure): table-driven refusals and a property over any sequence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_shield.domain import case as rules
from compliance_shield.domain.case import CaseStatus, Origin, Resolution, ReviewCase
from compliance_shield.errors import Conflict, Forbidden

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
ANALYST = frozenset({"analyst"})
OFFICER = frozenset({"officer"})
ADMIN = frozenset({"admin"})


def new_case(risk: int = 40, min_risk: int = 0, codes: tuple[str, ...] = ("PEP_REVIEW",)) -> ReviewCase:
    return rules.open_case(
        uuid4(), check_id=uuid4(), check_created_at=NOW, token_id=uuid4(), reason_codes=codes, risk_score=risk,
        engine_status="ESCALATED", engine_restriction_code=6, origin=Origin.ESCALATED, opened_by="system",
        four_eyes_min_risk=min_risk, now=NOW,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("codes", "hours"),
    [(("PEP_REVIEW",), 24), (("SANCTIONS_REVIEW",), 4), (("PEP_REVIEW", "SANCTIONS_REVIEW"), 4), (("OTHER",), 48)],
)
def test_the_deadline_is_the_tightest_of_the_reasons(codes: tuple[str, ...], hours: int) -> None:
    assert new_case(codes=codes).due_at == NOW + timedelta(hours=hours)


def test_the_proposer_cannot_confirm_whatever_their_roles() -> None:
    for roles in (OFFICER, ADMIN, OFFICER | ADMIN):
        proposed = rules.propose(new_case(), "p", roles, Resolution.APPROVE, "ok", NOW)
        with pytest.raises(Forbidden, match="four-eyes"):
            rules.check_confirmable(proposed, "p", roles)


def test_an_analyst_proposes_but_cannot_confirm_and_a_checker_cannot_propose() -> None:
    proposed = rules.propose(new_case(), "a", ANALYST, Resolution.REJECT, "r", NOW)
    with pytest.raises(Forbidden):
        rules.check_confirmable(proposed, "b", ANALYST)
    with pytest.raises(Forbidden):
        rules.propose(new_case(), "c", frozenset({"checker"}), Resolution.REJECT, "r", NOW)


def test_below_the_four_eyes_risk_an_officer_may_confirm_their_own_proposal() -> None:
    low = new_case(risk=10, min_risk=50)
    assert low.four_eyes is False
    proposed = rules.propose(low, "o", OFFICER, Resolution.APPROVE, "ok", NOW)
    assert rules.check_confirmable(proposed, "o", OFFICER).proposed_by == "o"
    assert new_case(risk=50, min_risk=50).four_eyes is True


def test_a_resolved_case_takes_no_proposal() -> None:
    resolved = rules.resolve(new_case(), "o", "approved", NOW)
    with pytest.raises(Conflict):
        rules.propose(resolved, "a", ANALYST, Resolution.APPROVE, "again", NOW)
    with pytest.raises(Conflict):
        rules.assign(resolved, "a")


PEOPLE = st.sampled_from(["ana", "bob", "cy"])
ROLES = st.sampled_from([ANALYST, OFFICER, ADMIN])
STEP = st.tuples(
    st.sampled_from(["propose", "confirm", "decline", "assign"]), PEOPLE, ROLES, st.sampled_from(list(Resolution))
)


@settings(max_examples=300)
@given(st.lists(STEP, max_size=12), st.integers(0, 100), st.integers(0, 101))
def test_no_sequence_of_steps_lets_one_person_resolve_a_four_eyes_case(
    steps: list[tuple[str, str, frozenset[str], Resolution]], risk: int, min_risk: int
) -> None:
    case = new_case(risk=risk, min_risk=min_risk)
    for action, who, roles, resolution in steps:
        try:
            if action == "propose":
                case = rules.propose(case, who, roles, resolution, "why", NOW)
            elif action == "decline":
                case = rules.decline(case, who, roles)
            elif action == "assign":
                case = rules.assign(case, who)
            else:
                proposal = rules.check_confirmable(case, who, roles)
                assert roles & rules.CONFIRMERS
                if case.four_eyes:
                    assert proposal.proposed_by != who
                if proposal.resolution is Resolution.NEEDS_MORE_INFO:
                    case = rules.ask_for_information(case)
                else:
                    case = rules.resolve(
                        case, who, "approved" if proposal.resolution is Resolution.APPROVE else "rejected", NOW
                    )
        except (Conflict, Forbidden):
            continue
        assert case.status is not CaseStatus.PROPOSED or case.proposal is not None
    if case.status is CaseStatus.RESOLVED:
        assert case.resolved_by is not None
