"""The oracle writer and certificates end to end: API decision → anvil → token transfer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest
from chain_fixtures import Chain, Deployment, chain_party, deploy_token, eventually, running
from pydantic import SecretStr
from support import Headers, hold, make_token, policy_document, publish_document, random_address, transfer

from compliance_shield.adapters.chain.certificates import Certificate, CertificateSigner
from compliance_shield.adapters.chain.client import ChainClient
from compliance_shield.adapters.chain.contracts import ORACLE, TOKEN, load
from compliance_shield.adapters.chain.events import check_id_to_nonce
from compliance_shield.adapters.chain.transactions import GasPolicy, TxSender
from compliance_shield.bootstrap import Container
from compliance_shield.domain.reasons import RESTRICTION_CODES, ReasonCode
from compliance_shield.domain.values import BlockchainType
from compliance_shield.services.chain.oracle import OracleWriter, WriterConfig
from compliance_shield.settings import Settings
from compliance_shield.workers import oracle as oracle_worker

pytestmark = pytest.mark.integration

RULES: list[dict[str, Any]] = [
    {"rule": "wallet_bound"},
    {"rule": "kyc_verified"},
    {"rule": "sufficient_balance"},
]
APPROVAL_MISSING = RESTRICTION_CODES[ReasonCode.APPROVAL_MISSING]
TOKEN_ABI = load(TOKEN)


async def _token_with_holder(
    client: httpx.AsyncClient, admin: Headers, chain: Chain, deployment: Deployment, balance: int
) -> tuple[dict[str, Any], str, Any]:
    """A deployed token registered in the API, and a seller holding ``balance`` on chain and in the ledger."""
    address = await deploy_token(chain, deployment)
    policy_id = await publish_document(client, admin, policy_document(RULES))
    token = await make_token(client, admin, policy_id, contract_address=address)
    seller_id, seller = await chain_party(client, admin, chain)
    await hold(client, admin, token["id"], seller_id, balance)
    minted = await chain.transact(deployment.admin, address, TOKEN_ABI.encode_call("mint", seller.address, balance))
    assert minted.status == 1
    return token, address, seller


async def _oracle_state(client: httpx.AsyncClient, headers: Headers, check_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/compliance/checks/{check_id}", headers=headers)
    assert response.status_code == 200, response.text
    oracle: dict[str, Any] | None = response.json()["oracle"]
    return oracle


async def _enqueue(container: Container, chain: Chain, deployment: Deployment) -> int:
    """One scan of the oracle writer, queueing writes without sending any."""
    sender = TxSender(chain.client, deployment.writer.private_key, 31337, GasPolicy(BlockchainType.PERMISSIONED))
    return await OracleWriter(container.pool, chain.client, sender, WriterConfig(deployment.oracle)).enqueue()


async def test_approved_check_is_written_and_the_transfer_succeeds_exactly_once(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    chain_settings: Settings,
) -> None:  # fmt: skip
    token, address, seller = await _token_with_holder(client, admin, chain, deployment, 100)
    _, buyer = await chain_party(client, admin, chain)
    decided = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, 30), headers=checker
    )
    assert decided.json()["status"] == "APPROVED", decided.text
    check_id = decided.json()["id"]
    send = TOKEN_ABI.encode_call("transfer", buyer.address, 30)
    assert await chain.revert_of(address, send, seller.address) == ("TransferRestricted", (APPROVAL_MISSING,))

    async with running(oracle_worker.run, chain_settings):
        written = await eventually(
            lambda: _oracle_state(client, checker, check_id), lambda o: o is not None and o["status"] == "confirmed"
        )
    assert written is not None
    assert written["kind"] == "approval"
    assert written["tx_hash"].startswith("0x")
    assert written["attempts"] == 1
    receipt = await chain.client.receipt(written["tx_hash"])
    assert receipt is not None
    assert receipt.status == 1
    assert receipt.block_number == written["block_number"]

    assert await chain.call(address, TOKEN_ABI, "detectTransferRestriction", seller.address, buyer.address, 30) == 0
    assert (await chain.transact(seller, address, send)).status == 1
    assert await chain.call(address, TOKEN_ABI, "balanceOf", buyer.address) == 30
    # the approval is spent: the same transfer again reverts with the API's restriction code
    assert await chain.revert_of(address, send, seller.address) == ("TransferRestricted", (APPROVAL_MISSING,))
    assert (await chain.transact(seller, address, send, gas=300_000)).status == 0
    assert await chain.call(address, TOKEN_ABI, "balanceOf", buyer.address) == 30


async def test_cancelling_a_written_approval_revokes_it_on_chain(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    chain_settings: Settings,
) -> None:  # fmt: skip
    token, address, seller = await _token_with_holder(client, admin, chain, deployment, 100)
    _, buyer = await chain_party(client, admin, chain)
    decided = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, 30), headers=checker
    )
    assert decided.json()["status"] == "APPROVED", decided.text
    check_id = decided.json()["id"]
    nonce = check_id_to_nonce(UUID(check_id))
    send = TOKEN_ABI.encode_call("transfer", buyer.address, 30)

    async with running(oracle_worker.run, chain_settings):
        approved = await eventually(
            lambda: _oracle_state(client, checker, check_id), lambda o: o is not None and o["status"] == "confirmed"
        )
        assert approved is not None
        assert approved["revoked"] is False
        assert approved["revocation"] is None
        # written and usable: the transfer would go through now (as in the sibling test above)
        assert await chain.call(deployment.oracle, load(ORACLE), "isApproved", address, nonce) is True
        assert await chain.call(address, TOKEN_ABI, "detectTransferRestriction", seller.address, buyer.address, 30) == 0

        cancelled = await client.post(
            f"/v1/compliance/checks/{check_id}/cancel", json={"reason": "withdrawn"}, headers=checker
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["settlement"]["status"] == "cancelled"
        revoked = await eventually(
            lambda: _oracle_state(client, checker, check_id), lambda o: o is not None and o["revoked"]
        )
    assert revoked is not None
    # the approval write is still what the field shows; the revocation is beside it
    assert revoked["kind"] == "approval"
    assert revoked["status"] == "confirmed"
    assert revoked["tx_hash"] == approved["tx_hash"]
    revocation = revoked["revocation"]
    assert revocation["status"] == "confirmed"
    assert revocation["attempts"] == 1
    assert revocation["tx_hash"] != approved["tx_hash"]
    receipt = await chain.client.receipt(revocation["tx_hash"])
    assert receipt is not None
    assert receipt.status == 1
    assert receipt.block_number == revocation["block_number"]
    revoke_call = await chain.client.w3.eth.get_transaction(revocation["tx_hash"])  # type: ignore[arg-type]
    assert bytes(revoke_call["input"]) == load(ORACLE).encode_call("revokeApproval", address, nonce)

    assert await chain.call(deployment.oracle, load(ORACLE), "isApproved", address, nonce) is False
    assert await chain.call(deployment.oracle, load(ORACLE), "nonceUsed", address, nonce) is True
    assert await chain.revert_of(address, send, seller.address) == ("TransferRestricted", (APPROVAL_MISSING,))
    assert (await chain.transact(seller, address, send, gas=300_000)).status == 0
    assert await chain.call(address, TOKEN_ABI, "balanceOf", buyer.address) == 0


async def test_an_approval_cancelled_before_it_was_sent_is_never_written(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    chain_settings: Settings, container: Container,
) -> None:  # fmt: skip
    token, address, seller = await _token_with_holder(client, admin, chain, deployment, 100)
    _, buyer = await chain_party(client, admin, chain)
    ids = []
    for amount in (7, 8):
        decided = await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, amount),
            headers=checker,
        )  # fmt: skip
        assert decided.json()["status"] == "APPROVED", decided.text
        ids.append(decided.json()["id"])
    unqueued, queued = ids
    # cancelled before the writer ever saw it: nothing is queued
    cancel = await client.post(f"/v1/compliance/checks/{unqueued}/cancel", json={"reason": "t"}, headers=checker)
    assert cancel.status_code == 200, cancel.text
    # queued, not yet sent, then cancelled: the queued write is dropped
    assert await _enqueue(container, chain, deployment) >= 1
    pending = await _oracle_state(client, checker, queued)
    assert pending is not None
    assert pending["status"] == "pending"
    cancel = await client.post(f"/v1/compliance/checks/{queued}/cancel", json={"reason": "t"}, headers=checker)
    assert cancel.status_code == 200, cancel.text
    dropped = await _oracle_state(client, checker, queued)
    assert dropped is not None
    assert dropped["status"] == "cancelled"
    assert dropped["revocation"] is None

    async with running(oracle_worker.run, chain_settings):
        # a later decision on the same token is written: the writer did pass over these two
        later = await client.post(
            "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, 9),
            headers=checker,
        )  # fmt: skip
        await eventually(
            lambda: _oracle_state(client, checker, later.json()["id"]),
            lambda o: o is not None and o["status"] == "confirmed",
        )
    assert await _oracle_state(client, checker, unqueued) is None
    after = await _oracle_state(client, checker, queued)
    assert after is not None
    assert after["status"] == "cancelled"
    assert after["attempts"] == 0
    assert after["tx_hash"] is None
    for check_id in ids:
        nonce = check_id_to_nonce(UUID(check_id))
        assert await chain.call(deployment.oracle, load(ORACLE), "nonceUsed", address, nonce) is False
        assert await chain.call(deployment.oracle, load(ORACLE), "isApproved", address, nonce) is False
    for amount in (7, 8):
        code = await chain.call(address, TOKEN_ABI, "detectTransferRestriction", seller.address, buyer.address, amount)
        assert code == APPROVAL_MISSING


async def test_an_approval_queued_by_a_scan_that_raced_the_cancel_is_not_sent(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    chain_settings: Settings, container: Container,
) -> None:  # fmt: skip
    token, address, seller = await _token_with_holder(client, admin, chain, deployment, 100)
    _, buyer = await chain_party(client, admin, chain)
    decided = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, 4), headers=checker
    )
    check_id = decided.json()["id"]
    assert await _enqueue(container, chain, deployment) >= 1
    cancel = await client.post(f"/v1/compliance/checks/{check_id}/cancel", json={"reason": "t"}, headers=checker)
    assert cancel.status_code == 200, cancel.text
    # as if a scan that read the check before the cancel committed had inserted the write after it
    async with container.pool.acquire() as conn:
        await conn.execute(
            "UPDATE oracle_writes SET status = 'pending', last_error = NULL WHERE check_id = $1", UUID(check_id)
        )
    async with running(oracle_worker.run, chain_settings):
        dropped = await eventually(
            lambda: _oracle_state(client, checker, check_id), lambda o: o is not None and o["status"] == "cancelled"
        )
    assert dropped is not None
    assert dropped["tx_hash"] is None
    assert dropped["attempts"] == 0
    nonce = check_id_to_nonce(UUID(check_id))
    assert await chain.call(deployment.oracle, load(ORACLE), "nonceUsed", address, nonce) is False
    assert await chain.call(deployment.oracle, load(ORACLE), "isApproved", address, nonce) is False


async def test_rejected_check_reverts_on_chain_with_its_restriction_code(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    chain_settings: Settings,
) -> None:  # fmt: skip
    token, address, seller = await _token_with_holder(client, admin, chain, deployment, 50)
    _, stranger = await chain_party(client, admin, chain, kyc_status="pending")
    decided = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, stranger.address, 5),
        headers=checker,
    )  # fmt: skip
    body = decided.json()
    assert body["status"] == "REJECTED", decided.text
    code = body["restriction_code"]
    assert code == RESTRICTION_CODES[ReasonCode.KYC_NOT_VERIFIED]

    async with running(oracle_worker.run, chain_settings):
        written = await eventually(
            lambda: _oracle_state(client, checker, body["id"]), lambda o: o is not None and o["status"] == "confirmed"
        )
    assert written is not None
    assert written["kind"] == "restriction"
    assert await chain.call(address, TOKEN_ABI, "detectTransferRestriction", seller.address, stranger.address, 5) == (
        code
    )
    send = TOKEN_ABI.encode_call("transfer", stranger.address, 5)
    assert await chain.revert_of(address, send, seller.address) == ("TransferRestricted", (code,))
    message = await chain.call(address, TOKEN_ABI, "messageForTransferRestriction", code)
    assert message == "A party's KYC is not verified"


async def test_certificate_transfers_once_and_expired_or_tampered_ones_fail(
    chain_api: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment
) -> None:
    token, address, seller = await _token_with_holder(chain_api, admin, chain, deployment, 100)
    _, buyer = await chain_party(chain_api, admin, chain)
    decided = await chain_api.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, 25),
        headers=checker,
    )  # fmt: skip
    check_id = decided.json()["id"]
    issued = await chain_api.post(f"/v1/compliance/checks/{check_id}/certificate", headers=checker)
    assert issued.status_code == 200, issued.text
    cert = issued.json()
    assert cert["signer"].lower() == deployment.signer.address
    assert cert["domain"]["verifyingContract"].lower() == deployment.oracle
    assert cert["certificate"]["token"].lower() == address
    assert cert["primary_type"] == "TransferCertificate"
    nonce, expiry = int(cert["certificate"]["nonce"]), cert["certificate"]["expiry"]
    signature = bytes.fromhex(cert["signature"][2:])
    oracle = load(ORACLE)
    on_chain_digest = await chain.call(
        deployment.oracle, oracle, "certificateDigest", address, seller.address, buyer.address, 25, nonce, expiry
    )
    assert "0x" + on_chain_digest.hex() == cert["digest"]

    tampered = TOKEN_ABI.encode_call("transferWithCertificate", buyer.address, 26, nonce, expiry, signature)
    name, _ = await chain.revert_of(address, tampered, seller.address)
    assert name == "UnauthorizedSigner"

    use = TOKEN_ABI.encode_call("transferWithCertificate", buyer.address, 25, nonce, expiry, signature)
    assert (await chain.transact(seller, address, use)).status == 1
    assert await chain.call(address, TOKEN_ABI, "balanceOf", buyer.address) == 25
    assert await chain.revert_of(address, use, seller.address) == ("CertificateNonceUsed", (nonce,))

    # signed by the very same key, but already expired by the chain's clock
    now = (await chain.client.block("latest")).timestamp  # type: ignore[union-attr]
    signer = CertificateSigner(deployment.signer.private_key, 31337, deployment.oracle)
    stale = signer.sign(Certificate(address, seller.address, buyer.address, 5, nonce + 1, now - 1))
    expired = TOKEN_ABI.encode_call(
        "transferWithCertificate", buyer.address, 5, nonce + 1, now - 1, bytes.fromhex(stale.signature[2:])
    )
    assert await chain.revert_of(address, expired, seller.address) == ("CertificateExpired", (now - 1,))
    # a certificate signed by a key without SIGNER_ROLE
    impostor = CertificateSigner("0x" + "11" * 32, 31337, deployment.oracle)
    forged = impostor.sign(Certificate(address, seller.address, buyer.address, 5, nonce + 2, now + 600))
    forged_call = TOKEN_ABI.encode_call(
        "transferWithCertificate", buyer.address, 5, nonce + 2, now + 600, bytes.fromhex(forged.signature[2:])
    )
    assert (await chain.revert_of(address, forged_call, seller.address))[0] == "UnauthorizedSigner"


async def test_certificate_is_refused_for_what_it_cannot_certify(
    chain_api: httpx.AsyncClient, client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain,
    deployment: Deployment,
) -> None:  # fmt: skip
    token, _, seller = await _token_with_holder(chain_api, admin, chain, deployment, 10)
    rejected = await chain_api.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, random_address(), 5),
        headers=checker,
    )  # fmt: skip
    refused = await chain_api.post(f"/v1/compliance/checks/{rejected.json()['id']}/certificate", headers=checker)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "CONFLICT"
    unknown = await chain_api.post(
        "/v1/compliance/checks/00000000-0000-4000-8000-000000000000/certificate", headers=checker
    )
    assert unknown.status_code == 404
    # the suite's default service has no signer configured
    _, buyer = await chain_party(client, admin, chain)
    approved = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, 1), headers=checker
    )
    unconfigured = await client.post(f"/v1/compliance/checks/{approved.json()['id']}/certificate", headers=checker)
    assert unconfigured.status_code == 409
    assert "not configured" in unconfigured.json()["error"]["message"]


@pytest.mark.parametrize(("blockchain_type", "tx_type"), [(BlockchainType.PERMISSIONED, 0), (BlockchainType.PUBLIC, 2)])
async def test_gas_settings_follow_the_blockchain_type(
    chain: Chain, deployment: Deployment, anvil_url: str, blockchain_type: BlockchainType, tx_type: int
) -> None:
    client = ChainClient(anvil_url)
    try:
        sender = TxSender(client, deployment.writer.private_key, 31337, GasPolicy(blockchain_type))
        signed = await sender.sign_call(
            deployment.oracle,
            load(ORACLE).encode_call("recordRestriction", random_address(), random_address(), random_address(), 1, 9),
        )
        await sender.send(signed)
        await sender.send(signed)  # a re-broadcast of a known transaction is not an error
        receipt = await eventually(lambda: client.receipt(signed.tx_hash), lambda r: r is not None)
        assert receipt is not None
        assert receipt.status == 1
        tx = await client.w3.eth.get_transaction(signed.tx_hash)  # type: ignore[arg-type]
        assert int(tx["type"]) == tx_type
        assert tx["nonce"] == signed.nonce
    finally:
        await client.close()


async def test_a_write_the_oracle_refuses_ends_failed_with_its_error(
    client: httpx.AsyncClient, admin: Headers, checker: Headers, chain: Chain, deployment: Deployment,
    chain_settings: Settings,
) -> None:  # fmt: skip
    token, address, seller = await _token_with_holder(client, admin, chain, deployment, 10)
    _, buyer = await chain_party(client, admin, chain)
    decided = await client.post(
        "/v1/compliance/transfer-check", json=transfer(token["id"], seller.address, buyer.address, 3), headers=checker
    )
    check_id = decided.json()["id"]
    intruder = await chain.funded()  # an account without WRITER_ROLE
    settings = chain_settings.model_copy(
        update={"oracle_private_key": SecretStr(intruder.private_key), "oracle_max_attempts": 1}
    )
    async with running(oracle_worker.run, settings):
        written = await eventually(
            lambda: _oracle_state(client, checker, check_id), lambda o: o is not None and o["status"] == "failed"
        )
    assert written is not None
    assert written["attempts"] == 1
    assert "execution reverted: AccessControlUnauthorizedAccount(" in written["error"]
    assert await chain.call(address, TOKEN_ABI, "detectTransferRestriction", seller.address, buyer.address, 3) == (
        APPROVAL_MISSING
    )
