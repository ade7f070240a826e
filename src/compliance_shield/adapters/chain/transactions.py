"""Signing and sending contract calls from one account: nonce management and gas settings.

Nonces are assigned locally, starting from the node's pending count, so several transactions
can be in flight at once; ``resync()`` re-reads the count after a failure (a rejected or lost
transaction leaves a gap the next one must fill). One process per key: the oracle worker holds
a database advisory lock for its account while it sends.

Gas settings follow ``BLOCKCHAIN_TYPE``:

* ``permissioned`` (Besu, usually free gas): legacy transactions with a fixed ``gasPrice``
  (``ORACLE_GAS_PRICE_WEI``; when unset, the node's ``eth_gasPrice``).
* ``public``: EIP-1559 transactions with ``maxPriorityFeePerGas`` from the node and
  ``maxFeePerGas = 2 × baseFee + tip``, capped at ``ORACLE_MAX_FEE_WEI``.

The gas limit is the node's estimate plus 25 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.exceptions import Web3Exception

from compliance_shield.adapters.chain.client import ChainClient
from compliance_shield.domain.values import BlockchainType

GAS_MARGIN_PERCENT = 25


@dataclass(frozen=True, slots=True)
class GasPolicy:
    blockchain_type: BlockchainType
    gas_price_wei: int | None = None
    max_fee_wei: int = 500 * 10**9


@dataclass(frozen=True, slots=True)
class SignedTx:
    tx_hash: str
    raw: bytes
    nonce: int


class TxSender:
    def __init__(self, client: ChainClient, private_key: str, chain_id: int, policy: GasPolicy) -> None:
        self._client = client
        self._account: LocalAccount = Account.from_key(private_key)
        self._chain_id = chain_id
        self._policy = policy
        self._next_nonce: int | None = None

    @property
    def address(self) -> str:
        return self._account.address.lower()

    async def resync(self) -> int:
        """Take the next nonce from the node's pending transaction count."""
        self._next_nonce = await self._client.pending_nonce(self.address)
        return self._next_nonce

    async def _fees(self) -> dict[str, int]:
        if self._policy.blockchain_type is BlockchainType.PERMISSIONED:
            price = self._policy.gas_price_wei
            return {"gasPrice": price if price is not None else await self._client.gas_price()}
        latest = await self._client.block("latest")
        base_fee = latest.base_fee if latest is not None and latest.base_fee is not None else 0
        tip = await self._client.max_priority_fee()
        max_fee = min(2 * base_fee + tip, self._policy.max_fee_wei)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": min(tip, max_fee), "type": 2}

    async def sign_call(self, to: str, data: bytes) -> SignedTx:
        """Estimate, price and sign a call with the next nonce (the nonce is used up)."""
        if self._next_nonce is None:
            await self.resync()
        assert self._next_nonce is not None
        gas = await self._client.estimate_gas(self.address, to, data)
        tx: dict[str, Any] = {
            "chainId": self._chain_id,
            "nonce": self._next_nonce,
            "to": self._client.address(to),
            "data": data,
            "value": 0,
            "gas": gas + gas * GAS_MARGIN_PERCENT // 100,
            **await self._fees(),
        }
        signed = self._account.sign_transaction(tx)
        self._next_nonce += 1
        return SignedTx(tx_hash="0x" + bytes(signed.hash).hex(), raw=bytes(signed.raw_transaction), nonce=tx["nonce"])

    async def send(self, signed: SignedTx) -> None:
        """Broadcast; a node that already has the transaction (pending or mined) is not an error."""
        try:
            await self._client.send_raw(signed.raw)
        except (Web3Exception, ValueError):
            # "already known" / "nonce too low" for this very transaction: it got there before
            if await self._client.transaction_known(signed.tx_hash):
                return
            raise
