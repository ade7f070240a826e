"""Loading the demo data set: every row or none, each investor stored with its name screening."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from compliance_shield.bootstrap import create_pool
from compliance_shield.cli import app as cli
from compliance_shield.db import migrate
from compliance_shield.domain.screening import status_for
from compliance_shield.reference_data import load_country_lists
from compliance_shield.services.reference.policies import PolicyService
from compliance_shield.services.reference.seed import seed_demo
from compliance_shield.services.reference.seed_data import DataSetSize, build_demo
from compliance_shield.services.reference.snapshot import Snapshot
from compliance_shield.services.screening.screening import ScreeningService, investor_query

pytestmark = pytest.mark.integration

UN_XML = Path(__file__).resolve().parents[1] / "fixtures" / "sanctions" / "un" / "UN_consolidated.xml"
SIZE = DataSetSize(investors=300, wallets_per_investor=2, tokens=8)
runner = CliRunner()


@pytest.fixture
def url(new_database: Callable[[], str]) -> str:
    """An empty, migrated database of the test's own."""
    created = new_database()
    migrate.upgrade(created)
    return created


@pytest.fixture
async def pool(url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(url, 4)
    try:
        yield created
    finally:
        await created.close()


async def _seed(pool: asyncpg.Pool, screening: ScreeningService | None = None) -> None:
    policies = PolicyService(pool, Snapshot(load_country_lists()))
    await seed_demo(pool, policies, screening or ScreeningService(pool), size=SIZE)


async def _counts(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        return {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("investors", "wallets", "tokens", "holdings", "holding_lots")
        }


async def test_the_data_set_is_loaded_whole_with_every_investor_screened(pool: asyncpg.Pool) -> None:
    await _seed(pool)
    counts = await _counts(pool)
    assert counts["investors"] == SIZE.investors + 1
    assert counts["wallets"] == SIZE.investors * SIZE.wallets_per_investor + 1
    assert counts["tokens"] == SIZE.tokens
    assert counts["holdings"] == counts["holding_lots"] > SIZE.investors
    async with pool.acquire() as conn:
        statuses = dict(await conn.fetch("SELECT screening_status, count(*) FROM investors GROUP BY 1"))
        loaded = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'demo.loaded'")
    assert statuses == {"clear": SIZE.investors + 1}  # no list imported: screened against none
    assert loaded == 1
    # nothing is left for the server's start-up sweep
    assert await ScreeningService(pool).rescreen_due() == 0


async def test_a_failed_load_leaves_no_row_behind(pool: asyncpg.Pool) -> None:
    rows = build_demo(7, SIZE, datetime.now(UTC), dict.fromkeys(s.template for s in SIZE.token_specs))
    taken = rows.wallets[-1][0]  # one of the second wallets: loaded after every investor
    async with pool.acquire() as conn:
        owner = await conn.fetchval(
            "INSERT INTO investors (name, country, category) VALUES ('Someone Else', 'IN', 'retail') RETURNING id"
        )
        await conn.execute("INSERT INTO wallets (address, investor_id) VALUES ($1, $2)", taken, owner)
    with pytest.raises(asyncpg.UniqueViolationError):
        await _seed(pool)
    assert await _counts(pool) == {"investors": 1, "wallets": 1, "tokens": 0, "holdings": 0, "holding_lots": 0}


async def test_investors_are_screened_against_the_imported_lists(
    url: str, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    imported = await asyncio.to_thread(runner.invoke, cli, ["lists", "import", str(UN_XML), "--source", "un"])
    assert imported.exit_code == 0, imported.output
    screening = ScreeningService(pool)
    await _seed(pool, screening)
    async with pool.acquire() as conn:
        versions = {
            tuple(r["v"]) for r in await conn.fetch("SELECT DISTINCT screening_list_versions AS v FROM investors")
        }
        investors = await conn.fetch(
            "SELECT name, type, country, nationality, screening_status, screening_hits FROM investors"
        )
    assert len(versions) == 1
    assert next(iter(versions))[0].startswith("un:")
    assert investors
    for row in investors:
        # the result stored is what screening the investor now gives
        expected = screening.screen(investor_query(row))
        assert [h["entity_uid"] for h in row["screening_hits"]] == [h.entity_uid for h in expected]
        assert row["screening_status"] == status_for(tuple(expected)).value
    assert await screening.rescreen_due() == 0
