"""Review cases through the API: every transition, the refused ones included, on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any
from uuid import UUID

import httpx
import pytest
from conftest import bearer
from jsonschema import Draft202012Validator
from support import (
    Headers,
    hold,
    make_party,
    make_token,
    policy_document,
    publish_document,
    server_process,
    transfer,
)

from compliance_shield.bootstrap import Container
from compliance_shield.db.decision_digest import verify_decisions
from compliance_shield.domain import encoding
from compliance_shield.services.cases.demo import escalate_demo_transfers
from compliance_shield.services.checks.replay import replay
from compliance_shield.settings import Settings

pytestmark = pytest.mark.integration

RULES: list[dict[str, Any]] = [
    {"rule": "wallet_bound"},
    {"rule": "kyc_verified"},
    {"rule": "sanctioned_address"},
    {"rule": "token_paused"},
    {"rule": "wallet_frozen"},
    {"rule": "pep_review"},
    {"rule": "sufficient_balance"},
    {"rule": "max_holders", "params": {"max_holders": 2}},
]


@pytest.fixture(scope="module")
def analyst_a(settings: Settings) -> Headers:
    return bearer(settings, "analyst", sub="analyst-a")


@pytest.fixture(scope="module")
def officer_a(settings: Settings) -> Headers:
    return bearer(settings, "officer", sub="officer-a")


@pytest.fixture(scope="module")
def officer_b(settings: Settings) -> Headers:
    return bearer(settings, "officer", sub="officer-b")


class Market:
    """A token (holder cap 2) with a seller holding 1,000 units."""

    def __init__(self, client: httpx.AsyncClient, admin: Headers, checker: Headers, token_id: str, seller: str):
        self.client, self.admin, self.checker, self.token_id, self.seller = client, admin, checker, token_id, seller

    async def check(self, receiver: str, amount: int = 5) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/compliance/transfer-check", json=transfer(self.token_id, self.seller, receiver, amount),
            headers=self.checker,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def escalated_case(self, container: Container, admin: Headers) -> tuple[dict[str, Any], dict[str, Any]]:
        """A transfer to a PEP, escalated, and the case the opener gives it."""
        _, pep = await make_party(self.client, self.admin, pep=True)
        check = await self.check(pep)
        assert check["status"] == "ESCALATED"
        await container.cases.open_escalated()
        case = await self.client.get(f"/v1/cases/by-check/{check['id']}", headers=admin)
        assert case.status_code == 200, case.text
        return check, dict(case.json())


@pytest.fixture
async def market(client: httpx.AsyncClient, admin: Headers, checker: Headers) -> Market:
    policy_id = await publish_document(client, admin, policy_document(RULES))
    token = await make_token(client, admin, policy_id)
    seller, address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 1000)
    return Market(client, admin, checker, token["id"], address)


async def events_after(
    client: httpx.AsyncClient, admin: Headers, cursor: str | None
) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": 1000} | ({"after": cursor} if cursor else {})
        page = (await client.get("/v1/events", params=params, headers=admin)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if len(page["items"]) < 1000:
            return items, str(cursor)


async def propose(
    client: httpx.AsyncClient, case_id: str, who: Headers, resolution: str, reason: str = "ok"
) -> httpx.Response:
    return await client.post(
        f"/v1/cases/{case_id}/propose", json={"resolution": resolution, "reason": reason}, headers=who
    )


async def confirm(client: httpx.AsyncClient, case_id: str, who: Headers) -> httpx.Response:
    return await client.post(f"/v1/cases/{case_id}/confirm", headers=who)


# -- opening ----------------------------------------------------------------------------------------


async def test_an_escalated_check_opens_one_case_with_the_sla_of_its_reason(
    client: httpx.AsyncClient, admin: Headers, container: Container, market: Market
) -> None:
    _, cursor = await events_after(client, admin, None)
    check, case = await market.escalated_case(container, admin)
    assert case["status"] == "open"
    assert case["reason_codes"] == ["PEP_REVIEW"]
    assert case["four_eyes"] is True
    assert case["origin"] == "escalated"
    opened = datetime.fromisoformat(case["opened_at"])
    assert datetime.fromisoformat(case["due_at"]) - opened == timedelta(hours=24)
    await container.cases.open_escalated()  # a second pass opens nothing more
    events, _ = await events_after(client, admin, cursor)
    opened_events = [
        e for e in events if e["event_type"] == "case.opened" and e["payload"]["data"]["check_id"] == check["id"]
    ]
    assert len(opened_events) == 1
    queue = (await client.get("/v1/cases", params={"token_id": market.token_id}, headers=admin)).json()
    assert [c["id"] for c in queue["items"]] == [case["id"]]


async def test_a_rejected_check_gets_a_case_on_request_and_cannot_be_approved_on_review(
    client: httpx.AsyncClient, admin: Headers, analyst_a: Headers, officer_b: Headers, market: Market
) -> None:
    rejected = await market.check("0x" + "12" * 20)
    assert rejected["status"] == "REJECTED"
    body = {"check_id": rejected["id"], "reason": "customer disputes the unbound wallet"}
    opened = await client.post("/v1/cases", json=body, headers=analyst_a)
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["origin"] == "requested"
    again = await client.post("/v1/cases", json=body, headers=analyst_a)
    assert again.status_code == 409
    assert (await propose(client, case["id"], analyst_a, "approve")).status_code == 409
    assert (await propose(client, case["id"], analyst_a, "reject", "wallet still unbound")).status_code == 200
    resolved = await confirm(client, case["id"], officer_b)
    assert resolved.json()["outcome"] == "rejected"
    check = (await client.get(f"/v1/compliance/checks/{rejected['id']}", headers=admin)).json()
    assert check["status"] == "REJECTED"


async def test_opening_a_case_for_an_unknown_check_is_404(client: httpx.AsyncClient, analyst_a: Headers) -> None:
    response = await client.post(
        "/v1/cases", json={"check_id": "00000000-0000-4000-8000-00000000abcd", "reason": "x"}, headers=analyst_a
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


# -- four-eyes approval -----------------------------------------------------------------------------


async def test_four_eyes_approval_turns_the_check_into_an_approval_with_its_reservation(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    analyst_a: Headers,
    officer_a: Headers,
    officer_b: Headers,
    settings: Settings,
    container: Container,
    market: Market,
) -> None:
    check, case = await market.escalated_case(container, admin)
    _, cursor = await events_after(client, admin, None)
    proposed = await propose(client, case["id"], analyst_a, "approve", "PEP source of funds documented")
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["status"] == "proposed"
    assert proposed.json()["proposal"]["proposed_by"] == "analyst-a"

    # the analyst cannot confirm (role), nor can an admin who proposed (four-eyes), nor a checker
    assert (await confirm(client, case["id"], analyst_a)).status_code == 403
    assert (await confirm(client, case["id"], checker)).status_code == 403
    assert (await client.post(f"/v1/cases/{case['id']}/confirm")).status_code == 401
    assert (await propose(client, case["id"], officer_a, "reject")).status_code == 409  # one proposal at a time

    confirmed = await confirm(client, case["id"], officer_b)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "resolved"
    assert confirmed.json()["outcome"] == "approved"
    assert confirmed.json()["resolved_by"] == "officer-b"

    answer = (await client.get(f"/v1/compliance/checks/{check['id']}", headers=checker)).json()
    assert answer["status"] == "APPROVED"
    assert answer["restriction_code"] == 0
    assert answer["settlement"]["status"] == "pending"
    assert answer["expires_at"] is not None
    # the reservation is real: the engine's ledger counts it (cap 2: the seller and this receiver)…
    _, late = await make_party(client, admin)
    late_check = await market.check(late)
    assert [r["code"] for r in late_check["reasons"]] == ["MAX_HOLDERS_EXCEEDED"]
    # …and the approval settles like an engine approval
    settled = await client.post(
        f"/v1/compliance/checks/{check['id']}/settle", json={"tx_hash": "0x" + "ab" * 32}, headers=checker
    )
    assert settled.status_code == 200, settled.text

    events, _ = await events_after(client, admin, cursor)
    mine = [e for e in events if e["payload"]["data"].get("check_id") == check["id"]]
    types = [e["event_type"] for e in mine]
    assert types[:3] == ["case.proposed", "transfer_check.decided", "case.resolved"]
    decided = mine[1]["payload"]["data"]
    assert decided["status"] == "APPROVED"
    assert decided["case_id"] == case["id"]

    # done is done: a resolved case takes no more steps
    assert (await propose(client, case["id"], analyst_a, "reject")).status_code == 409
    assert (await confirm(client, case["id"], officer_a)).status_code == 409

    detail = (await client.get(f"/v1/cases/{case['id']}", headers=analyst_a)).json()
    assert [h["action"] for h in detail["history"]] == ["case.opened", "case.proposed", "case.resolved"]
    # the stored decision still replays: against the engine's answer the case kept
    async with container.pool.acquire() as conn:
        replayed = await replay(conn, UUID(check["id"]))
    assert replayed.reproduced, replayed.differences
    async with container.pool.acquire() as conn:
        actions = await conn.fetch(
            "SELECT action, actor FROM audit_log WHERE entity_type = 'review_case' AND entity_id = $1 ORDER BY seq",
            case["id"],
        )
    assert [(a["action"], a["actor"]) for a in actions] == [
        ("case.opened", "system"), ("case.proposed", "analyst-a"), ("case.resolved", "officer-b"),
    ]  # fmt: skip
    # the audit chain follows the decision the review changed: verification finds it as recorded
    async with container.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        verified = await verify_decisions(conn)
    assert check["id"] not in {m.check_id for m in verified.mismatches}, verified.mismatches


async def test_an_admin_cannot_confirm_their_own_proposal(
    client: httpx.AsyncClient, admin: Headers, officer_b: Headers, container: Container, market: Market
) -> None:
    _, case = await market.escalated_case(container, admin)
    assert (await propose(client, case["id"], admin, "approve")).status_code == 200
    refused = await confirm(client, case["id"], admin)
    assert refused.status_code == 403
    assert "four-eyes" in refused.json()["error"]["message"]
    assert (await confirm(client, case["id"], officer_b)).json()["outcome"] == "approved"


async def test_an_approval_the_cap_no_longer_allows_is_refused_and_recorded(
    client: httpx.AsyncClient,
    admin: Headers,
    analyst_a: Headers,
    officer_b: Headers,
    container: Container,
    market: Market,
) -> None:
    check, case = await market.escalated_case(container, admin)
    assert (await propose(client, case["id"], analyst_a, "approve")).status_code == 200
    # meanwhile another buyer takes the last holder slot (cap 2: the seller and this buyer)
    _, other = await make_party(client, admin)
    assert (await market.check(other))["status"] == "APPROVED"

    refused = await confirm(client, case["id"], officer_b)
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "open"
    assert refused.json()["proposal"] is None
    answer = (await client.get(f"/v1/compliance/checks/{check['id']}", headers=admin)).json()
    assert answer["status"] == "ESCALATED"
    detail = (await client.get(f"/v1/cases/{case['id']}", headers=admin)).json()
    last = detail["history"][-1]
    assert last["action"] == "case.approval_refused"
    assert last["payload"]["codes"] == ["MAX_HOLDERS_EXCEEDED"]
    # and the engine still sees one slot taken, not two
    _, third = await make_party(client, admin)
    assert (await market.check(third))["status"] == "REJECTED"


async def test_two_officers_confirming_at_once_approve_once(
    client: httpx.AsyncClient,
    admin: Headers,
    analyst_a: Headers,
    officer_a: Headers,
    officer_b: Headers,
    container: Container,
    market: Market,
) -> None:
    check, case = await market.escalated_case(container, admin)
    await propose(client, case["id"], analyst_a, "approve")
    answers = await asyncio.gather(confirm(client, case["id"], officer_a), confirm(client, case["id"], officer_b))
    assert sorted(a.status_code for a in answers) == [200, 409]
    async with container.pool.acquire() as conn:
        reservations = await conn.fetchval("SELECT count(*) FROM reservations WHERE check_id = $1", check["id"])
    assert reservations == 1


# -- rejection, more information, declining ----------------------------------------------------------


async def test_a_confirmed_rejection_is_final(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    officer_a: Headers,
    officer_b: Headers,
    container: Container,
    market: Market,
) -> None:
    check, case = await market.escalated_case(container, admin)
    assert (await propose(client, case["id"], officer_a, "reject", "adverse media")).status_code == 200
    assert (await confirm(client, case["id"], officer_a)).status_code == 403  # the proposer, an officer
    resolved = await confirm(client, case["id"], officer_b)
    assert resolved.json()["outcome"] == "rejected"
    answer = (await client.get(f"/v1/compliance/checks/{check['id']}", headers=checker)).json()
    assert answer["status"] == "REJECTED"
    assert answer["restriction_code"] == 6  # PEP_REVIEW, the reason it was escalated
    assert (
        await client.post(f"/v1/cases/{case['id']}/assign", json={"assignee": "x"}, headers=officer_a)
    ).status_code == 409


async def test_needs_more_info_waits_for_a_new_proposal(
    client: httpx.AsyncClient,
    admin: Headers,
    analyst_a: Headers,
    officer_b: Headers,
    container: Container,
    market: Market,
) -> None:
    check, case = await market.escalated_case(container, admin)
    await propose(client, case["id"], analyst_a, "needs_more_info", "ask for the source-of-wealth letter")
    waiting = await confirm(client, case["id"], officer_b)
    assert waiting.json()["status"] == "awaiting_info"
    answer = (await client.get(f"/v1/compliance/checks/{check['id']}", headers=admin)).json()
    assert answer["status"] == "ESCALATED"
    assert (await confirm(client, case["id"], officer_b)).status_code == 409  # nothing to confirm
    assert (await propose(client, case["id"], analyst_a, "approve", "letter received")).json()["status"] == "proposed"


async def test_declining_reopens_the_case_and_the_proposer_cannot_decline(
    client: httpx.AsyncClient,
    admin: Headers,
    analyst_a: Headers,
    officer_a: Headers,
    officer_b: Headers,
    container: Container,
    market: Market,
) -> None:
    _, case = await market.escalated_case(container, admin)
    assert (
        await client.post(f"/v1/cases/{case['id']}/decline", json={"reason": "x"}, headers=officer_b)
    ).status_code == 409
    await propose(client, case["id"], officer_a, "approve")
    decline = f"/v1/cases/{case['id']}/decline"
    assert (await client.post(decline, json={"reason": "mine"}, headers=officer_a)).status_code == 403
    assert (await client.post(decline, json={"reason": "no"}, headers=analyst_a)).status_code == 403
    declined = await client.post(decline, json={"reason": "evidence too thin"}, headers=officer_b)
    assert declined.status_code == 200
    assert declined.json()["status"] == "open"


async def test_assign_note_and_filter_the_queue(
    client: httpx.AsyncClient, admin: Headers, analyst_a: Headers, container: Container, market: Market
) -> None:
    _, case = await market.escalated_case(container, admin)
    assigned = await client.post(f"/v1/cases/{case['id']}/assign", json={"assignee": "analyst-a"}, headers=analyst_a)
    assert assigned.json()["assignee"] == "analyst-a"
    note = {"body": "called the investor", "attachments": [{"uri": "s3://evidence/letter.pdf", "name": "letter"}]}
    assert (await client.post(f"/v1/cases/{case['id']}/notes", json=note, headers=analyst_a)).status_code == 201
    detail = (await client.get(f"/v1/cases/{case['id']}", headers=analyst_a)).json()
    assert detail["notes"][0]["attachments"] == [{"uri": "s3://evidence/letter.pdf", "name": "letter"}]
    assert detail["check"]["id"] == case["check_id"]
    mine = await client.get("/v1/cases", params={"assignee": "analyst-a", "reason": "PEP_REVIEW"}, headers=analyst_a)
    assert case["id"] in [c["id"] for c in mine.json()["items"]]
    others = await client.get("/v1/cases", params={"assignee": "someone-else"}, headers=analyst_a)
    assert case["id"] not in [c["id"] for c in others.json()["items"]]
    assert (
        await client.get("/v1/cases", params={"overdue": "true", "token_id": market.token_id}, headers=analyst_a)
    ).json()["items"] == []


# -- bad input names its field -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("propose", {"resolution": "approve", "reason": "   "}, "reason"),
        ("propose", {"resolution": "approve", "reason": "a\x00b"}, "reason"),
        ("propose", {"resolution": "maybe", "reason": "x"}, "resolution"),
        ("propose", {"resolution": "approve"}, "reason"),
        ("propose", {"resolution": "approve", "reason": "x", "extra": 1}, "extra"),
        ("notes", {"body": "x", "attachments": [{"uri": "not a uri", "name": "n"}]}, "attachments[0].uri"),
        ("assign", {"assignee": "x" * 201}, "assignee"),
        ("decline", {"reason": ""}, "reason"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient,
    admin: Headers,
    officer_a: Headers,
    container: Container,
    market: Market,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    _, case = await market.escalated_case(container, admin)
    response = await client.post(f"/v1/cases/{case['id']}/{path}", json=body, headers=officer_a)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_FAILED"
    assert field in [d["field"] for d in response.json()["error"]["details"]]


async def test_roles_and_unknown_cases(client: httpx.AsyncClient, checker: Headers, analyst_a: Headers) -> None:
    assert (await client.get("/v1/cases", headers=checker)).status_code == 403
    assert (await client.get("/v1/cases")).status_code == 401
    unknown = "00000000-0000-4000-8000-00000000dcba"
    assert (await client.get(f"/v1/cases/{unknown}", headers=analyst_a)).status_code == 404
    assert (await propose(client, unknown, analyst_a, "approve")).status_code == 404
    assert (await client.get(f"/v1/cases/by-check/{unknown}", headers=checker)).status_code == 404


async def test_demo_escalations_open_cases_for_transfers_to_pep_holders(
    client: httpx.AsyncClient, admin: Headers, container: Container, market: Market
) -> None:
    pep, _ = await make_party(client, admin, pep=True)
    await hold(client, admin, market.token_id, pep["id"], 1)
    sample = {"amount": "10", "blockchain_type": "permissioned", "transfer_type": "secondary"}
    checks = await escalate_demo_transfers(container.pool, container.decisions, container.cases, sample, count=1000)
    mine = [c for c in checks if str(c["token_id"]) == market.token_id]
    assert [c["status"] for c in mine] == ["ESCALATED"]
    case = await client.get(f"/v1/cases/by-check/{mine[0]['id']}", headers=admin)
    assert case.json()["status"] == "open"


async def test_case_events_match_the_published_event_schema(
    client: httpx.AsyncClient,
    admin: Headers,
    analyst_a: Headers,
    officer_b: Headers,
    container: Container,
    market: Market,
) -> None:
    _, cursor = await events_after(client, admin, None)
    _, case = await market.escalated_case(container, admin)
    await propose(client, case["id"], analyst_a, "reject", "adverse media")
    await confirm(client, case["id"], officer_b)
    events, _ = await events_after(client, admin, cursor)
    mine = [e["payload"] for e in events if e["payload"]["data"].get("case_id") == case["id"]]
    assert [e["event_type"] for e in mine] == [
        "case.opened",
        "case.proposed",
        "transfer_check.decided",
        "case.resolved",
    ]
    schema = encoding.loads(files("compliance_shield").joinpath("schemas", "compliance-event.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for event in mine:
        assert list(validator.iter_errors(event)) == [], event["event_type"]


async def test_an_approval_with_new_grounds_for_review_is_refused(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    analyst_a: Headers,
    officer_b: Headers,
    container: Container,
) -> None:
    rules = [{"rule": "wallet_bound"}, {"rule": "pep_review"}, {"rule": "sufficient_balance"},
             {"rule": "country_review", "params": {"countries": ["MT"], "include_fatf_increased_monitoring": False,
                                                    "include_fatf_call_for_action_edd": False}}]  # fmt: skip
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(rules)))
    seller, a = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 100)
    buyer, b = await make_party(client, admin, pep=True)
    check = (
        await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], a, b, 5), headers=checker)
    ).json()
    assert [r["code"] for r in check["reasons"]] == ["PEP_REVIEW"]
    await container.cases.open_escalated()
    case = (await client.get(f"/v1/cases/by-check/{check['id']}", headers=admin)).json()
    await propose(client, case["id"], analyst_a, "approve", "PEP reviewed")
    # the receiver moves to a country under review: a ground the officers did not see
    moved = await client.patch(f"/v1/investors/{buyer['id']}", json={"country": "MT"}, headers=admin)
    assert moved.status_code == 200, moved.text
    refused = await confirm(client, case["id"], officer_b)
    assert refused.json()["status"] == "open"
    detail = (await client.get(f"/v1/cases/{case['id']}", headers=admin)).json()
    assert detail["history"][-1]["payload"]["codes"] == ["COUNTRY_REVIEW"]
    assert (await client.get(f"/v1/compliance/checks/{check['id']}", headers=admin)).json()["status"] == "ESCALATED"


async def test_another_server_process_counts_a_reviewed_approval(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    analyst_a: Headers,
    officer_b: Headers,
    settings: Settings,
    database_url: str,
    container: Container,
    market: Market,
) -> None:
    async with server_process(settings, database_url) as (_, other, _app):
        _, holder = await make_party(client, admin)
        body = transfer(market.token_id, market.seller, holder, 1)
        first = await other.post("/v1/compliance/transfer-check", json=body, headers=checker)
        assert first.json()["status"] == "APPROVED"  # the other process has the token's ledger loaded now
        cancelled = await client.post(f"/v1/compliance/checks/{first.json()['id']}/cancel", json={"reason": "x"},
                                      headers=admin)  # fmt: skip
        assert cancelled.status_code == 200
        _, case = await market.escalated_case(container, admin)
        await propose(client, case["id"], analyst_a, "approve")
        assert (await confirm(client, case["id"], officer_b)).json()["outcome"] == "approved"
        _, late = await make_party(client, admin)
        body = transfer(market.token_id, market.seller, late, 1)
        answer = await other.post("/v1/compliance/transfer-check", json=body, headers=checker)
        assert [r["code"] for r in answer.json()["reasons"]] == ["MAX_HOLDERS_EXCEEDED"]
