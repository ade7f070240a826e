"""One request the database refuses never fails the others of its group commit.

The edge refuses what PostgreSQL cannot store (NUL characters …); these tests reach the writer
below the edge, as a request no validation foresaw would, and check the writer's own guarantee:
the poisonous request alone fails (500 INTERNAL_ERROR with an error id, nothing stored) while
every valid request grouped with it is decided and stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from support import Headers, hold, make_party, make_token, publish_template, transfer

from compliance_shield.api.schemas import TransferCheckIn
from compliance_shield.errors import ComplianceShieldError, InternalError
from compliance_shield.services.checks.gather import CheckRequest

pytestmark = pytest.mark.integration


def _poisoned(request: CheckRequest) -> CheckRequest:
    """``request`` with a reference PostgreSQL refuses to store (text cannot hold NUL)."""
    reference = "bad\x00ref"
    return dataclasses.replace(request, reference=reference, echo={**request.echo, "reference": reference})


async def test_a_poisonous_request_fails_alone_and_the_rest_of_its_group_commits(
    client: httpx.AsyncClient, admin: Headers, container: Any, conn: asyncpg.Connection
) -> None:
    token = await make_token(client, admin, await publish_template(client, admin, "india-listed-equity"))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1_000_000)
    buyers = [(await make_party(client, admin))[1] for _ in range(6)]
    requests = [
        TransferCheckIn.model_validate(transfer(token["id"], seller_address, buyers[i % 6], 10 + i)).to_check_request(
            "test:isolation", None
        )
        for i in range(30)
    ]
    poisonous = {3, 17, 29}
    for i in poisonous:
        requests[i] = _poisoned(requests[i])

    results: list[Any] = await asyncio.gather(*(container.decisions.check(r) for r in requests), return_exceptions=True)

    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == sorted(poisonous), [repr(results[i]) for i in failed]
    for i in poisonous:
        error = results[i]
        assert isinstance(error, InternalError)
        assert (error.status, error.code) == (500, "INTERNAL_ERROR")
        assert error.details["error_id"]
    decided = [r for r in results if not isinstance(r, ComplianceShieldError | BaseException)]
    assert len(decided) == 27
    stored = await conn.fetchval(
        "SELECT count(*) FROM transfer_compliance_checks WHERE id = ANY($1::uuid[])", [r["id"] for r in decided]
    )
    assert stored == 27
    # nothing of the poisonous ones was kept, and the token's ledger is still right: a new check
    # sees the reservations of the 27 that were stored
    assert not await conn.fetchval(
        "SELECT count(*) FROM transfer_compliance_checks WHERE principal = 'test:isolation' AND reference LIKE 'bad%'"
    )
    reserved = await conn.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM reservations WHERE check_id = ANY($1::uuid[])",
        [r["id"] for r in decided if r["status"] == "APPROVED"],
    )
    expected = sum(int(r["amount"]) for r in decided if r["status"] == "APPROVED")
    assert reserved == expected
    assert all(isinstance(r["id"], UUID) for r in decided)
