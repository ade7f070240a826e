"""The compliance console in a real browser (Debian's Chromium driven by Playwright).

The compliance officers' story: a transfer escalates on a PEP, the case appears in the queue, analyst A
proposes approval, A cannot confirm, officer B confirms, and the check answers APPROVED through
the API with its event on the feed. Each page is saved under docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from chat_server import NARRATIVE, serving
from conftest import TEST_SECRET, bearer
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright, expect
from support import Headers, hold, make_party, make_token, policy_document, publish_document, transfer

from compliance_shield.bootstrap import Container
from compliance_shield.settings import AppEnv, Settings
from compliance_shield.workers.reasoning import reasoning_service

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: as root, in a machine without a display or outside network (see the README's test section)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip


# how long an expectation waits for the page to get there (a bound, not a measurement: these
# machines are shared, and a page can take seconds under load)
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
async def console_url(app: FastAPI) -> AsyncIterator[str]:
    """The app served over real HTTP on a free loopback port (the browser needs a socket)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is not installed: run scripts/test (it installs Debian's chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def sign_in(page: Page, base: str, headers: Headers) -> None:
    token = headers["Authorization"].removeprefix("Bearer ")
    await page.goto(f"{base}/console/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Bearer token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


async def sign_out(page: Page) -> None:
    """Sign out and wait until the sign-in page is shown (the session cookie is gone by then: going
    elsewhere before the answer arrives would still carry it)."""
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_an_escalated_transfer_is_approved_by_two_people_in_the_console(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    settings: Settings,
    container: Container,
    console_url: str,
    browser: Browser,
) -> None:
    rules: list[dict[str, Any]] = [{"rule": "wallet_bound"}, {"rule": "kyc_verified"}, {"rule": "pep_review"},
                                   {"rule": "sufficient_balance"}]  # fmt: skip
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(rules)))
    seller, seller_address = await make_party(client, admin, name="Asha Raman")
    await hold(client, admin, token["id"], seller["id"], 1000)
    _, pep_address = await make_party(client, admin, pep=True, name="Vikram Sethi")
    events = await client.get("/v1/events", params={"limit": 1}, headers=admin)
    decided = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller_address, pep_address, 25), headers=checker
    )
    check = decided.json()
    assert check["status"] == "ESCALATED"
    await container.cases.open_escalated()
    case_id = await case_of(client, admin, check)
    # the reasoning worker drafts its narrative, from a local chat-completions server
    async with serving() as chat, httpx.AsyncClient() as http:
        grok = Settings(app_env=AppEnv.TEST, jwt_secret=TEST_SECRET, enable_ai_reasoning=True, grok_api_key="k",
                        grok_base_url=chat.url)  # fmt: skip
        await reasoning_service(grok, container.pool, http).run_pass(limit=1000)
    analyst = bearer(settings, "analyst", sub="analyst-asha")
    officer = bearer(settings, "officer", sub="officer-bilal")

    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    await page.goto(f"{console_url}/console/login")
    await shot(page, "01-sign-in")
    await sign_in(page, console_url, analyst)
    await shot(page, "02-dashboard")

    # the case is in the queue, filtered by its reason
    await page.get_by_role("link", name="Review queue").click()
    await page.get_by_label("Reason code").fill("PEP_REVIEW")
    await page.get_by_label("Token id").fill(token["id"])
    await page.get_by_role("button", name="Filter").click()
    links = page.get_by_test_id("case-link")
    await expect(links).to_have_count(1)
    await shot(page, "03-queue")
    await links.first.click()
    await expect(page.get_by_test_id("check-id")).to_have_text(check["id"])
    await expect(page.get_by_text("politically exposed person", exact=True)).to_be_visible()
    await expect(page.get_by_test_id("narrative-summary")).to_have_text(NARRATIVE["summary"])
    await shot(page, "04-case-open")

    # analyst A proposes approval, and cannot confirm it
    await page.get_by_label("Approve the transfer").check()
    await page.get_by_label("Reason (required)").fill("Source of funds documented; senior management approval on file.")
    await page.get_by_role("button", name="Propose").click()
    await expect(page.get_by_test_id("proposal")).to_contain_text("analyst-asha")
    await expect(page.get_by_role("button", name="Confirm the proposal")).to_have_count(0)
    await shot(page, "05-case-proposed")
    # …not even by posting the form by hand: the service refuses (403) and the page says why
    refused = await page.request.post(f"{console_url}/console/cases/{case_id}/confirm")
    assert refused.status == 403
    assert "confirming a resolution needs one of the roles: officer" in await refused.text()

    # officer B confirms
    await sign_out(page)
    await sign_in(page, console_url, officer)
    await page.goto(f"{console_url}/console/cases/{case_id}")
    await page.get_by_role("button", name="Confirm the proposal").click()
    await expect(page.get_by_test_id("case-outcome")).to_have_text("approved")
    await expect(page.get_by_test_id("check-status")).to_have_text("APPROVED")
    await shot(page, "06-case-approved")
    await page.goto(f"{console_url}/console/lookup?q=Vikram")
    await expect(page.get_by_role("cell", name="Vikram Sethi")).to_be_visible()
    await shot(page, "07-lookup")
    await context.close()

    # the platform sees the approval through the API and on the event feed
    answer = (await client.get(f"/v1/compliance/checks/{check['id']}", headers=checker)).json()
    assert answer["status"] == "APPROVED"
    feed = await client.get("/v1/events", params={"after": events.json()["next_cursor"], "limit": 1000}, headers=admin)
    approvals = [e for e in feed.json()["items"] if e["event_type"] == "transfer_check.decided"
                 and e["payload"]["data"]["check_id"] == check["id"]]  # fmt: skip
    assert [e["payload"]["data"]["status"] for e in approvals] == ["ESCALATED", "APPROVED"]


async def test_a_proposer_who_is_an_officer_sees_four_eyes_and_is_refused(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    settings: Settings,
    container: Container,
    console_url: str,
    browser: Browser,
) -> None:
    token = await make_token(
        client, admin, await publish_document(client, admin, policy_document([{"rule": "pep_review"}]))
    )
    _, a = await make_party(client, admin)
    _, b = await make_party(client, admin, pep=True)
    check = (
        await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], a, b, 1), headers=checker)
    ).json()
    await container.cases.open_escalated()
    case_id = await case_of(client, admin, check)
    officer = bearer(settings, "officer", sub="officer-carla")
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    await sign_in(page, console_url, officer)
    await page.goto(f"{console_url}/console/cases/{case_id}")
    await page.get_by_label("Reject the transfer").check()
    await page.get_by_label("Reason (required)").fill("Adverse media")
    await page.get_by_role("button", name="Propose").click()
    await expect(page.get_by_test_id("four-eyes-note")).to_be_visible()
    await page.get_by_role("button", name="Confirm the proposal").click()
    await expect(page.get_by_test_id("error")).to_contain_text("four-eyes")
    await expect(page.get_by_test_id("case-status")).to_have_text("proposed")
    await shot(page, "08-four-eyes-refused")
    await context.close()


async def case_of(client: httpx.AsyncClient, admin: Headers, check: dict[str, Any]) -> str:
    response = await client.get(f"/v1/cases/by-check/{check['id']}", headers=admin)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_an_officer_drafts_an_str_that_another_officer_signs_and_policies_show_their_diff(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    settings: Settings,
    container: Container,
    console_url: str,
    browser: Browser,
) -> None:
    document = policy_document([{"rule": "wallet_bound"}, {"rule": "pep_review"}])
    policy_id = await publish_document(client, admin, document)
    token = await make_token(client, admin, policy_id)
    _, a = await make_party(client, admin)
    _, b = await make_party(client, admin, pep=True, name="Rohan Mehta")
    check = (
        await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], a, b, 1), headers=checker)
    ).json()
    await container.cases.open_escalated()
    case_id = await case_of(client, admin, check)
    drafter = bearer(settings, "officer", sub="officer-dev")
    signer = bearer(settings, "officer", sub="officer-esha")

    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    await sign_in(page, console_url, drafter)
    await page.goto(f"{console_url}/console/cases/{case_id}")
    await page.get_by_role("button", name="Draft a suspicious-transaction report").click()
    await expect(page.get_by_test_id("report-status")).to_have_text("draft")
    await page.get_by_role("textbox", name="Grounds of suspicion").fill(
        "Receiver is a PEP; the source of funds is unexplained."
    )
    await page.get_by_label("background of client").check()
    await page.get_by_role("button", name="Save draft").click()
    await expect(page.locator("pre.preview")).to_contain_text("background_of_client")
    await page.get_by_role("button", name="Submit for sign-off").click()
    await expect(page.get_by_text("Another officer signs this report (four-eyes).")).to_be_visible()
    await shot(page, "09-str-submitted")
    report_url = page.url

    await sign_out(page)
    await sign_in(page, console_url, signer)
    await page.goto(report_url)
    await page.get_by_role("button", name="Sign and file").click()
    await expect(page.get_by_test_id("report-status")).to_have_text("filed")
    await expect(page.get_by_test_id("report-hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    await shot(page, "10-str-filed")
    pdf = await page.request.get(report_url + "/pdf")
    assert pdf.headers["content-type"] == "application/pdf"

    # a second version of the policy, and the difference between the two
    changed = {**document, "rules": [*document["rules"], {"rule": "kyc_verified", "source": "test fixture"}]}
    assert (await client.post("/v1/policies", json={"document": changed}, headers=admin)).status_code in (200, 201)
    assert (await client.post(f"/v1/policies/{policy_id}/publish", headers=admin)).status_code == 200
    await page.goto(f"{console_url}/console/policies/{policy_id}?a=1&b=2")
    await expect(page.get_by_test_id("diff")).to_contain_text("+- rule: kyc_verified")
    await shot(page, "11-policy-diff")
    await context.close()


async def test_an_officer_dismisses_a_screening_hit_from_the_case_page(
    client: httpx.AsyncClient,
    admin: Headers,
    checker: Headers,
    settings: Settings,
    container: Container,
    console_url: str,
    browser: Browser,
) -> None:
    listed = "Zorblax Quintavius Oduya"
    source = f"watch-{uuid.uuid4().hex[:8]}"
    imported = await container.lists.import_files(source, {"l.csv": f"name,addresses\n{listed},\n".encode()}, actor="t")
    assert imported.status == "imported"
    token = await make_token(
        client, admin, await publish_document(client, admin, policy_document([{"rule": "pep_review"}]))
    )
    _, a = await make_party(client, admin)
    listed_investor, b = await make_party(client, admin, pep=True, name=listed)
    check = (
        await client.post("/v1/compliance/transfer-check", json=transfer(token["id"], a, b, 1), headers=checker)
    ).json()
    assert check["status"] == "ESCALATED"
    await container.cases.open_escalated()
    case_id = await case_of(client, admin, check)

    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    page = await context.new_page()
    await sign_in(page, console_url, bearer(settings, "officer", sub="officer-farah"))
    await page.goto(f"{console_url}/console/cases/{case_id}")
    await expect(page.get_by_text(f"{listed} on {source}")).to_be_visible()
    await page.get_by_label("Why").fill("Different date of birth and nationality on the passport copy")
    await page.get_by_role("button", name="Dismiss (not this person)").click()
    await expect(page.get_by_text("case.hit_dismissed by officer-farah")).to_be_visible()
    await context.close()
    screening = await client.get(f"/v1/screening/investors/{listed_investor['id']}", headers=admin)
    assert [d["entity_uid"] for d in screening.json()["dismissals"]] != []
