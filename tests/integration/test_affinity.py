"""Server processes of one ``serve`` each decide the single checks of the tokens they own; a check
arriving at another process is handed to its owner and answered exactly as the owner answers."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from support import Headers, hold, make_party, make_token, policy_document, publish_document, server_process, transfer

from compliance_shield.adapters.peers import Peers
from compliance_shield.api import affinity
from compliance_shield.bootstrap import Container

pytestmark = pytest.mark.integration

RULES = [{"rule": "wallet_bound"}, {"rule": "kyc_verified"}, {"rule": "sufficient_balance"}]


class Process:
    """One server process: its container, its app's client and its membership."""

    def __init__(self, container: Container, client: httpx.AsyncClient, peers: Peers) -> None:
        self.container, self.client, self.peers = container, client, peers


@pytest.fixture
async def processes(settings: Any, database_url: str) -> AsyncIterator[list[Process]]:
    """Two server processes sharing one peers directory (as ``serve --workers 2`` runs them)."""
    directory = Path(tempfile.mkdtemp(prefix="cs-w-"))  # short: a socket path holds ~100 bytes
    started: list[Process] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            for name in ("a", "b"):
                container, client, app = await stack.enter_async_context(server_process(settings, database_url, name))
                peers = await affinity.attach(app, container, directory)
                stack.push_async_callback(peers.stop)
                started.append(Process(container, client, peers))
            for process in started:
                process.peers.refresh()
            yield started
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _owned_by(viewers: list[Peers], member: str, client: httpx.AsyncClient, admin: Headers) -> tuple[str, str]:
    """A token that ``member`` owns in the eyes of every viewer, with a seller holding 100 of it."""
    document = await publish_document(client, admin, policy_document(RULES))
    for _ in range(64):
        token = await make_token(client, admin, document)
        if all(viewer.owner(UUID(token["id"])) == member for viewer in viewers):
            seller, address = await make_party(client, admin)
            await hold(client, admin, token["id"], seller["id"], 100)
            return token["id"], address
    raise AssertionError("no token owned by the process in 64 tries")


async def test_a_check_for_a_token_owned_elsewhere_is_decided_by_its_owner(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, processes: list[Process]
) -> None:
    first, second = processes
    assert first.peers.members == second.peers.members  # both see both
    token_id, seller = await _owned_by([p.peers for p in processes], second.peers.id, client, admin)
    _, buyer = await make_party(client, admin)
    keyed = checker | {"Idempotency-Key": f"fwd-{uuid4()}"}
    body = transfer(token_id, seller, buyer, 60)
    answer = await first.client.post("/v1/compliance/transfer-check", json=body, headers=keyed)
    assert answer.status_code == 200
    assert answer.json()["status"] == "APPROVED"
    assert UUID(token_id) in second.container.decisions.ledgers  # the owner decided it
    assert UUID(token_id) not in first.container.decisions.ledgers
    # the same key from the same caller, through either process: the one stored decision
    again = await second.client.post("/v1/compliance/transfer-check", json=body, headers=keyed)
    assert again.json()["id"] == answer.json()["id"]
    reused = await first.client.post("/v1/compliance/transfer-check", json=body | {"amount": "61"}, headers=keyed)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # the owner's ledger holds the first approval's reservation: 100 - 60 leaves 40
    short = await first.client.post(
        "/v1/compliance/transfer-check", json=transfer(token_id, seller, buyer, 41), headers=checker
    )
    assert "INSUFFICIENT_BALANCE" in [r["code"] for r in short.json()["reasons"]]


async def test_the_owner_answers_in_the_shape_asked_for(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, processes: list[Process]
) -> None:
    first, second = processes
    token_id, seller = await _owned_by([p.peers for p in processes], second.peers.id, client, admin)
    _, buyer = await make_party(client, admin)
    answer = await first.client.post(
        "/v1/compliance/transfer-check?view=summary", json=transfer(token_id, seller, buyer, 1), headers=checker
    )
    assert answer.status_code == 200
    assert "rules" not in answer.json()


async def test_an_owner_that_is_gone_leaves_the_check_to_the_process_it_reached(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, processes: list[Process]
) -> None:
    first, second = processes
    token_id, seller = await _owned_by([p.peers for p in processes], second.peers.id, client, admin)
    await second.peers.stop()  # its socket is gone; the first process has not re-read the members yet
    _, buyer = await make_party(client, admin)
    answer = await first.client.post(
        "/v1/compliance/transfer-check", json=transfer(token_id, seller, buyer, 5), headers=checker
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "APPROVED"
    assert UUID(token_id) in first.container.decisions.ledgers
    assert first.peers.members == (first.peers.id,)


async def test_an_owner_stopping_mid_check_answers_503_and_the_check_is_not_decided_twice(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, processes: list[Process]
) -> None:
    """Once a check is handed over, the process it reached never decides it as well: the owner
    may have recorded it. The caller is told to retry (with its Idempotency-Key)."""
    first, second = processes
    token_id, seller = await _owned_by([p.peers for p in processes], second.peers.id, client, admin)
    await second.peers.stop()
    held = asyncio.Event()

    async def never_answers(fields: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        held.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    stuck = Peers(second.peers.directory, never_answers, member_id=second.peers.id)  # same member, mute
    await stuck.start()
    try:
        _, buyer = await make_party(client, admin)
        call = asyncio.create_task(
            first.client.post(
                "/v1/compliance/transfer-check", json=transfer(token_id, seller, buyer, 5), headers=checker
            )
        )
        await asyncio.wait_for(held.wait(), 5)
        await stuck.stop()
        answer = await asyncio.wait_for(call, 5)
    finally:
        await stuck.stop()
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert UUID(token_id) not in first.container.decisions.ledgers


async def test_a_socket_left_by_a_process_that_died_is_cleared_and_its_tokens_decided_here(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, processes: list[Process]
) -> None:
    first, second = processes
    await second.peers.stop()
    dead = first.peers.directory / "writer-0000000000000000.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(dead))
    listener.close()  # bound, never listening: what a killed process leaves behind
    first.peers.refresh()
    assert "0000000000000000" in first.peers.members
    token_id, address = await _owned_by([first.peers], "0000000000000000", client, admin)
    _, buyer = await make_party(client, admin)
    answer = await first.client.post(
        "/v1/compliance/transfer-check", json=transfer(token_id, address, buyer, 1), headers=checker
    )
    assert answer.status_code == 200
    assert not dead.exists()
    assert first.peers.members == (first.peers.id,)


async def test_a_batch_is_split_by_owner_and_answered_in_its_order(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, processes: list[Process]
) -> None:
    first, second = processes
    mine, my_seller = await _owned_by([p.peers for p in processes], first.peers.id, client, admin)
    theirs, their_seller = await _owned_by([p.peers for p in processes], second.peers.id, client, admin)
    buyers = [(await make_party(client, admin))[1] for _ in range(4)]
    items = [
        transfer(theirs, their_seller, buyers[0], 30),
        transfer(mine, my_seller, buyers[1], 30),
        transfer(theirs, their_seller, buyers[2], 80),  # 100 - 30 reserved: over balance
        transfer(mine, my_seller, buyers[3], 30) | {"idempotency_key": f"b-{uuid4()}"},
    ]
    answer = await first.client.post("/v1/compliance/transfer-check/batch", json={"transfers": items}, headers=checker)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["check"]["to_address"].lower() for r in results] == [b.lower() for b in buyers]
    assert [r["check"]["status"] for r in results] == ["APPROVED", "APPROVED", "REJECTED", "APPROVED"]
    assert UUID(theirs) in second.container.decisions.ledgers
    assert UUID(theirs) not in first.container.decisions.ledgers
    assert UUID(mine) in first.container.decisions.ledgers
    # the keyed item, repeated alone through the owner of its token: the stored decision
    again = await first.client.post(
        "/v1/compliance/transfer-check/batch", json={"transfers": [items[3]]}, headers=checker
    )
    assert again.json()["results"][0]["check"]["id"] == results[3]["check"]["id"]


async def test_a_batch_share_whose_owner_is_gone_is_decided_here(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, processes: list[Process]
) -> None:
    first, second = processes
    mine, my_seller = await _owned_by([p.peers for p in processes], first.peers.id, client, admin)
    theirs, their_seller = await _owned_by([p.peers for p in processes], second.peers.id, client, admin)
    await second.peers.stop()
    buyers = [(await make_party(client, admin))[1] for _ in range(2)]
    items = [transfer(theirs, their_seller, buyers[0], 1), transfer(mine, my_seller, buyers[1], 1)]
    answer = await first.client.post("/v1/compliance/transfer-check/batch", json={"transfers": items}, headers=checker)
    assert [r["status_code"] for r in answer.json()["results"]] == [200, 200]
    assert UUID(theirs) in first.container.decisions.ledgers
