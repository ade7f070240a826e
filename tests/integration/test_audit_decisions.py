"""The audit chain covers the decisions themselves, and signed checkpoints detect truncation."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, transfer

from compliance_shield.audit_cli import verify_all
from compliance_shield.db.decision_digest import verify_decisions
from compliance_shield.services import audit_checkpoints
from compliance_shield.settings import AppEnv, Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def decided(client: httpx.AsyncClient, admin: Headers, checker: Headers) -> tuple[str, str]:
    """A rejected check (the seller holds nothing) and an approved one."""
    policy_id = await publish_document(client, admin, policy_document([{"rule": "sufficient_balance"}]))
    token = await make_token(client, admin, policy_id)
    seller, seller_address = await make_party(client, admin)
    _, buyer = await make_party(client, admin)
    rejected = await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], seller_address, buyer, 5),
                                 headers=checker)  # fmt: skip
    assert rejected.json()["status"] == "REJECTED", rejected.text
    await hold(client, admin, token["id"], seller["id"], 10)
    approved = await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], seller_address, buyer, 5),
                                 headers=checker)  # fmt: skip
    assert approved.json()["status"] == "APPROVED", approved.text
    return rejected.json()["id"], approved.json()["id"]


def _named(result: Any) -> dict[str, str]:
    return {m.check_id: m.reason for m in result.mismatches}


async def test_a_decision_flipped_by_sql_is_named(tx_conn: asyncpg.Connection, decided: tuple[str, str]) -> None:
    rejected, approved = decided
    assert not {rejected, approved} & _named(await verify_decisions(tx_conn)).keys()
    await tx_conn.execute("UPDATE transfer_compliance_checks SET status = 'APPROVED' WHERE id = $1", rejected)
    named = _named(await verify_decisions(tx_conn))
    print(f"\nafter flipping one stored decision: {len(named)} named")
    assert named[rejected] == "the stored decision differs from the audited one"
    assert approved not in named


async def test_settling_a_decision_keeps_it_intact(
    client: httpx.AsyncClient, checker: Headers, tx_conn: asyncpg.Connection, decided: tuple[str, str]
) -> None:
    _, approved = decided
    settled = await client.post(f"/v1/compliance/checks/{approved}/settle", json={"tx_hash": "0x" + "ab" * 32},
                                headers=checker)  # fmt: skip
    assert settled.status_code == 200, settled.text
    assert approved not in _named(await verify_decisions(tx_conn))


async def test_altered_facts_and_removed_or_unaudited_rows_are_named(
    tx_conn: asyncpg.Connection, decided: tuple[str, str]
) -> None:
    rejected, approved = decided
    await tx_conn.execute(
        "UPDATE transfer_compliance_checks SET facts = (facts::text || ' ')::json WHERE id = $1", approved
    )
    copy = await tx_conn.fetchval(
        """INSERT INTO transfer_compliance_checks
           SELECT (json_populate_record(c, json_build_object('id', gen_random_uuid()))).*
             FROM transfer_compliance_checks c WHERE id = $1 RETURNING id""",
        rejected,
    )
    await tx_conn.execute("DELETE FROM transfer_compliance_checks WHERE id = $1", rejected)
    named = _named(await verify_decisions(tx_conn))
    assert named[approved] == "the stored facts differ from the audited ones"
    assert named[rejected] == "the audited decision is no longer stored"
    assert named[str(copy)] == "a stored decision no audit entry records"


async def test_checkpoints_detect_truncation_and_forgery(
    tx_conn: asyncpg.Connection, decided: tuple[str, str], tmp_path: Path
) -> None:
    key = "0x" + secrets.token_hex(32)
    signer = audit_checkpoints.signer_address(key)
    path = tmp_path / "checkpoints.jsonl"
    point = await audit_checkpoints.take(tx_conn, key, datetime.now(UTC))
    assert point is not None
    audit_checkpoints.append(path, point)
    assert await audit_checkpoints.check(tx_conn, audit_checkpoints.read(path), signer) == []

    forged = await audit_checkpoints.take(tx_conn, "0x" + secrets.token_hex(32), datetime.now(UTC))
    assert forged is not None
    problems = await audit_checkpoints.check(tx_conn, [forged], signer)
    assert problems == [f"checkpoint of seq {forged.seq} at {forged.at} is not signed by {signer}"]

    # the newest entries removed (the append-only triggers bypassed, as an attacker with the
    # table owner's rights could): the chain alone still verifies, the checkpoint does not
    await tx_conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    removed = await tx_conn.execute("DELETE FROM audit_log WHERE seq > $1 - 3", point.seq)
    print(f"\nremoved the newest audit entries ({removed})")
    problems = await audit_checkpoints.check(tx_conn, audit_checkpoints.read(path), signer)
    assert problems == [f"entry {point.seq}, checkpointed at {point.at}, is missing: the log was truncated"]

    settings = Settings(
        app_env=AppEnv.TEST, jwt_secret="x" * 40, database_url="postgresql://unused/x",
        audit_checkpoint_file=path, audit_checkpoint_signer=signer,
    )  # fmt: skip
    lines, ok = await verify_all(tx_conn, settings)
    assert not ok
    assert any("the log was truncated" in line for line in lines)
