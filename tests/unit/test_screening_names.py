"""Fuzzy name screening (pure): normalization, token similarity, scoring with qualifiers, the
index, the ``sanctioned_party`` rule, and the benchmark's measurement on a small sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from builders import NOW, make_facts, make_investor, make_receiver, make_sender, run_rule

from compliance_shield.domain.facts import SanctionsEvidence
from compliance_shield.domain.screening import (
    EntityKind,
    ListEntity,
    NameMatch,
    NameQuery,
    PartyScreening,
    ScreeningStatus,
    status_for,
    version_label,
)
from compliance_shield.domain.screening_index import ListedEntity, NameIndex
from compliance_shield.domain.screening_names import align, token_similarity
from compliance_shield.domain.screening_normalize import phonetic, tokens
from compliance_shield.domain.values import RuleResult

ROOT = Path(__file__).resolve().parents[2]
KINDS = {
    "case_punctuation", "reordered", "typo_1", "typo_2", "merged_parts", "split_part", "dropped_middle",
    "added_middle", "initials", "honorific_prefix", "transliteration", "entity_suffix",
}  # fmt: skip
#: a committed excerpt of the OFAC SDN (CSV set) and UN lists (tests/fixtures/screening/README.md)
EXCERPT = ROOT / "tests" / "fixtures" / "screening"

ENTITIES = (
    ListEntity(
        uid="6907994",
        kind=EntityKind.INDIVIDUAL,
        name="FRANK KAKOLELE BWAMBALE",
        aliases=("FRANK KAKORERE", "AIGLE BLANC"),
        nationalities=("CD",),
        countries=("CD",),
    ),
    ListEntity(
        uid="28263",
        kind=EntityKind.INDIVIDUAL,
        name="TIAN, Yinyin",
        dates_of_birth=("1986-07-12",),
        nationalities=("CN",),
    ),
    ListEntity(uid="12628", kind=EntityKind.INDIVIDUAL, name="GADDAFI, Muhammad", aliases=("GADHAFI, Mohammed",)),
    ListEntity(uid="306", kind=EntityKind.ENTITY, name="BANCO NACIONAL DE CUBA", countries=("CU", "CH")),
    ListEntity(
        uid="6908075",
        kind=EntityKind.INDIVIDUAL,
        name="HIKMAT MIZBAN IBRAHIM AL-AZZAWI",
        aliases=("حكمت مزبان إبراهيم العزاوي",),  # the UN lists the name in its original script too
    ),
)


@pytest.fixture(scope="module")
def index() -> NameIndex:
    return NameIndex(ListedEntity("test", "test:2026-02-27:abc", e) for e in ENTITIES)


def best(index: NameIndex, name: str, **query: Any) -> NameMatch | None:
    matches = index.search(NameQuery(name=name, **query), floor=0.3)
    return matches[0] if matches else None


def test_normalization_transliterates_and_ignores_punctuation_and_order() -> None:
    assert tokens("TIAN, Yinyin") == ("tian", "yinyin")
    assert tokens("SAB'AWI Ibrahim") == ("sabawi", "ibrahim")
    assert tokens("Владимир Путин") == ("vladimir", "putin")
    assert tokens("AL-AZZAWI") == ("al", "azzawi")
    assert phonetic("mohammed") == phonetic("muhammad") == phonetic("mohamed")
    assert phonetic("yousef") == phonetic("yusuf")


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("bwambale", "bwambale", 1.0, 1.0),
        ("bwambale", "bwambael", 0.85, 0.99),  # transposition
        ("bwambale", "bwanbale", 0.85, 0.99),  # typo
        ("mohammed", "muhammad", 0.75, 0.92),  # transliteration variant, lifted by the phonetic key
        ("f", "frank", 0.6, 0.6),  # initial
        ("f", "kakolele", 0.0, 0.0),
        ("myers", "mirza", 0.0, 0.0),  # same vowel-less key, different names
        ("rahul", "anil", 0.0, 0.0),
    ],
)
def test_token_similarity(a: str, b: str, low: float, high: float) -> None:
    assert low <= token_similarity(a, b) <= high


def test_alignment_is_a_weighted_dice_coefficient() -> None:
    full = ("frank", "kakolele", "bwambale")
    assert align(("bwambale", "frank", "kakolele"), (1, 1, 1), full, (1, 1, 1))[0] == 1.0  # reordered
    dropped, pairs, *_ = align(("frank", "bwambale"), (1, 1), full, (1, 1, 1))
    assert dropped == pytest.approx(0.8)  # one part of three missing: review band
    assert ("frank", "frank", 1.0) in pairs


def test_index_finds_perturbed_names(index: NameIndex) -> None:
    cases = {
        "Yinyin Tian": ("28263", 1.0, 1.0),
        "Tian Yinin": ("28263", 0.9, 0.99),
        "Frank Bwambale": ("6907994", 0.75, 0.85),
        "F. Kakolele Bwambale": ("6907994", 0.75, 0.9),
        "Mohamed Gadhafi": ("12628", 0.9, 1.0),
        "Hikmat Mizban Ibrahim al Azawi": ("6908075", 0.9, 1.0),
        "حكمت مزبان إبراهيم العزاوي": ("6908075", 1.0, 1.0),
        "Banco Nacional de Cuba": ("306", 1.0, 1.0),
    }
    for query, (uid, low, high) in cases.items():
        match = best(index, query)
        assert match is not None, query
        assert match.entity_uid == uid, query
        assert low <= match.score <= high, (query, match.score)
        assert match.explanation[0].feature == "name"
    assert best(index, "Meera Iyer") is None
    assert best(index, "") is None


def test_qualifiers_raise_and_lower_the_score(index: NameIndex) -> None:
    plain = best(index, "Tian Yinin")
    same_dob = best(index, "Tian Yinin", date_of_birth="1986-07-12", countries=("CN",))
    other_dob = best(index, "Tian Yinin", date_of_birth="1950-01-01", countries=("IN",))
    company = best(index, "Tian Yinin", kind=EntityKind.ENTITY)
    assert plain is not None
    assert same_dob is not None
    assert other_dob is not None
    assert company is not None
    assert same_dob.score > plain.score > company.score > other_dob.score
    assert {f.feature for f in other_dob.explanation} == {"name", "date_of_birth", "country"}
    dob = next(f for f in other_dob.explanation if f.feature == "date_of_birth")
    assert dob.value < 0
    assert "1986" in dob.detail


def test_index_reports_one_hit_per_entity_best_name(index: NameIndex) -> None:
    matches = index.search(NameQuery(name="Frank Kakorere"), floor=0.5)
    assert [m.entity_uid for m in matches] == ["6907994"]
    assert matches[0].matched_name == "FRANK KAKORERE"
    assert matches[0].list_version == "test:2026-02-27:abc"
    assert index.entity("test", "306") is not None


def test_status_and_version_label() -> None:
    def hit(score: float, dismissed: bool = False) -> NameMatch:
        return NameMatch(
            source="un", list_version="v", entity_uid="1", entity_name="X", entity_kind=EntityKind.INDIVIDUAL,
            matched_name="X", score=score, dismissed=dismissed,
        )  # fmt: skip

    assert status_for((hit(0.95),)) is ScreeningStatus.MATCH
    assert status_for((hit(0.95, dismissed=True), hit(0.75))) is ScreeningStatus.REVIEW
    assert status_for((hit(0.6),)) is ScreeningStatus.CLEAR
    assert version_label("un", None, NOW.date(), "sha256:" + "ab" * 32) == "un:2026-03-02:abababababab"


# -- the sanctioned_party rule ------------------------------------------------------------------


def _screened(*scores: float, dismissed: bool = False, versions: tuple[str, ...] = ("un:v1",)) -> PartyScreening:
    hits = tuple(
        NameMatch(
            source="un", list_version="un:v1", entity_uid=f"e{i}", entity_name=f"Listed {i}",
            entity_kind=EntityKind.INDIVIDUAL, matched_name=f"Listed {i}", score=s, dismissed=dismissed,
        )
        for i, s in enumerate(scores)
    )  # fmt: skip
    return PartyScreening(status=status_for(hits), hits=hits, list_versions=versions, screened_at=NOW)


@pytest.mark.parametrize(
    ("screening", "params", "result", "code"),
    [
        (_screened(), {}, RuleResult.PASS, None),
        (_screened(0.6), {}, RuleResult.PASS, None),
        (_screened(0.75), {}, RuleResult.REVIEW, "SANCTIONS_REVIEW"),
        (_screened(0.75, 0.93), {}, RuleResult.FAIL, "SANCTIONED_PARTY"),
        (_screened(0.93), {"reject_threshold": 0.95}, RuleResult.REVIEW, "SANCTIONS_REVIEW"),
        (_screened(0.93, dismissed=True), {}, RuleResult.PASS, None),
        (None, {}, RuleResult.ERROR, "EVIDENCE_UNAVAILABLE"),
        (PartyScreening(status=ScreeningStatus.PENDING), {}, RuleResult.ERROR, "EVIDENCE_UNAVAILABLE"),
        (_screened(versions=()), {"min_list_versions": 1}, RuleResult.ERROR, "EVIDENCE_UNAVAILABLE"),
    ],
)
def test_sanctioned_party_rule(
    screening: PartyScreening | None, params: dict[str, Any], result: RuleResult, code: str | None
) -> None:
    receiver = make_receiver(make_investor("Listed Person", screening=screening))
    trace = run_rule("sanctioned_party", params, make_facts(receiver=receiver))
    assert trace.result is result, trace.message
    assert (trace.code.value if trace.code else None) == code


def test_sanctioned_party_names_the_hit_and_versions() -> None:
    sender = make_sender(make_investor("Asha Rao", screening=_screened(0.91)))
    trace = run_rule("sanctioned_party", {}, make_facts(sender=sender))
    assert trace.result is RuleResult.FAIL
    assert "sender name matches Listed 0 on un:v1" in trace.message
    assert "un:v1" in trace.details["list_versions"]
    only_receiver = run_rule("sanctioned_party", {"apply_to": "receiver"}, make_facts(sender=sender))
    assert only_receiver.result is RuleResult.PASS


@pytest.mark.parametrize(
    ("required", "active", "result"),
    [
        (True, (), RuleResult.ERROR),  # production without a list of names: fail closed
        (True, ("un:v1",), RuleResult.PASS),
        (False, (), RuleResult.PASS),  # development and tests may run without lists
    ],
)
def test_no_active_list_of_names_fails_closed_where_lists_are_required(
    required: bool, active: tuple[str, ...], result: RuleResult
) -> None:
    receiver = make_receiver(make_investor("Asha Rao", screening=_screened()))
    sanctions = SanctionsEvidence(active_list_versions=active, name_lists_required=required)
    trace = run_rule("sanctioned_party", {"apply_to": "receiver"}, make_facts(receiver=receiver, sanctions=sanctions))
    assert trace.result is result, trace.message
    if result is RuleResult.ERROR:
        assert trace.code is not None
        assert trace.code.value == "EVIDENCE_UNAVAILABLE"
        assert "no sanctions list of names is active" in trace.message


def test_bad_rule_parameters_are_refused() -> None:
    from compliance_shield.domain.policy import compile_policy
    from compliance_shield.errors import PolicyInvalid

    with pytest.raises(PolicyInvalid):
        compile_policy(
            {
                "name": "bad",
                "jurisdiction": "IN",
                "as_of": "2026-01-01",
                "rules": [{"rule": "sanctioned_party", "source": "x y z", "params": {"review_threshold": 0.95}}],
            }
        )


# -- the benchmark's measurement, on a committed excerpt of the lists (correctness only: no timing) --


def test_screening_benchmark_reports_per_kind_threshold_and_locale() -> None:
    command = [sys.executable, "-m", "bench.screening", "--positives", "120", "--negatives", "120", "--seed", "3"]
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [*command, "--json", "--no-check-path", "--data", str(EXCERPT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert (results["positives"], results["negatives"]) == (120, 120)
    thresholds = results["thresholds"]
    review, reject = thresholds["0.70"], thresholds["0.90"]
    assert review["recall"] >= 0.9
    assert review["false_positive_rate"] <= 0.05
    recalls = [row["recall"] for row in thresholds.values()]
    assert recalls == sorted(recalls, reverse=True)  # a higher threshold never finds more
    assert reject["false_positive_rate"] <= review["false_positive_rate"]
    assert set(results["recall_by_kind"]) == KINDS
    assert all(row["cases"] == 10 for row in results["recall_by_kind"].values())
    assert {"en_IN", "hi_IN", "ar_AA", "ru_RU", "es_MX", "pt_BR", "zh_CN", "en_US"} <= set(
        results["false_positive_rate_by_locale"]
    )
    assert results["latency_ms"]["p50"] > 0


def test_a_screening_older_than_an_active_list_version_is_no_evidence() -> None:
    """Between a list import and the re-screening sweep, a clear result does not approve."""
    from compliance_shield.domain.facts import SanctionsEvidence

    receiver_only = {"apply_to": "receiver"}

    receiver = make_receiver(make_investor("Asha Rao", screening=_screened(versions=("un:v1",))))
    current = SanctionsEvidence(list_versions=("un:v1",), active_list_versions=("un:v1",))
    assert (
        run_rule("sanctioned_party", receiver_only, make_facts(receiver=receiver, sanctions=current)).result
        is RuleResult.PASS
    )
    newer = SanctionsEvidence(list_versions=("ofac-sdn:v7", "un:v1"), active_list_versions=("ofac-sdn:v7", "un:v1"))
    trace = run_rule("sanctioned_party", receiver_only, make_facts(receiver=receiver, sanctions=newer))
    assert trace.result is RuleResult.ERROR
    assert trace.code is not None
    assert trace.code.value == "EVIDENCE_UNAVAILABLE"
    assert "not yet been screened against ofac-sdn:v7" in trace.message
    # facts recorded before the active versions were part of them replay as they were decided
    legacy = SanctionsEvidence(list_versions=("ofac-sdn:v7", "un:v1"))
    assert (
        run_rule("sanctioned_party", receiver_only, make_facts(receiver=receiver, sanctions=legacy)).result
        is RuleResult.PASS
    )


def test_a_party_is_screened_for_a_check_only_against_lists_that_include_the_required_versions() -> None:
    from compliance_shield.domain.screening import NameMatch, PartyScreening, ScreeningStatus
    from compliance_shield.services.screening.screening import ScreeningService

    service = ScreeningService(pool=None)  # type: ignore[arg-type]  (screening for a check reads no database)
    service.index = NameIndex(ListedEntity("test", "test:2026-02-27:abc", e) for e in ENTITIES)
    service.index.versions = ("test:2026-02-27:abc",)
    listed = ENTITIES[0]
    investor = make_investor(listed.name, screening=_screened(versions=("un:v0",)))
    assert service.screen_now(investor, ("ofac-sdn:v9",), NOW) is None  # the lists are not loaded yet: no evidence
    fresh = service.screen_now(investor, ("test:2026-02-27:abc",), NOW)
    assert fresh is not None
    assert fresh.list_versions == ("test:2026-02-27:abc",)
    assert fresh.status is ScreeningStatus.MATCH
    assert fresh.hits[0].entity_uid == listed.uid
    assert fresh.screened_at == NOW
    # an officer's dismissal of that entry for this investor carries over
    dismissal = NameMatch.model_validate(fresh.hits[0].model_dump() | {"dismissed": True})
    cleared = make_investor(listed.name, screening=PartyScreening(status=ScreeningStatus.CLEAR, hits=(dismissal,)))
    again = service.screen_now(cleared, ("test:2026-02-27:abc",), NOW)
    assert again is not None
    assert again.status is not ScreeningStatus.MATCH
    assert again.hits[0].dismissed
