"""Sending an operator's one-off transactions (contract creation, role grants) and waiting for each.

The oracle writer's ``TxSender`` keeps many transactions in flight from a locally managed nonce;
a deployment is a short sequence where each step needs the previous one mined (a role is granted
on the contract just created), so here every transaction is sent with the node's pending nonce
and waited for before the next. Legacy transactions: accepted by Besu (free-gas networks at gas
price 0) and by public chains alike.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr

from compliance_shield.adapters.chain.client import ChainClient
from compliance_shield.adapters.chain.contracts import describe_error
from compliance_shield.adapters.chain.events import _hex

GAS_MARGIN_PERCENT = 25


class TransactionFailed(RuntimeError):
    """A transaction was refused by the node, reverted, or not mined in time."""


@dataclass(frozen=True, slots=True)
class Mined:
    tx_hash: str
    block_number: int
    #: the created contract (lower-case hex) of a creation transaction; None for a call
    contract_address: str | None


class Deployer:
    """One key's transactions, one at a time, each mined with status 1 before ``send`` returns."""

    def __init__(
        self,
        client: ChainClient,
        private_key: str,
        chain_id: int,
        *,
        gas_price_wei: int | None = None,
        receipt_timeout: float = 120.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self._client = client
        self._account: LocalAccount = Account.from_key(private_key)
        self._chain_id = chain_id
        self._gas_price_wei = gas_price_wei
        self._receipt_timeout = receipt_timeout
        self._poll_seconds = poll_seconds

    @property
    def address(self) -> str:
        return self._account.address.lower()

    async def create(self, creation_code: bytes) -> Mined:
        """Deploy a contract (creation code with its encoded constructor arguments)."""
        mined = await self._send(None, creation_code)
        if mined.contract_address is None:
            raise TransactionFailed(f"{mined.tx_hash} created no contract")
        return mined

    async def call(self, to: str, data: bytes) -> Mined:
        return await self._send(to, data)

    async def _send(self, to: str | None, data: bytes) -> Mined:
        request: dict[str, Any] = {"from": self.address, "data": "0x" + data.hex()}
        if to is not None:
            request["to"] = to
        try:
            gas = int(await self._client.rpc("eth_estimateGas", [request]), 16)
        except ValueError as exc:  # the node simulated it and it reverts: say why, send nothing
            raise TransactionFailed(f"the node refuses the transaction: {describe_error(exc)}") from exc
        tx: dict[str, Any] = {
            "chainId": self._chain_id,
            "nonce": await self._client.pending_nonce(self.address),
            "data": data,
            "value": 0,
            "gas": gas + gas * GAS_MARGIN_PERCENT // 100,
            "gasPrice": self._gas_price_wei if self._gas_price_wei is not None else await self._client.gas_price(),
        }
        if to is not None:
            tx["to"] = self._client.address(to)
        signed = self._account.sign_transaction(tx)
        tx_hash = await self._client.send_raw(bytes(signed.raw_transaction))
        deadline = time.monotonic() + self._receipt_timeout
        while (receipt := await self._client.receipt(tx_hash)) is None:
            if time.monotonic() > deadline:
                raise TransactionFailed(f"{tx_hash} was not mined within {self._receipt_timeout:.0f}s")
            await asyncio.sleep(self._poll_seconds)
        if receipt.status != 1:
            raise TransactionFailed(f"{tx_hash} reverted in block {receipt.block_number}")
        created = None
        if to is None:
            full = await self._client.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            address = full.get("contractAddress")
            created = _hex(address).lower() if address is not None else None
        return Mined(tx_hash=tx_hash, block_number=receipt.block_number, contract_address=created)
