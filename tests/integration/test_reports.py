"""STR/SAR drafts of review cases through the API: draft, edit, four-eyes sign-off, filed for good."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from conftest import bearer
from support import Headers, hold, make_party, make_token, policy_document, publish_document, transfer

from compliance_shield.bootstrap import Container
from compliance_shield.db import cases as cases_repo
from compliance_shield.domain import encoding
from compliance_shield.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def analyst(settings: Settings) -> Headers:
    return bearer(settings, "analyst", sub="str-analyst")


@pytest.fixture(scope="module")
def officer_a(settings: Settings) -> Headers:
    return bearer(settings, "officer", sub="str-officer-a")


@pytest.fixture(scope="module")
def officer_b(settings: Settings) -> Headers:
    return bearer(settings, "officer", sub="str-officer-b")


async def case_for(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, container: Container, jurisdiction: str = "IN"
) -> dict[str, Any]:
    rules = [{"rule": "wallet_bound"}, {"rule": "pep_review"}, {"rule": "sufficient_balance"}]
    token = await make_token(client, admin, await publish_document(
        client, admin, policy_document(rules, jurisdiction=jurisdiction)), price_per_unit="2500.5")  # fmt: skip
    seller, a = await make_party(client, admin, name="Asha Raman")
    await hold(client, admin, token["id"], seller["id"], 100)
    _, b = await make_party(client, admin, pep=True, name="मीरा अय्यर", country="AE", nationality="IN")
    check = (
        await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], a, b, 4), headers=checker)
    ).json()
    await container.cases.open_escalated()
    case = (await client.get(f"/v1/cases/by-check/{check['id']}", headers=admin)).json()
    return dict(case)


async def test_an_str_is_drafted_edited_signed_by_another_officer_and_filed_for_good(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    analyst: Headers,
    officer_a: Headers,
    officer_b: Headers,
    container: Container,
) -> None:
    case = await case_for(client, admin, checker, container)
    async with container.pool.acquire() as conn:
        await cases_repo.add_narrative(
            conn, case["id"], datetime.now(UTC), model="grok-4-0709", prompt_version="case-narrative/1",
            inputs_sha256="ab" * 32, sent_fields=[],
            narrative={"summary": "A PEP receives 4 units.", "trigger": "pep_review asked for review."},
        )  # fmt: skip
    created = await client.post(f"/v1/cases/{case['id']}/reports", json={}, headers=analyst)
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["format"] == "fiu-ind-str"
    assert report["status"] == "draft"
    rendered = report["rendered"]
    assert rendered["report_type"] == "STR"
    assert [p["relation"] for p in rendered["persons"]] == ["originator", "beneficiary"]
    assert rendered["persons"][1]["name"] == "मीरा अय्यर"
    assert rendered["persons"][1]["politically_exposed"] is True
    assert rendered["transactions"][0]["transaction_reference"] == case["check_id"]
    assert rendered["transactions"][0]["value"] == "10002.00"
    assert rendered["grounds_of_suspicion"] == "A PEP receives 4 units. pep_review asked for review."
    assert rendered["alert_indicators"] == ["PEP_REVIEW"]
    rid = report["id"]

    edit = {
        "grounds_of_suspicion": "Receiver is a foreign PEP; funds source unexplained.",
        "suspicion_due_to": ["background_of_client", "value_of_transaction"],
        "action_taken": "Transfer refused.",
    }
    edited = await client.patch(f"/v1/reports/{rid}", json=edit, headers=analyst)
    assert edited.status_code == 200, edited.text
    assert edited.json()["rendered"]["suspicion_due_to"] == ["background_of_client", "value_of_transaction"]

    assert (await client.post(f"/v1/reports/{rid}/submit", headers=analyst)).json()["status"] == "pending_signoff"
    assert (await client.patch(f"/v1/reports/{rid}", json=edit, headers=analyst)).status_code == 409
    assert (await client.post(f"/v1/reports/{rid}/sign", headers=analyst)).status_code == 403  # role
    returned = await client.post(f"/v1/reports/{rid}/return", json={"reason": "add the action"}, headers=officer_a)
    assert returned.json()["status"] == "draft"
    assert (await client.post(f"/v1/reports/{rid}/submit", headers=officer_a)).status_code == 200
    refused = await client.post(f"/v1/reports/{rid}/sign", headers=officer_a)
    assert refused.status_code == 403
    assert "four-eyes" in refused.json()["error"]["message"]

    signed = await client.post(f"/v1/reports/{rid}/sign", headers=officer_b)
    assert signed.status_code == 200, signed.text
    filed = signed.json()
    assert filed["status"] == "filed"
    assert filed["signed_by"] == "str-officer-b"
    assert filed["content_sha256"] == hashlib.sha256(encoding.dumps(filed["rendered"], sort_keys=True)).hexdigest()

    # filed is final: the API refuses, and so does the database
    assert (await client.patch(f"/v1/reports/{rid}", json=edit, headers=analyst)).status_code == 409
    assert (await client.post(f"/v1/reports/{rid}/submit", headers=analyst)).status_code == 409
    async with container.pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE case_reports SET document = '{}' WHERE id = $1", rid)
        audited = await conn.fetchrow(
            "SELECT actor, payload FROM audit_log WHERE action = 'report.filed' AND entity_id = $1", case["id"]
        )
    assert audited["actor"] == "str-officer-b"
    assert audited["payload"]["content_sha256"] == filed["content_sha256"]

    pdf = await client.get(f"/v1/reports/{rid}/pdf", headers=analyst)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    listed = (await client.get(f"/v1/cases/{case['id']}/reports", headers=analyst)).json()
    assert [r["id"] for r in listed] == [rid]


async def test_a_us_token_gets_a_fincen_sar(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, analyst: Headers, container: Container
) -> None:
    case = await case_for(client, admin, checker, container, jurisdiction="US")
    report = (await client.post(f"/v1/cases/{case['id']}/reports", json={}, headers=analyst)).json()
    assert report["format"] == "fincen-sar"
    edited = await client.patch(
        f"/v1/reports/{report['id']}",
        json={"grounds_of_suspicion": "Narrative.", "suspicion_due_to": ["background_of_client"]},
        headers=analyst,
    )
    sar = edited.json()["rendered"]
    assert sar["part_v_narrative"] == "Narrative."
    assert sar["part_ii_suspicious_activity"]["categories"] == [
        "Other suspicious activities: politically exposed person / adverse background"
    ]
    assert [s["relationship"] for s in sar["part_i_subjects"]] == ["sender", "receiver"]
    pdf = await client.get(f"/v1/reports/{report['id']}/pdf", headers=analyst)
    assert pdf.content.startswith(b"%PDF-")
    forced = await client.post(f"/v1/cases/{case['id']}/reports", json={"format": "fiu-ind-str"}, headers=analyst)
    assert forced.json()["format"] == "fiu-ind-str"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"suspicion_due_to": ["astrology"]}, "suspicion_due_to"),
        ({"grounds_of_suspicion": "a\x00b"}, "grounds_of_suspicion"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_bad_edits_are_422_naming_the_field(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    analyst: Headers,
    container: Container,
    body: dict[str, Any],
    field: str,
) -> None:
    case = await case_for(client, admin, checker, container)
    report = (await client.post(f"/v1/cases/{case['id']}/reports", json={}, headers=analyst)).json()
    response = await client.patch(f"/v1/reports/{report['id']}", json=body, headers=analyst)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]


async def test_an_empty_draft_cannot_be_submitted_and_checkers_cannot_draft(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, analyst: Headers, container: Container
) -> None:
    case = await case_for(client, admin, checker, container)
    assert (await client.post(f"/v1/cases/{case['id']}/reports", json={}, headers=checker)).status_code == 403
    report = (await client.post(f"/v1/cases/{case['id']}/reports", json={}, headers=analyst)).json()
    assert report["rendered"]["grounds_of_suspicion"] == ""
    refused = await client.post(f"/v1/reports/{report['id']}/submit", headers=analyst)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "grounds_of_suspicion"
    unknown = "00000000-0000-4000-8000-0000000000aa"
    assert (await client.get(f"/v1/reports/{unknown}", headers=analyst)).status_code == 404
    assert (await client.post(f"/v1/cases/{unknown}/reports", json={}, headers=analyst)).status_code == 404
