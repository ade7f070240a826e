"""The chain indexer on anvil: transfers → holdings, settlements, confirmation depth and reorgs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from chain_fixtures import CHAIN_ID, Chain, Deployment, Key, chain_party, deploy_token, eventually, running
from support import Headers, hold, make_token, policy_document, publish_document, transfer

from compliance_shield.adapters.chain.contracts import ORACLE, TOKEN, load
from compliance_shield.bootstrap import Container
from compliance_shield.services.chain.indexer import ChainIndexer, IndexerConfig
from compliance_shield.settings import Settings
from compliance_shield.workers import indexer as indexer_worker

pytestmark = pytest.mark.integration

RULES: list[dict[str, Any]] = [{"rule": "wallet_bound"}, {"rule": "kyc_verified"}, {"rule": "sufficient_balance"}]
TOKEN_ABI, ORACLE_ABI = load(TOKEN), load(ORACLE)


class Market:
    """A deployed token registered in the API with a seller (100 units on chain and in the ledger) and a buyer."""

    def __init__(self, token: dict[str, Any], address: str, seller: tuple[str, Key], buyer: tuple[str, Key]) -> None:
        self.token, self.address = token, address
        (self.seller_id, self.seller), (self.buyer_id, self.buyer) = seller, buyer


@pytest.fixture
async def market(client: httpx.AsyncClient, admin: Headers, chain: Chain, deployment: Deployment) -> Market:
    address = await deploy_token(chain, deployment)
    policy_id = await publish_document(client, admin, policy_document(RULES))
    token = await make_token(client, admin, policy_id, contract_address=address)
    seller, buyer = await chain_party(client, admin, chain), await chain_party(client, admin, chain)
    await hold(client, admin, token["id"], seller[0], 100)
    await chain.transact(deployment.admin, address, TOKEN_ABI.encode_call("mint", seller[1].address, 100))
    return Market(token, address, seller, buyer)


async def _indexer(container: Container, chain: Chain, confirmations: int) -> ChainIndexer:
    """An indexer of its own (its own cursor) starting at the current head: earlier tests' blocks are not its."""
    head = await chain.client.block_number()
    config = IndexerConfig(
        chain_id=CHAIN_ID, confirmations=confirmations, start_block=head + 1, name=f"test-{head}-{id(container)}"
    )
    return ChainIndexer(container.pool, chain.client, config)


async def _approve(
    client: httpx.AsyncClient, checker: Headers, chain: Chain, deployment: Deployment, market: Market, amount: int
) -> str:
    """An APPROVED check for seller → buyer, recorded on the oracle; returns the check id."""
    decided = await client.post(
        "/v1/compliance/transfer-check",
        json=transfer(market.token["id"], market.seller.address, market.buyer.address, amount),
        headers=checker,
    )
    assert decided.json()["status"] == "APPROVED", decided.text
    check_id = decided.json()["id"]
    expiry = (await chain.client.block("latest")).timestamp + 600  # type: ignore[union-attr]
    record = ORACLE_ABI.encode_call(
        "recordApproval", market.address, market.seller.address, market.buyer.address, amount, UUID(check_id).int,
        expiry,
    )  # fmt: skip
    assert (await chain.transact(deployment.writer, deployment.oracle, record)).status == 1
    return str(check_id)


async def _balance(client: httpx.AsyncClient, admin: Headers, token_id: str, investor_id: str) -> int:
    response = await client.get(f"/v1/tokens/{token_id}/holdings/{investor_id}", headers=admin)
    if response.status_code == 404:
        return 0
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def _check(client: httpx.AsyncClient, headers: Headers, check_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/compliance/checks/{check_id}", headers=headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def _send(chain: Chain, market: Market, amount: int) -> str:
    receipt = await chain.transact(
        market.seller, market.address, TOKEN_ABI.encode_call("transfer", market.buyer.address, amount)
    )
    assert receipt.status == 1
    return receipt.tx_hash


async def test_indexer_applies_transfers_and_settles_the_approval(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    container: Container, market: Market,
) -> None:  # fmt: skip
    indexer = await _indexer(container, chain, confirmations=0)
    check_id = await _approve(client, checker, chain, deployment, market, 30)
    tx_hash = await _send(chain, market, 30)

    result = await indexer.run_pass()
    assert result.transfers == 1
    assert result.settled_checks == [UUID(check_id)]
    assert await _balance(client, admin, market.token["id"], market.seller_id) == 70
    assert await _balance(client, admin, market.token["id"], market.buyer_id) == 30
    settled = await _check(client, checker, check_id)
    assert settled["settlement"]["status"] == "settled"
    assert settled["settlement"]["tx_hash"] == tx_hash
    # a second pass finds nothing new: the cursor persisted and nothing is applied twice
    again = await indexer.run_pass()
    assert again.transfers == 0
    assert await _balance(client, admin, market.token["id"], market.buyer_id) == 30


async def test_a_transfer_shallower_than_the_confirmation_depth_waits(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    container: Container, market: Market,
) -> None:  # fmt: skip
    indexer = await _indexer(container, chain, confirmations=3)
    await _approve(client, checker, chain, deployment, market, 10)
    await _send(chain, market, 10)
    assert (await indexer.run_pass()).transfers == 0
    await chain.mine(3)
    assert (await indexer.run_pass()).transfers == 1
    assert await _balance(client, admin, market.token["id"], market.buyer_id) == 10


async def test_a_reorg_within_the_confirmation_depth_never_reaches_holdings(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    container: Container, market: Market,
) -> None:  # fmt: skip
    indexer = await _indexer(container, chain, confirmations=2)
    first = await _approve(client, checker, chain, deployment, market, 20)
    second = await _approve(client, checker, chain, deployment, market, 5)
    snapshot = await chain.snapshot()
    await _send(chain, market, 20)  # on a branch that will be dropped
    assert (await indexer.run_pass()).transfers == 0
    await chain.revert_to(snapshot)
    # the replacement branch: a different transfer, then enough blocks to confirm it
    await chain.transact(market.seller, market.address, TOKEN_ABI.encode_call("transfer", market.buyer.address, 5))
    await chain.mine(3)

    result = await indexer.run_pass()
    assert result.reverted == 0
    assert result.transfers == 1
    assert await _balance(client, admin, market.token["id"], market.buyer_id) == 5
    assert await _balance(client, admin, market.token["id"], market.seller_id) == 95
    assert (await _check(client, checker, second))["settlement"]["status"] == "settled"
    assert (await _check(client, checker, first))["settlement"]["status"] == "pending"


async def test_a_reorg_deeper_than_the_confirmation_depth_is_undone(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    container: Container, market: Market, conn: asyncpg.Connection,
) -> None:  # fmt: skip
    indexer = await _indexer(container, chain, confirmations=0)
    check_id = await _approve(client, checker, chain, deployment, market, 40)
    await chain.mine(1)  # the applied block below must be one the reorg leaves in place
    assert (await indexer.run_pass()).transfers == 0
    snapshot = await chain.snapshot()
    await _send(chain, market, 40)
    applied = await indexer.run_pass()
    assert applied.settled == 1
    assert await _balance(client, admin, market.token["id"], market.buyer_id) == 40
    version_before = await conn.fetchval(
        "SELECT version FROM token_state WHERE token_id = $1", UUID(market.token["id"])
    )

    await chain.revert_to(snapshot)
    await chain.mine(3)  # a longer branch without the transfer
    result = await indexer.run_pass()
    assert result.reverted == 1
    assert await _balance(client, admin, market.token["id"], market.buyer_id) == 0
    assert await _balance(client, admin, market.token["id"], market.seller_id) == 100
    reopened = await _check(client, checker, check_id)
    assert reopened["settlement"]["status"] == "pending"
    assert reopened["settlement"]["tx_hash"] is None
    reservation = await conn.fetchrow("SELECT status FROM reservations WHERE check_id = $1", UUID(check_id))
    assert reservation is not None
    assert reservation["status"] == "active"
    # every holdings change bumps the token's ledger version, the undo included
    assert (
        await conn.fetchval("SELECT version FROM token_state WHERE token_id = $1", UUID(market.token["id"]))
        > version_before
    )

    # the approval is still on the new branch: the transfer can happen again and is applied again
    await _send(chain, market, 40)
    again = await indexer.run_pass()
    assert again.settled == 1
    assert await _balance(client, admin, market.token["id"], market.buyer_id) == 40


async def test_the_indexer_worker_follows_the_chain(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    chain_settings: Settings, market: Market,
) -> None:  # fmt: skip
    head = await chain.client.block_number()
    settings = chain_settings.model_copy(update={"indexer_confirmations": 0, "indexer_start_block": head + 1})
    check_id = await _approve(client, checker, chain, deployment, market, 15)
    async with running(indexer_worker.run, settings):
        await _send(chain, market, 15)
        await eventually(lambda: _check(client, checker, check_id), lambda c: c["settlement"]["status"] == "settled")
    assert await _balance(client, admin, market.token["id"], market.buyer_id) == 15
