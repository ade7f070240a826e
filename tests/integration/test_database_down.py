"""With the database stopped, transfer checks answer 503 and nothing is approved."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import hold, make_party, make_token, policy_document, publish_document, transfer

from compliance_shield.api.app import create_app
from compliance_shield.api.auth import issue_token
from compliance_shield.bootstrap import build_container, connect

pytestmark = pytest.mark.integration


def _pg_ctl_stop(pgdata: Path, *, check: bool) -> None:
    import pgserver  # after conftest has set XDG_RUNTIME_DIR

    pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    # as root, pgserver runs the server as its own system user: pg_ctl must run as that user too
    user = "pgserver" if os.geteuid() == 0 else None
    command = [str(pg_ctl), "-D", str(pgdata), "stop", "-m", "immediate"]
    subprocess.run(command, check=check, capture_output=True, user=user)  # noqa: S603


def _start(pgdata: Path) -> Any:
    import pgserver

    return pgserver.get_server(str(pgdata), cleanup_mode=None)


async def test_stopped_database_answers_503_and_approves_nothing(settings: Any) -> None:
    # a folder of its own (not pytest's tmp_path, which other pytest runs on the machine may prune)
    pgdata = Path(tempfile.mkdtemp(prefix="cs-pgdown-")) / "pg"
    server = await asyncio.to_thread(_start, pgdata)
    url = server.get_uri()
    container = await build_container(settings, url=url, migrate=True)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, container=container)), base_url="http://t"
    )
    from datetime import UTC, datetime

    token = issue_token(settings.jwt_secret_value, "t", ["admin"], 600, datetime.now(UTC), settings.jwt_issuer)
    admin = {"Authorization": f"Bearer {token}"}
    try:
        policy = await publish_document(
            client, admin, policy_document([{"rule": "wallet_bound"}, {"rule": "sufficient_balance"}])
        )
        tok = await make_token(client, admin, policy)
        seller, seller_address = await make_party(client, admin)
        await hold(client, admin, tok["id"], seller["id"], 100)
        _, buyer = await make_party(client, admin)
        ok = await client.post(
            "/v1/compliance/transfer-check", json=transfer(tok["id"], seller_address, buyer, 1), headers=admin
        )
        assert ok.json()["status"] == "APPROVED"

        await asyncio.to_thread(_pg_ctl_stop, pgdata, check=True)
        body = transfer(tok["id"], seller_address, buyer, 1)
        answers = await asyncio.gather(
            *(client.post("/v1/compliance/transfer-check", json=body, headers=admin) for _ in range(5))
        )
        assert [a.status_code for a in answers] == [503] * 5
        assert {a.json()["error"]["code"] for a in answers} == {"SERVICE_UNAVAILABLE"}
        assert (await client.get("/ready")).status_code == 503

        await asyncio.to_thread(server.ensure_postgres_running)  # restart
        conn = await connect(url)
        try:
            approved = await conn.fetchval("SELECT count(*) FROM transfer_compliance_checks WHERE status = 'APPROVED'")
        finally:
            await conn.close()
        assert approved == 1
    finally:
        await client.aclose()
        await container.close()
        _pg_ctl_stop(pgdata, check=False)
        shutil.rmtree(pgdata.parent, ignore_errors=True)
