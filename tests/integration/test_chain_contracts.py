"""The contracts: reproducible build, ERC-1404 codes and messages, approvals, freezes (on anvil)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from chain_fixtures import Chain, Deployment, deploy_token

from compliance_shield.adapters.chain.codegen import NO_RESTRICTION_MESSAGE, UNKNOWN_MESSAGE
from compliance_shield.adapters.chain.contracts import ORACLE, TOKEN, load
from compliance_shield.domain.reasons import MESSAGES, RESTRICTION_CODES, ReasonCode

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APPROVAL_MISSING = RESTRICTION_CODES[ReasonCode.APPROVAL_MISSING]


def test_committed_artifacts_match_a_fresh_compile() -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed to compile the contracts"
    done = subprocess.run(  # noqa: S603 - fixed script of this repository
        [node, "contracts/compile.mjs", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr


async def test_oracle_answers_the_api_messages_for_every_code(chain: Chain, deployment: Deployment) -> None:
    oracle = load(ORACLE)
    for code, number in RESTRICTION_CODES.items():
        assert await chain.call(deployment.oracle, oracle, "messageForTransferRestriction", number) == MESSAGES[code]
    assert await chain.call(deployment.oracle, oracle, "messageForTransferRestriction", 0) == NO_RESTRICTION_MESSAGE
    assert await chain.call(deployment.oracle, oracle, "messageForTransferRestriction", 200) == UNKNOWN_MESSAGE


async def test_recorded_approval_is_consumed_exactly_once(chain: Chain, deployment: Deployment) -> None:
    oracle, token_abi = load(ORACLE), load(TOKEN)
    token = await deploy_token(chain, deployment)
    alice, bob = await chain.funded(), await chain.funded()
    assert (await chain.transact(deployment.admin, token, token_abi.encode_call("mint", alice.address, 100))).status
    assert await chain.call(token, token_abi, "detectTransferRestriction", alice.address, bob.address, 40) == (
        APPROVAL_MISSING
    )
    expiry = (await chain.client.block("latest")).timestamp + 600  # type: ignore[union-attr]
    record = oracle.encode_call("recordApproval", token, alice.address, bob.address, 40, 7, expiry)
    assert (await chain.transact(deployment.writer, deployment.oracle, record)).status == 1
    # recording it again is a harmless no-op (a writer may retry a write that landed)
    assert (await chain.transact(deployment.writer, deployment.oracle, record)).status == 1
    assert await chain.call(token, token_abi, "detectTransferRestriction", alice.address, bob.address, 40) == 0
    assert await chain.call(token, token_abi, "detectTransferRestriction", alice.address, bob.address, 41) == (
        APPROVAL_MISSING
    )

    transfer = token_abi.encode_call("transfer", bob.address, 40)
    assert (await chain.transact(alice, token, transfer)).status == 1
    assert await chain.call(token, token_abi, "balanceOf", bob.address) == 40
    assert await chain.revert_of(token, transfer, alice.address) == ("TransferRestricted", (APPROVAL_MISSING,))
    mined_anyway = await chain.transact(alice, token, transfer, gas=300_000)
    assert mined_anyway.status == 0
    assert await chain.call(token, token_abi, "balanceOf", bob.address) == 40


async def test_only_the_writer_records_approvals(chain: Chain, deployment: Deployment) -> None:
    oracle = load(ORACLE)
    outsider = await chain.funded()
    expiry = (await chain.client.block("latest")).timestamp + 600  # type: ignore[union-attr]
    record = oracle.encode_call("recordApproval", outsider.address, outsider.address, outsider.address, 1, 1, expiry)
    name, _ = await chain.revert_of(deployment.oracle, record, outsider.address)
    assert name == "AccessControlUnauthorizedAccount"


async def test_a_frozen_wallet_is_restricted_even_with_an_approval(chain: Chain, deployment: Deployment) -> None:
    oracle, token_abi = load(ORACLE), load(TOKEN)
    token = await deploy_token(chain, deployment)
    alice, bob = await chain.funded(), await chain.funded()
    await chain.transact(deployment.admin, token, token_abi.encode_call("mint", alice.address, 10))
    expiry = (await chain.client.block("latest")).timestamp + 600  # type: ignore[union-attr]
    await chain.transact(
        deployment.writer,
        deployment.oracle,
        oracle.encode_call("recordApproval", token, alice.address, bob.address, 5, 1, expiry),
    )
    await chain.transact(deployment.admin, deployment.oracle, oracle.encode_call("setFrozen", bob.address, True))
    frozen = RESTRICTION_CODES[ReasonCode.WALLET_FROZEN]
    assert await chain.call(token, token_abi, "detectTransferRestriction", alice.address, bob.address, 5) == frozen
    transfer = token_abi.encode_call("transfer", bob.address, 5)
    assert await chain.revert_of(token, transfer, alice.address) == ("TransferRestricted", (frozen,))
    assert await chain.revert_of(token, token_abi.encode_call("mint", bob.address, 1), deployment.admin.address) == (
        "TransferRestricted",
        (frozen,),
    )
    await chain.transact(deployment.admin, deployment.oracle, oracle.encode_call("setFrozen", bob.address, False))
    assert (await chain.transact(alice, token, transfer)).status == 1
