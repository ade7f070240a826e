"""``compliance-shield chain deploy`` on anvil, then the README's walk to a transfer the token enforces."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from chain_fixtures import CHAIN_ID, Chain, Key, chain_party, eventually, running
from support import Headers, hold, make_token, policy_document, publish_document, transfer
from typer.testing import CliRunner, Result

from compliance_shield.adapters.chain.contracts import ORACLE, TOKEN, load
from compliance_shield.cli import app as cli
from compliance_shield.domain.reasons import RESTRICTION_CODES, ReasonCode
from compliance_shield.settings import Settings
from compliance_shield.workers import oracle as oracle_worker

pytestmark = pytest.mark.integration

runner = CliRunner()
ORACLE_ABI, TOKEN_ABI = load(ORACLE), load(TOKEN)
APPROVAL_MISSING = RESTRICTION_CODES[ReasonCode.APPROVAL_MISSING]


async def _deploy(*args: str) -> Result:
    # the command runs its own event loop: keep it off the test's
    return await asyncio.to_thread(runner.invoke, cli, ["chain", "deploy", *args])


def _printed(output: str) -> tuple[dict[str, str], str | None]:
    """The dotenv lines the command printed, and the reference token's address."""
    values: dict[str, str] = {}
    token = None
    for line in output.splitlines():
        if line.startswith("# reference token: "):
            token = line.split()[3]
        elif "=" in line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values, token


async def _has_role(chain: Chain, oracle: str, role: str, member: str) -> bool:
    role_id = await chain.call(oracle, ORACLE_ABI, role)
    return bool(await chain.call(oracle, ORACLE_ABI, "hasRole", role_id, member))


async def test_a_node_on_another_chain_is_refused_before_anything_is_sent(anvil_url: str, chain: Chain) -> None:
    deployer = await chain.funded()
    result = await _deploy("--rpc-url", anvil_url, "--deployer-key", deployer.private_key, "--chain-id", "1")
    assert result.exit_code == 2, result.output
    assert f"serves chain {CHAIN_ID}, but CHAIN_ID is 1" in result.output
    assert await chain.client.pending_nonce(deployer.address) == 0


async def test_malformed_arguments_name_the_option(anvil_url: str) -> None:
    bad_key = await _deploy("--rpc-url", anvil_url, "--deployer-key", "0x1234")
    assert bad_key.exit_code == 2
    assert "32-byte hex private key" in bad_key.output
    bad_writer = await _deploy("--rpc-url", anvil_url, "--deployer-key", "11" * 32, "--writer", "0xnot-an-address")
    assert bad_writer.exit_code == 2
    assert "not a 0x-prefixed 20-byte hex address" in bad_writer.output


async def test_deploy_grants_the_roles_and_prints_the_settings(anvil_url: str, chain: Chain) -> None:
    deployer, writer, signer = await chain.funded(), await chain.funded(), await chain.funded()
    result = await _deploy(
        "--rpc-url", anvil_url, "--deployer-key", deployer.private_key, "--chain-id", str(CHAIN_ID),
        "--writer", writer.address, "--signer", signer.address, "--symbol", "WALK", "--decimals", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert deployer.private_key[2:] not in result.output, "private keys are never printed"
    values, token = _printed(result.stdout)
    assert values["CHAIN_ID"] == str(CHAIN_ID)
    assert values["BESU_RPC_URL"] == anvil_url
    assert values["ENABLE_ORACLE"] == "true"
    oracle = values["ORACLE_ADDRESS"]
    assert set(values) <= {name.upper() for name in Settings.model_fields}
    assert await _has_role(chain, oracle, "DEFAULT_ADMIN_ROLE", deployer.address)
    assert await _has_role(chain, oracle, "WRITER_ROLE", writer.address)
    assert await _has_role(chain, oracle, "SIGNER_ROLE", signer.address)
    assert await _has_role(chain, oracle, "FREEZER_ROLE", deployer.address)
    assert not await _has_role(chain, oracle, "WRITER_ROLE", deployer.address)
    assert token is not None
    assert str(await chain.call(token, TOKEN_ABI, "oracle")).lower() == oracle
    assert await chain.call(token, TOKEN_ABI, "symbol") == "WALK"
    assert await chain.call(token, TOKEN_ABI, "decimals") == 2
    issuer = await chain.call(token, TOKEN_ABI, "ISSUER_ROLE")
    assert await chain.call(token, TOKEN_ABI, "hasRole", issuer, deployer.address)
    # the settings it printed load, with the writer's key beside them
    Settings(**{k.lower(): v for k, v in values.items()}, oracle_private_key=writer.private_key)  # type: ignore[arg-type]


async def test_the_readme_walk_from_a_fresh_node_to_an_enforced_transfer(
    anvil_url: str, chain: Chain, client: httpx.AsyncClient, admin: Headers, checker: Headers, settings: Settings
) -> None:
    # 1. deploy: the deploying account is admin, issuer and (by default) the oracle writer
    operator: Key = await chain.funded()
    result = await _deploy("--rpc-url", anvil_url, "--deployer-key", operator.private_key)
    assert result.exit_code == 0, result.output
    values, token_address = _printed(result.stdout)
    assert token_address is not None
    # 2. the printed settings, plus the writer's key, configure the oracle writer
    printed: dict[str, Any] = {k.lower(): v for k, v in values.items()}
    key = {"oracle_private_key": operator.private_key, "oracle_poll_seconds": 0.05, "jwt_secret": settings.jwt_secret}
    oracle_settings = Settings.model_validate(settings.model_dump() | printed | key)
    # 3. register the token with a policy, bind two investors' wallets, mint to the seller
    policy_id = await publish_document(
        client, admin, policy_document([{"rule": "wallet_bound"}, {"rule": "kyc_verified"}])
    )
    token = await make_token(client, admin, policy_id, contract_address=token_address)
    seller_id, seller = await chain_party(client, admin, chain)
    _, buyer = await chain_party(client, admin, chain)
    await hold(client, admin, token["id"], seller_id, 50)
    minted = await chain.transact(operator, token_address, TOKEN_ABI.encode_call("mint", seller.address, 50))
    assert minted.status == 1
    # 4. without a decision the token refuses the transfer with the API's code
    send = TOKEN_ABI.encode_call("transfer", buyer.address, 20)
    assert await chain.revert_of(token_address, send, seller.address) == ("TransferRestricted", (APPROVAL_MISSING,))
    # 5. the check approves; the oracle writer records it; the same transfer now goes through once
    decided = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, 20), headers=checker
    )
    assert decided.json()["status"] == "APPROVED", decided.text

    async def oracle_status() -> str | None:
        answer = await client.get(f"/v1/compliance/checks/{decided.json()['id']}", headers=checker)
        state = answer.json()["oracle"]
        return None if state is None else str(state["status"])

    async with running(oracle_worker.run, oracle_settings):
        await eventually(oracle_status, lambda status: status == "confirmed")
    assert (await chain.transact(seller, token_address, send)).status == 1
    assert await chain.call(token_address, TOKEN_ABI, "balanceOf", buyer.address) == 20
    assert await chain.revert_of(token_address, send, seller.address) == ("TransferRestricted", (APPROVAL_MISSING,))


async def test_an_unfunded_deployer_fails_and_deploys_nothing(anvil_url: str, chain: Chain) -> None:
    from chain_fixtures import new_key

    broke = new_key()
    result = await _deploy("--rpc-url", anvil_url, "--deployer-key", broke.private_key, "--no-token")
    assert result.exit_code == 1, result.output
    assert "ORACLE_ADDRESS=" not in result.stdout
    assert await chain.client.pending_nonce(broke.address) == 0
