"""The operator commands: token, audit verify, replay, policy validate/templates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from support import Headers, hold, make_party, make_token, publish_template, transfer
from typer.testing import CliRunner

from compliance_shield.cli import app as cli
from compliance_shield.db import audit

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("JWT_SECRET", settings.jwt_secret_value)


def test_token_command_prints_a_verifiable_token(cli_env: None, settings: Any) -> None:
    result = runner.invoke(cli, ["token", "--sub", "ops", "--roles", "admin,checker", "--ttl", "60"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(
        result.output.strip(), settings.jwt_secret_value, algorithms=["HS256"], issuer=settings.jwt_issuer
    )
    assert claims["sub"] == "ops"
    assert claims["roles"] == ["admin", "checker"]
    assert runner.invoke(cli, ["token", "--sub", "x", "--roles", "root"]).exit_code != 0


async def test_replay_reproduces_stored_decisions(
    cli_env: None, client: httpx.AsyncClient, admin: Headers, checker: Headers
) -> None:
    token = await make_token(client, admin, await publish_template(client, admin, "india-private-placement"))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 500)
    _, buyer = await make_party(client, admin)
    _, pep = await make_party(client, admin, pep=True)
    ids = []
    for receiver in (buyer, pep, "0x" + "99" * 20):
        body = (
            await client.post(
                "/v1/compliance/transfer-check",
                json=transfer(token["id"], seller_address, receiver, 5),
                headers=checker,
            )
        ).json()
        ids.append(body["id"])
    for check_id in ids:
        result = await _invoke("replay", check_id)
        assert result.exit_code == 0, result.output
        assert "reproduced" in result.output


async def _invoke(*args: str) -> Any:
    """Run the CLI in a thread: its commands start their own event loop."""
    return await asyncio.to_thread(runner.invoke, cli, list(args))


async def test_audit_verify_detects_an_edited_row(cli_env: None, container: Any) -> None:
    async with container.pool.acquire() as conn, conn.transaction():  # (a chain to tamper with)
        entry = audit.AuditEntry(datetime.now(UTC), "test", "test.entry", "test", "cli", {"n": 1})
        await audit.append(conn, [entry, entry, entry])
    ok = await _invoke("audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    async with container.pool.acquire() as conn:
        seq = await conn.fetchval("SELECT min(seq) + (max(seq) - min(seq)) / 2 FROM audit_log")
        actor = await conn.fetchval("SELECT actor FROM audit_log WHERE seq = $1", seq)
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", seq)
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        try:
            await conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", seq)
            broken = await _invoke("audit", "verify")
            assert broken.exit_code == 1
            assert f"entry {seq}" in broken.output
        finally:
            await conn.execute("UPDATE audit_log SET actor = $2 WHERE seq = $1", seq, actor)
            await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    assert (await _invoke("audit", "verify")).exit_code == 0


def test_policy_commands(tmp_path: Path) -> None:
    listed = runner.invoke(cli, ["policy", "templates"])
    assert listed.exit_code == 0
    for name in ("india-private-placement", "india-aif", "india-sm-reit", "india-listed-equity"):
        assert name in listed.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x1\njurisdiction: IN\nas_of: 2026-01-01\nrules:\n  - rule: nope\n    source: test\n")
    result = runner.invoke(cli, ["policy", "validate", str(bad)])
    assert result.exit_code == 1
    assert "rules[0].rule" in result.output


async def test_seed_loads_a_realistic_data_set_once(
    new_database: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_database()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("JWT_SECRET", settings.jwt_secret_value)
    result = await _invoke("seed", "--investors", "300")
    assert result.exit_code == 0, result.output
    conn = await asyncpg.connect(url)
    try:
        categories = {r["category"] for r in await conn.fetch("SELECT DISTINCT category FROM investors")}
        tokens = await conn.fetchval("SELECT count(*) FROM tokens WHERE policy_id IS NOT NULL")
        holdings = await conn.fetchval("SELECT count(*) FROM holdings")
        published = await conn.fetchval("SELECT count(*) FROM policy_versions")
    finally:
        await conn.close()
    assert {"retail", "accredited", "nri", "employee", "issuer"} <= categories
    assert tokens == 4
    assert published == 4
    assert holdings > 300
    again = await _invoke("seed", "--investors", "300")
    assert again.exit_code != 0
