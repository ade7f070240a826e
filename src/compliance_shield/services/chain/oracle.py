"""Writing decisions to the ComplianceOracle contract: queue, send, confirm, retry.

Each pass of the oracle worker:

1. ``enqueue``: checks decided since the last pass on tokens with a contract address become
   ``oracle_writes`` rows — an APPROVED check as an approval (nonce = check id, expiry = the
   check's ``expires_at``), a refused one as its restriction code (``ORACLE_RECORD_RESTRICTIONS``).
   The scan re-reads a short window behind its high-water mark, because decision batches of
   other processes may commit a little after the time they stamp on their rows. Cancelling a
   check (``services.settlement``) queues a ``revocation`` of an approval that was or may have
   been sent (``revokeApproval(token, nonce)``, the approval's nonce) and cancels one never sent.
2. ``reconcile``: submitted transactions are looked up: a successful receipt with enough
   confirmations → ``confirmed``; a revert, or a transaction the node lost → retried with
   backoff, ``failed`` after ``ORACLE_MAX_ATTEMPTS``.
3. ``submit``: due rows are signed with the next nonce, recorded as ``submitted`` (with the
   transaction hash) and committed *before* they are broadcast, so a crash never leaves a sent
   transaction unrecorded; a send failure puts the row back and re-reads the nonce. An approval
   whose check was cancelled after it was queued is marked ``cancelled`` instead of sent.

The contract's ``recordApproval`` and ``revokeApproval`` are idempotent, so a retry of a write that
did land is harmless; a revocation sent after (by nonce order) its approval also makes a late
re-send of that approval a no-op.
Only one writer per account may send (nonces): the worker holds an advisory lock for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg
import structlog

from compliance_shield.adapters.chain.client import ChainError, Receipt
from compliance_shield.adapters.chain.contracts import ORACLE, describe_error, load
from compliance_shield.adapters.chain.events import check_id_to_nonce
from compliance_shield.adapters.chain.transactions import SignedTx
from compliance_shield.db import Conn
from compliance_shield.db import chain as repo

log = structlog.get_logger(__name__)

#: how far behind its high-water mark the scan looks again for late-committed decisions
LATE_COMMIT_WINDOW = timedelta(seconds=60)
#: approvals closer than this to expiry are not worth a transaction
MIN_REMAINING_LIFETIME = timedelta(seconds=5)
#: a submitted transaction the node no longer knows is resent after this long
LOST_AFTER = timedelta(seconds=30)


class OracleChain(Protocol):
    """What the writer needs from the chain (``adapters.chain``: ChainClient + TxSender)."""

    async def block_number(self) -> int: ...
    async def receipt(self, tx_hash: str) -> Receipt | None: ...
    async def transaction_known(self, tx_hash: str) -> bool: ...


class Sender(Protocol):
    async def sign_call(self, to: str, data: bytes) -> SignedTx: ...
    async def send(self, signed: SignedTx) -> None: ...
    async def resync(self) -> int: ...


@dataclass(frozen=True, slots=True)
class WriterConfig:
    oracle_address: str
    confirmations: int = 1
    max_attempts: int = 5
    record_restrictions: bool = True
    batch: int = 50
    backfill: timedelta = timedelta(days=1)


@dataclass(slots=True)
class PassResult:
    queued: int = 0
    submitted: int = 0
    confirmed: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 … seconds, at most five minutes."""
    return timedelta(seconds=min(300, 2 ** max(1, attempts)))


def call_data(write: dict[str, Any]) -> bytes:
    """The oracle call that records ``write`` (a row of ``oracle_writes``)."""
    oracle = load(ORACLE)
    token, sender, receiver = write["token_address"], write["from_address"], write["to_address"]
    amount = int(write["amount"])
    if write["kind"] == "approval":
        nonce = check_id_to_nonce(write["check_id"])
        expiry = int(write["expires_at"].timestamp())
        return oracle.encode_call("recordApproval", token, sender, receiver, amount, nonce, expiry)
    if write["kind"] == "revocation":
        return oracle.encode_call("revokeApproval", token, check_id_to_nonce(write["check_id"]))
    return oracle.encode_call("recordRestriction", token, sender, receiver, amount, int(write["restriction_code"]))


class OracleWriter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        chain: OracleChain,
        sender: Sender,
        config: WriterConfig,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._pool = pool
        self._chain = chain
        self._sender = sender
        self._config = config
        self._clock = clock
        self._high_water: datetime | None = None

    async def run_pass(self) -> PassResult:
        result = PassResult()
        result.queued = await self.enqueue()
        await self.reconcile(result)
        await self.submit(result)
        return result

    async def enqueue(self) -> int:
        now = self._clock()
        total = 0
        async with self._pool.acquire() as conn:
            if self._high_water is None:
                self._high_water = await repo.newest_queued_check(conn) or now - self._config.backfill
            while True:
                async with conn.transaction():
                    count, newest = await repo.enqueue_writes(
                        conn,
                        self._high_water - LATE_COMMIT_WINDOW,
                        now,
                        restrictions=self._config.record_restrictions,
                        limit=self._config.batch * 10,
                    )
                total += count
                if newest is not None:
                    self._high_water = max(self._high_water, newest)
                if count < self._config.batch * 10:
                    return total

    async def reconcile(self, result: PassResult) -> None:
        now = self._clock()
        async with self._pool.acquire() as conn:
            rows = await repo.submitted(conn, self._config.batch * 4)
        if not rows:
            return
        head = await self._chain.block_number()
        for row in rows:
            receipt = await self._chain.receipt(row["tx_hash"])
            async with self._pool.acquire() as conn, conn.transaction():
                if receipt is None:
                    submitted_at = row["submitted_at"] or now
                    if now - submitted_at < LOST_AFTER or await self._chain.transaction_known(row["tx_hash"]):
                        continue  # still in flight
                    await self._retry(conn, row, "the node lost the transaction", now, result)
                    await self._sender.resync()
                elif receipt.status != 1:
                    await self._retry(conn, row, f"transaction {receipt.tx_hash} reverted", now, result)
                elif head - receipt.block_number + 1 >= self._config.confirmations:
                    await repo.mark_confirmed(conn, row["check_id"], row["kind"], receipt.block_number, now)
                    result.confirmed += 1

    async def submit(self, result: PassResult) -> None:
        now = self._clock()
        ready = []
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                for row in await repo.claim_due(conn, now, self._config.batch):
                    if row["kind"] == "approval" and row["settlement_status"] == "cancelled":
                        await repo.mark_cancelled(conn, row["check_id"], row["kind"], now)
                        result.cancelled += 1
                        continue
                    if row["kind"] == "approval" and row["expires_at"] - now < MIN_REMAINING_LIFETIME:
                        await repo.mark_failed(
                            conn, row["check_id"], row["kind"], "the approval expired before it was written", now
                        )
                        result.failed += 1
                        continue
                    try:
                        signed = await self._sender.sign_call(self._config.oracle_address, call_data(row))
                    except ChainError as exc:  # e.g. the estimate reverts: this write only, counted
                        await self._attempt_failed(
                            conn, row, f"could not prepare the transaction: {describe_error(exc)}", now, result
                        )
                        continue
                    await repo.mark_submitted(conn, row["check_id"], row["kind"], signed.tx_hash, signed.nonce, now)
                    ready.append((row, signed))
        except BaseException:
            await self._sender.resync()  # nonces signed for rows that were not recorded are free again
            raise
        # recorded first, sent after the commit: a crash in between leaves a row reconcile resends
        for index, (row, signed) in enumerate(ready):
            try:
                await self._sender.send(signed)
            except Exception as exc:  # any failure: this and the later (unsent) nonces go back
                log.warning("oracle.send_failed", check_id=str(row["check_id"]), error=repr(exc))
                async with self._pool.acquire() as conn, conn.transaction():
                    for unsent, _ in ready[index:]:
                        await self._retry(conn, unsent, f"send failed: {describe_error(exc)}", now, result)
                await self._sender.resync()
                return
            result.submitted += 1

    async def _attempt_failed(
        self, conn: Conn, row: dict[str, Any], error: str, now: datetime, result: PassResult
    ) -> None:
        """An attempt that never produced a transaction still counts toward ``max_attempts``."""
        await repo.count_attempt(conn, row["check_id"], row["kind"], now)
        await self._retry(
            conn, {**row, "attempts": int(row["attempts"]) + 1, "status": "submitted"}, error, now, result
        )

    async def _retry(self, conn: Conn, row: dict[str, Any], error: str, now: datetime, result: PassResult) -> None:
        attempts = int(row["attempts"]) + (1 if row["status"] == "pending" else 0)
        status = await repo.retry_or_fail(
            conn,
            row["check_id"],
            row["kind"],
            error,
            now,
            now + backoff(attempts),
            self._config.max_attempts,
        )
        if status == "failed":
            result.failed += 1
            log.error("oracle.write_failed", check_id=str(row["check_id"]), kind=row["kind"], error=error)
        else:
            result.retried += 1
