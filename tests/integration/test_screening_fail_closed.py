"""A deployment that must screen names (production) and has no list of names fails closed: the
name-screening rule is an error (checks escalate, never approve) and /ready says why."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import TEST_SECRET, bearer
from support import make_party, make_token, policy_document, publish_document, server_process, transfer

from compliance_shield.db import migrate
from compliance_shield.settings import AppEnv, Settings

pytestmark = pytest.mark.integration


async def test_no_list_of_names_escalates_and_is_not_ready(new_database: Callable[[], str]) -> None:
    url = new_database()  # a database of its own: no list has ever been imported into it
    migrate.upgrade(url)
    settings = Settings(app_env=AppEnv.TEST, jwt_secret=TEST_SECRET, database_url=url, screening_require_lists=True)
    admin, checker = bearer(settings, "admin"), bearer(settings, "checker")
    async with server_process(settings, url, "production-like") as (_, client, _app):
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["sanctions_lists"] == "no active sanctions list of names: name screening fails"

        policy_id = await publish_document(client, admin, policy_document([{"rule": "sanctioned_party"}]))
        token = await make_token(client, admin, policy_id)
        _, seller = await make_party(client, admin)
        _, buyer = await make_party(client, admin)
        check = await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], seller, buyer, 1),
                                  headers=checker)  # fmt: skip
        assert check.status_code == 200, check.text
        assert check.json()["status"] == "ESCALATED"
        assert [r["code"] for r in check.json()["reasons"]] == ["EVIDENCE_UNAVAILABLE"]


def test_lists_are_required_in_production_unless_configured_otherwise() -> None:
    production = {"app_env": AppEnv.PRODUCTION, "jwt_secret": "s" * 40, "database_url": "postgresql://db/x"}
    assert Settings(**production).screening_lists_required
    assert not Settings(**production, screening_require_lists=False).screening_lists_required
    assert not Settings(app_env=AppEnv.DEVELOPMENT).screening_lists_required
