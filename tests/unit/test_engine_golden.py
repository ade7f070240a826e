"""The engine's decisions on a seeded corpus match the recorded fingerprints, case for case.

Stored decisions are replayed against the engine (``services/checks/replay.py``): a faster engine must
decide exactly as before — status, risk score, restriction code, reasons and every trace line
with its message, parameters and details. The corpus and how to record it: ``engine_corpus.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from builders import NOW
from engine_corpus import GOLDEN, corpus, decision_record, fingerprint, policies

from compliance_shield.domain.engine import evaluate

EXPECTED: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
POLICIES = policies()


def test_every_policy_has_recorded_fingerprints() -> None:
    assert sorted(EXPECTED["fingerprints"]) == sorted(POLICIES)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_decisions_match_the_recorded_fingerprints(name: str) -> None:
    policy = POLICIES[name]
    cases = corpus(name)
    expected = EXPECTED["fingerprints"][name]
    assert len(cases) == len(expected)
    decisions = [evaluate(policy, facts, NOW) for facts in cases]
    for index, decision in enumerate(decisions[: len(EXPECTED["samples"][name])]):
        assert decision_record(decision) == EXPECTED["samples"][name][index], f"{name} case {index}"
    differing = [index for index, d in enumerate(decisions) if fingerprint(d) != expected[index]]
    assert not differing, f"{name}: cases {differing[:10]} decide differently than recorded"


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_repeated_evaluation_gives_the_same_decisions(name: str) -> None:
    # caches in the engine must not leak one check's data into another's decision
    policy = POLICIES[name]
    cases = corpus(name)[:60]
    first = [fingerprint(evaluate(policy, facts, NOW)) for facts in cases]
    again = [fingerprint(evaluate(policy, facts, NOW)) for facts in reversed(cases)]
    assert again[::-1] == first


def test_the_corpus_reaches_every_outcome_and_result() -> None:
    outcomes: set[str] = set()
    results: set[str] = set()
    for name, policy in POLICIES.items():
        for facts in corpus(name):
            record = decision_record(evaluate(policy, facts, NOW))
            outcomes.add(record["status"])
            results.update(line["result"] for line in record["rules"])
    assert outcomes == {"APPROVED", "REJECTED", "ESCALATED"}
    assert results == {"pass", "fail", "review", "not_applicable", "error"}
