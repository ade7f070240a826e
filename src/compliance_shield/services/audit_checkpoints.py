"""Signed checkpoints of the audit chain's head, appended to a file the database cannot rewrite.

The chain detects a row altered or removed in its middle, but not rows removed from its end: a
shorter chain is still a valid chain. A checkpoint records the head (``seq`` and ``hash``) at a
moment, signed, somewhere a database user cannot reach; ``check`` later finds each recorded head
still in the chain, or reports the truncation or rewrite.

Why a file: it is the one place that needs nothing beyond the host — mount it from a volume the
database user (and the database's operators) cannot write, ideally append-only (``chattr +a``)
or shipped to WORM storage by the log pipeline. An object-locked bucket needs cloud credentials
on the write path, and the on-chain oracle is optional and costs gas per checkpoint; either can
receive the same signed lines later. Each line is one JSON object; the signature is an Ethereum
personal-message signature (EIP-191) by ``AUDIT_CHECKPOINT_KEY``, so an auditor verifies it with
the signer's address alone, without holding any secret.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct

from compliance_shield.db import Conn
from compliance_shield.domain import encoding


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    head_hash: str
    at: str
    signer: str
    signature: str

    def message(self) -> str:
        return _message(self.seq, self.head_hash, self.at)


def _message(seq: int, head_hash: str, at: str) -> str:
    return f"compliance-shield audit checkpoint\nseq={seq}\nhash={head_hash}\nat={at}"


def signer_address(private_key: str) -> str:
    return str(Account.from_key(private_key).address)


async def take(conn: Conn, private_key: str, now: datetime) -> Checkpoint | None:
    """A signed checkpoint of the current head (None while the log is empty)."""
    head = await conn.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    if head is None:
        return None
    at = now.astimezone(UTC).isoformat()
    signed = Account.sign_message(encode_defunct(text=_message(head["seq"], head["hash"], at)), private_key)
    return Checkpoint(head["seq"], head["hash"], at, signer_address(private_key), "0x" + signed.signature.hex())


def append(path: Path, checkpoint: Checkpoint) -> None:
    """Append one line and flush it to disk before returning."""
    with path.open("a", encoding="utf-8") as out:
        out.write(encoding.dumps_text(asdict(checkpoint), sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())


def read(path: Path) -> list[Checkpoint]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Checkpoint(**encoding.loads(line)) for line in lines if line.strip()]


async def check(conn: Conn, checkpoints: list[Checkpoint], signer: str) -> list[str]:
    """What is wrong: a checkpoint not signed by ``signer``, or a checkpointed head the chain no
    longer holds (rows removed from its end, or rewritten)."""
    problems: list[str] = []
    for point in checkpoints:
        recovered = Account.recover_message(encode_defunct(text=point.message()), signature=point.signature)
        if recovered.lower() != signer.lower():
            problems.append(f"checkpoint of seq {point.seq} at {point.at} is not signed by {signer}")
            continue
        stored = await conn.fetchval("SELECT hash FROM audit_log WHERE seq = $1", point.seq)
        if stored is None:
            problems.append(f"entry {point.seq}, checkpointed at {point.at}, is missing: the log was truncated")
        elif stored != point.head_hash:
            problems.append(f"entry {point.seq}, checkpointed at {point.at}, has another hash: the log was rewritten")
    return problems
