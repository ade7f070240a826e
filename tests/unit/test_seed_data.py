"""The demo data set generator: deterministic at any size, and within each template's limits."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from uuid import UUID

import pytest

from compliance_shield.reference_data import list_templates
from compliance_shield.services.reference.seed_data import CATALOGUE, DataSetSize, DemoRows, build_demo, sample_transfer

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICIES: dict[str, UUID | None] = dict.fromkeys(list_templates())


@cache
def rows(investors: int, wallets: int = 1, tokens: int = 4) -> DemoRows:
    return build_demo(7, DataSetSize(investors, wallets, tokens), NOW, POLICIES)


@cache
def large() -> DemoRows:
    """Large enough for every template's holder cap to bind."""
    return rows(100_000, 1, 20)


def test_the_same_seed_and_size_give_the_same_rows() -> None:
    first = build_demo(7, DataSetSize(2000, 2, 8), NOW, POLICIES)
    again = build_demo(7, DataSetSize(2000, 2, 8), NOW, POLICIES)
    assert first == again
    assert build_demo(8, DataSetSize(2000, 2, 8), NOW, POLICIES).people != first.people


def test_the_size_is_what_was_asked_for() -> None:
    data = rows(3000, 2, 20)
    assert len(data.people) == 3001  # the issuer's treasury is an investor too
    assert len(data.wallets) == 3000 * 2 + 1
    assert len({w[0] for w in data.wallets}) == len(data.wallets)
    assert {w[1] for w in data.wallets} == {p[0] for p in data.people}
    assert [t[1] for t in data.tokens] == [spec.symbol for spec in CATALOGUE]
    assert Counter(data.templates.values()) == dict.fromkeys(list_templates(), 5)
    contracts = {t[3] for t in data.tokens}
    assert not contracts & {w[0] for w in data.wallets}


def test_a_larger_data_set_keeps_the_demo_and_adds_to_it() -> None:
    demo, larger = rows(1000), rows(1000, 2, 8)
    # the same investors; the new listed company's insiders are designated for it too
    assert [p[:14] for p in larger.people] == [p[:14] for p in demo.people]
    assert all(set(d[14]) <= set(p[14]) for d, p in zip(demo.people, larger.people, strict=True))
    assert larger.wallets[: len(demo.wallets)] == demo.wallets
    assert larger.tokens[:4] == demo.tokens
    assert sample_transfer(larger) == sample_transfer(demo)


@pytest.mark.parametrize("size", [(0, 1, 4), (10, 0, 4), (10, 11, 4), (10, 1, 0), (10, 1, len(CATALOGUE) + 1)])
def test_impossible_sizes_are_refused(size: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="data set"):
        DataSetSize(*size)


def test_holders_stay_within_each_templates_caps() -> None:
    data = large()
    category = {p[0]: p[6] for p in data.people}
    by_token: dict[UUID, list[tuple[UUID, int]]] = defaultdict(list)
    for token_id, investor_id, balance in data.holdings:
        by_token[token_id].append((investor_id, balance))
    for token_id, template in data.templates.items():
        holders = [category[i] for i, _ in by_token[token_id]]
        if template == "india-private-placement":
            assert 0 < sum(c not in ("qib", "employee") for c in holders) <= 200
        if template == "india-aif":
            assert 0 < sum(c != "accredited" for c in holders) <= 1000
            assert len(holders) > 1000  # accredited investors are not counted
    assert len(by_token) == 20


def test_positions_meet_the_minimums_and_ownership_caps() -> None:
    data = large()
    people = {p[0]: p for p in data.people}
    tokens = {t[0]: t for t in data.tokens}
    held: dict[UUID, int] = Counter()
    nri: dict[UUID, int] = Counter()
    for token_id, investor_id, balance in data.holdings:
        token, person = tokens[token_id], people[investor_id]
        template, supply, unit = data.templates[token_id], token[10], 10 ** token[5]
        value = token[8] * Decimal(balance) / unit
        assert person[7] == "verified"
        if template == "india-aif" and person[6] != "accredited":
            assert value >= 10_000_000
        if template == "india-sm-reit":
            assert value >= 1_000_000
            assert balance * 4 <= supply
        if template == "india-listed-equity" and person[6] == "nri":
            assert balance * 20 <= supply
            nri[token_id] += balance
        held[token_id] += balance
    for token_id, total in held.items():
        assert total <= tokens[token_id][10]
        assert nri[token_id] * 10 <= tokens[token_id][10]


def test_each_listed_company_has_its_own_designated_persons() -> None:
    data = rows(3000, 1, 20)
    listed = [t[0] for t in data.tokens if data.templates[t[0]] == "india-listed-equity"]
    insiders = Counter(token for p in data.people for token in p[14])
    assert set(insiders) == set(listed)
    assert set(insiders.values()) == {20}
