"""Decoding the token logs the indexer follows.

``Transfer(address indexed from, address indexed to, uint256 value)`` is ERC-20's;
``ComplianceConsumed(address indexed from, address indexed to, uint256 amount, uint256 nonce)``
is emitted by the reference token right before the Transfer it authorizes, naming the approving
check (nonce = the check id as an integer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eth_utils.crypto import keccak

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
CONSUMED_TOPIC = "0x" + keccak(text="ComplianceConsumed(address,address,uint256,uint256)").hex()
ZERO_ADDRESS = "0x" + "00" * 20


def _hex(value: Any) -> str:
    """A log field (bytes, HexBytes or str) as lower-case 0x-hex."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


def _topic_address(topic: Any) -> str:
    return "0x" + _hex(topic)[-40:]


def _words(data: Any) -> list[int]:
    raw = bytes.fromhex(_hex(data)[2:])
    return [int.from_bytes(raw[i : i + 32], "big") for i in range(0, len(raw), 32)]


@dataclass(frozen=True, slots=True)
class TokenTransfer:
    token_address: str
    from_address: str
    to_address: str
    amount: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    #: the approving check named by a ComplianceConsumed log just before, if any
    check_id: UUID | None


def nonce_to_check_id(nonce: int) -> UUID | None:
    """The check a nonce names (nonces are check ids as integers); None when it cannot be one."""
    return UUID(int=nonce) if 0 < nonce < 2**128 else None


def check_id_to_nonce(check_id: UUID) -> int:
    return check_id.int


def decode_transfers(logs: list[Any]) -> list[TokenTransfer]:
    """Transfers in chain order, each with the check its preceding ComplianceConsumed names.

    Removed logs (``removed: true``, reported by some nodes on reorgs) are ignored.
    """
    ordered = sorted(
        (log for log in logs if not log.get("removed", False)),
        key=lambda log: (int(log["blockNumber"]), int(log["logIndex"])),
    )
    transfers: list[TokenTransfer] = []
    consumed: dict[tuple[str, str, str, str, int], list[int]] = {}
    for log in ordered:
        topics = log["topics"]
        if not topics:
            continue
        topic0 = _hex(topics[0])
        token = _hex(log["address"])
        tx_hash = _hex(log["transactionHash"])
        if topic0 == CONSUMED_TOPIC and len(topics) == 3:
            amount, nonce = _words(log["data"])[:2]
            key = (tx_hash, token, _topic_address(topics[1]), _topic_address(topics[2]), amount)
            consumed.setdefault(key, []).append(nonce)
        elif topic0 == TRANSFER_TOPIC and len(topics) == 3:
            sender, receiver = _topic_address(topics[1]), _topic_address(topics[2])
            amount = _words(log["data"])[0]
            nonces = consumed.get((tx_hash, token, sender, receiver, amount))
            check_id = nonce_to_check_id(nonces.pop(0)) if nonces else None
            transfers.append(
                TokenTransfer(
                    token_address=token,
                    from_address=sender,
                    to_address=receiver,
                    amount=amount,
                    block_number=int(log["blockNumber"]),
                    block_hash=_hex(log["blockHash"]),
                    tx_hash=tx_hash,
                    log_index=int(log["logIndex"]),
                    check_id=check_id,
                )
            )
    return transfers
