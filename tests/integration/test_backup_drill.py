"""The database runbook's backup-and-restore drill on the embedded PostgreSQL: back up, destroy,
restore, ``audit verify`` clean, every check still readable as it was answered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import psycopg
import pytest
from conftest import TEST_SECRET
from psycopg import sql
from support import Headers, hold, make_party, make_token, policy_document, publish_document, server_process, transfer

from compliance_shield.db import migrate
from compliance_shield.settings import AppEnv, Settings

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("compliance-shield"))
RULES = [{"rule": "wallet_bound"}, {"rule": "kyc_verified"}, {"rule": "sufficient_balance"}]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


async def test_backup_destroy_restore_leaves_a_verified_chain_and_every_check_as_answered(
    new_database: object, server_url: str, admin: Headers, checker: Headers, tmp_path: Path
) -> None:
    url = new_database()  # type: ignore[operator]
    migrate.upgrade(url)
    settings = Settings(app_env=AppEnv.TEST, jwt_secret=TEST_SECRET, database_url=url)
    answered: dict[str, dict[str, object]] = {}
    async with server_process(settings, url, "before") as (_, client, _):
        token = await make_token(client, admin, await publish_document(client, admin, policy_document(RULES)))
        seller, seller_address = await make_party(client, admin)
        _, buyer_address = await make_party(client, admin)
        await hold(client, admin, token["id"], seller["id"], 100)
        ids = []
        for amount, receiver in ((10, buyer_address), (20, buyer_address), (1, "0x" + "ef" * 20), (500, buyer_address)):
            answer = await client.post(
                "/v1/compliance/transfer-check", json=transfer(token["id"], seller_address, receiver, amount),
                headers=checker,
            )  # fmt: skip
            assert answer.status_code == 200
            ids.append(answer.json()["id"])
        cancelled = await client.post(
            f"/v1/compliance/checks/{ids[0]}/cancel", json={"reason": "drill"}, headers=checker
        )
        assert cancelled.status_code == 200, cancelled.text
        listed = await client.get(f"/v1/compliance/checks?token_id={token['id']}&limit=100", headers=checker)
        for item in listed.json()["items"]:
            answered[item["id"]] = (await client.get(f"/v1/compliance/checks/{item['id']}", headers=checker)).json()
    assert {body["status"] for body in answered.values()} == {"APPROVED", "REJECTED"}
    assert answered[ids[0]]["settlement"]["status"] == "cancelled"  # type: ignore[index]
    conn = await asyncpg.connect(url)
    entries = await conn.fetchval("SELECT count(*) FROM audit_log")
    await conn.close()

    env = {**os.environ, "DATABASE_URL": url}
    dump = tmp_path / "drill.dump"
    backed_up = _cli(env, "db", "backup", str(dump))
    assert backed_up.returncode == 0, backed_up.stdout + backed_up.stderr
    assert dump.stat().st_size > 0

    # destroy: the database is dropped and an empty one takes its name
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as server:
        server.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    assert _cli(env, "audit", "verify").returncode != 0  # nothing left to verify

    restored = _cli(env, "db", "restore", str(dump))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    verified = _cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{entries} entries" in verified.stdout
    async with server_process(settings, url, "after") as (_, client, _):
        for check_id, body in answered.items():
            again = await client.get(f"/v1/compliance/checks/{check_id}", headers=checker)
            assert again.status_code == 200
            assert again.json() == body


def test_a_restore_of_a_missing_or_corrupt_file_fails_and_says_so(new_database: object, tmp_path: Path) -> None:
    url = new_database()  # type: ignore[operator]
    env = {**os.environ, "DATABASE_URL": url}
    missing = _cli(env, "db", "restore", str(tmp_path / "nothing.dump"))
    assert missing.returncode == 1
    assert "no backup at" in missing.stdout
    corrupt = tmp_path / "corrupt.dump"
    corrupt.write_bytes(b"PGDMP this is not a dump")
    failed = _cli(env, "db", "restore", str(corrupt))
    assert failed.returncode == 1
    assert "pg_restore failed" in failed.stdout
