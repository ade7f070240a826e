"""JSON-RPC access to an EVM node through web3.py's ``AsyncWeb3``.

Only what the workers and the certificate service need, returned as plain Python values
(lower-case 0x-hex strings, ints) so that web3 types stay inside this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from eth_typing import BlockNumber, ChecksumAddress, HexStr
from web3 import AsyncWeb3
from web3.exceptions import BlockNotFound, TransactionNotFound, Web3Exception
from web3.providers import AsyncHTTPProvider
from web3.types import BlockIdentifier, FilterParams, TxParams

from compliance_shield.adapters.chain.events import _hex

#: JSON-RPC, transport and node-side failures the workers treat as "try again later"
ChainError = (Web3Exception, OSError, TimeoutError, ValueError)


@dataclass(frozen=True, slots=True)
class BlockRef:
    number: int
    hash: str
    timestamp: int
    base_fee: int | None


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_hash: str
    status: int
    block_number: int
    block_hash: str
    gas_used: int


class ChainClient:
    """One node connection; ``close()`` releases its HTTP session."""

    def __init__(self, rpc_url: str, *, timeout: float = 10.0) -> None:
        self.rpc_url = rpc_url
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    @staticmethod
    def address(value: str) -> ChecksumAddress:
        return AsyncWeb3.to_checksum_address(value)

    async def chain_id(self) -> int:
        return int(await self.w3.eth.chain_id)

    async def block_number(self) -> int:
        return int(await self.w3.eth.block_number)

    async def block(self, number: int | str = "latest") -> BlockRef | None:
        ident = cast(BlockIdentifier, BlockNumber(number) if isinstance(number, int) else number)
        try:
            block = await self.w3.eth.get_block(ident)
        except BlockNotFound:
            return None
        base_fee = block.get("baseFeePerGas")
        return BlockRef(
            number=int(block["number"]),
            hash=_hex(block["hash"]),
            timestamp=int(block["timestamp"]),
            base_fee=int(base_fee) if base_fee is not None else None,
        )

    async def logs(self, addresses: list[str], topics: list[str], from_block: int, to_block: int) -> list[Any]:
        """Logs of ``addresses`` whose first topic is one of ``topics``, in the block range (inclusive)."""
        params: FilterParams = {
            "address": [self.address(a) for a in addresses],
            "topics": [[HexStr(t) for t in topics]],
            "fromBlock": BlockNumber(from_block),
            "toBlock": BlockNumber(to_block),
        }
        return list(await self.w3.eth.get_logs(params))

    async def pending_nonce(self, address: str) -> int:
        return int(await self.w3.eth.get_transaction_count(self.address(address), "pending"))

    async def gas_price(self) -> int:
        return int(await self.w3.eth.gas_price)

    async def max_priority_fee(self) -> int:
        return int(await self.w3.eth.max_priority_fee)

    async def estimate_gas(self, sender: str, to: str, data: bytes) -> int:
        tx: TxParams = {"from": self.address(sender), "to": self.address(to), "data": HexStr("0x" + data.hex())}
        return int(await self.w3.eth.estimate_gas(tx))

    async def call(self, to: str, data: bytes, sender: str | None = None) -> bytes:
        tx: TxParams = {"to": self.address(to), "data": HexStr("0x" + data.hex())}
        if sender is not None:
            tx["from"] = self.address(sender)
        return bytes(await self.w3.eth.call(tx))

    async def send_raw(self, raw: bytes) -> str:
        return _hex(await self.w3.eth.send_raw_transaction(raw))

    async def receipt(self, tx_hash: str) -> Receipt | None:
        try:
            r = await self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            return None
        return Receipt(
            tx_hash=_hex(r["transactionHash"]),
            status=int(r["status"]),
            block_number=int(r["blockNumber"]),
            block_hash=_hex(r["blockHash"]),
            gas_used=int(r["gasUsed"]),
        )

    async def transaction_known(self, tx_hash: str) -> bool:
        """Whether the node has the transaction (mined or waiting in its pool)."""
        try:
            await self.w3.eth.get_transaction(HexStr(tx_hash))
        except TransactionNotFound:
            return False
        return True

    async def rpc(self, method: str, params: list[Any]) -> Any:
        """A raw JSON-RPC call (node-specific methods); raises on an error answer."""
        response = await self.w3.provider.make_request(cast(Any, method), params)
        if "error" in response:
            raise ValueError(f"{method}: {response['error']}")
        return response.get("result")
