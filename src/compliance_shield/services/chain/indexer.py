"""Following the tokens' ``Transfer`` events into holdings and settlements.

The indexer reads blocks up to ``head - confirmations`` only, so a reorg no deeper than the
confirmation depth never touches what it applied. Each pass, in one transaction per batch of
blocks:

* every ``Transfer`` of a followed token (one with a contract address) moves the holding between
  the investors bound to the two wallets (``db.refdata.move_holding``: mints credit, burns
  debit, unknown wallets are left out); the token's ``token_state`` row is locked first and its
  version bumped, like every holdings change;
* the approval it used is settled: the check named by the token's ``ComplianceConsumed`` log
  (nonce = check id), or else the oldest active reservation for exactly this transfer; its
  reservation is closed and the check marked settled with the transaction hash;
* the log is recorded in ``chain_transfers`` (a log applied once is never applied again) and the
  cursor advances to the batch's last block, whose hash is kept as a checkpoint.

Deeper reorgs are detected, not assumed away: when the cursor block's hash is no longer the
chain's, the newest checkpoint still on the chain is the common ancestor; every transfer above
it is undone (holdings moved back, settlements reopened) and indexing resumes from there.
A transfer whose sender has a lower recorded balance than the chain moved (holdings out of sync
with the chain) is recorded unapplied and logged for reconciliation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import structlog

from compliance_shield.adapters.chain.client import BlockRef
from compliance_shield.adapters.chain.events import (
    CONSUMED_TOPIC,
    TRANSFER_TOPIC,
    ZERO_ADDRESS,
    TokenTransfer,
    decode_transfers,
)
from compliance_shield.db import Conn, audit, ledger_queries
from compliance_shield.db import chain as repo
from compliance_shield.db import checks as checks_repo
from compliance_shield.db import refdata as refdata_repo
from compliance_shield.db import reservations as reservations_repo
from compliance_shield.services.events.events import outbox_row

log = structlog.get_logger(__name__)

ACTOR = "chain-indexer"
#: checkpoints kept for finding a reorg's common ancestor
KEEP_CHECKPOINTS = 1000


class IndexedChain(Protocol):
    """What the indexer needs from the node (``adapters.chain.client.ChainClient``)."""

    async def block_number(self) -> int: ...
    async def block(self, number: int | str = "latest") -> BlockRef | None: ...
    async def logs(self, addresses: list[str], topics: list[str], from_block: int, to_block: int) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class IndexerConfig:
    chain_id: int
    confirmations: int = 6
    batch_blocks: int = 500
    start_block: int = 0
    name: str = "token-transfers"


@dataclass(slots=True)
class IndexResult:
    blocks: int = 0
    transfers: int = 0
    settled: int = 0
    unapplied: int = 0
    reverted: int = 0
    cursor: int = -1
    settled_checks: list[UUID] = field(default_factory=list)


class ChainIndexer:
    def __init__(self, pool: asyncpg.Pool, chain: IndexedChain, config: IndexerConfig) -> None:
        self._pool = pool
        self._chain = chain
        self._config = config

    async def run_pass(self) -> IndexResult:
        """Catch up to ``head - confirmations`` (several batches); handle a reorg first if one happened."""
        result = IndexResult()
        cursor = await self._cursor()
        cursor = await self._rewind_if_reorged(cursor, result)
        head = await self._chain.block_number()
        safe = head - self._config.confirmations
        while cursor < safe:
            last = min(safe, cursor + self._config.batch_blocks)
            cursor = await self._apply_range(cursor + 1, last, result)
        result.cursor = cursor
        return result

    async def _cursor(self) -> int:
        async with self._pool.acquire() as conn:
            stored = await repo.get_cursor(conn, self._config.chain_id, self._config.name)
        return stored[0] if stored is not None else self._config.start_block - 1

    # -- reorgs ----------------------------------------------------------------------------------

    async def _rewind_if_reorged(self, cursor: int, result: IndexResult) -> int:
        async with self._pool.acquire() as conn:
            stored = await repo.get_cursor(conn, self._config.chain_id, self._config.name)
            if stored is None or stored[1] is None:
                return cursor
            canonical = await self._chain.block(stored[0])
            if canonical is not None and canonical.hash == stored[1]:
                return cursor
            ancestor = self._config.start_block - 1
            for number, block_hash in await repo.checkpoints(conn, self._config.chain_id, self._config.name, stored[0]):
                on_chain = await self._chain.block(number)
                if on_chain is not None and on_chain.hash == block_hash:
                    ancestor = number
                    break
        log.warning("indexer.reorg", cursor=stored[0], ancestor=ancestor, chain_id=self._config.chain_id)
        await self._undo_above(ancestor, result)
        return ancestor

    async def _undo_above(self, ancestor: int, result: IndexResult) -> None:
        now = datetime.now(UTC)
        chain_id, name = self._config.chain_id, self._config.name
        async with self._pool.acquire() as conn, conn.transaction():
            await repo.get_cursor(conn, chain_id, name, for_update=True)  # one indexer at a time
            undone = await repo.transfers_after(conn, chain_id, name, ancestor)
            tokens = sorted({t["token_id"] for t in undone})
            await ledger_queries.lock_tokens(conn, tokens)
            for t in undone:
                if t["applied"]:
                    moved = await refdata_repo.move_holding(
                        conn, t["token_id"], t["to_investor_id"], t["from_investor_id"], int(t["amount"]), now
                    )
                    if not moved:
                        log.error("indexer.undo_short", tx_hash=t["tx_hash"], log_index=t["log_index"])
                if t["settled_check_id"] is not None:
                    await repo.reopen_settlement(conn, t["settled_check_id"])
                    await _record(conn, t["settled_check_id"], t["token_id"], "transfer_check.settlement_reverted",
                                  now, {"tx_hash": t["tx_hash"], "reason": "chain reorganization"})  # fmt: skip
                result.reverted += 1
            await repo.forget_after(conn, chain_id, name, ancestor)
            ancestor_block = await self._chain.block(ancestor) if ancestor >= 0 else None
            await repo.set_cursor(conn, chain_id, name, ancestor, ancestor_block.hash if ancestor_block else None)
            if tokens:
                await ledger_queries.bump_versions(conn, tokens)

    # -- applying blocks ------------------------------------------------------------------------

    async def _apply_range(self, first: int, last: int, result: IndexResult) -> int:
        chain_id, name = self._config.chain_id, self._config.name
        async with self._pool.acquire() as conn:
            followed = await repo.followed_tokens(conn)
        logs = await self._chain.logs(list(followed), [TRANSFER_TOPIC, CONSUMED_TOPIC], first, last) if followed else []
        transfers = decode_transfers(logs)
        end = await self._chain.block(last)
        if end is None:
            raise RuntimeError(f"block {last} is not available from the node")
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await repo.get_cursor(conn, chain_id, name, for_update=True)
            if stored is not None and stored[0] >= last:
                return stored[0]  # another indexer got here first
            tokens = sorted({followed[t.token_address] for t in transfers})
            await ledger_queries.lock_tokens(conn, tokens)
            wallets = await repo.investors_of(
                conn, sorted({a for t in transfers for a in (t.from_address, t.to_address)})
            )
            for transfer in transfers:
                await self._apply(conn, transfer, followed[transfer.token_address], wallets, now, result)
            checkpoints = {(t.block_number, t.block_hash) for t in transfers} | {(end.number, end.hash)}
            await repo.add_checkpoints(conn, chain_id, name, sorted(checkpoints))
            await repo.prune_checkpoints(conn, chain_id, name, KEEP_CHECKPOINTS)
            await repo.set_cursor(conn, chain_id, name, end.number, end.hash)
            if tokens:
                await ledger_queries.bump_versions(conn, tokens)
        result.blocks += last - first + 1
        return last

    async def _apply(
        self,
        conn: Conn,
        transfer: TokenTransfer,
        token_id: UUID,
        wallets: dict[str, UUID],
        now: datetime,
        result: IndexResult,
    ) -> None:
        sender = wallets.get(transfer.from_address) if transfer.from_address != ZERO_ADDRESS else None
        receiver = wallets.get(transfer.to_address) if transfer.to_address != ZERO_ADDRESS else None
        check_id = await self._matching_approval(conn, transfer, token_id)
        row = {
            "chain_id": self._config.chain_id,
            "name": self._config.name,
            "tx_hash": transfer.tx_hash,
            "log_index": transfer.log_index,
            "block_number": transfer.block_number,
            "block_hash": transfer.block_hash,
            "token_id": token_id,
            "from_address": transfer.from_address,
            "to_address": transfer.to_address,
            "amount": transfer.amount,
            "from_investor_id": sender,
            "to_investor_id": receiver,
            "applied": False,
            "settled_check_id": None,
        }
        if not await repo.insert_transfer(conn, row):
            return  # this log was applied before
        # move_holding changes nothing when the sender's recorded balance is short
        applied = await refdata_repo.move_holding(conn, token_id, sender, receiver, transfer.amount, now)
        if not applied:
            result.unapplied += 1
            log.error("indexer.balance_short", tx_hash=transfer.tx_hash, log_index=transfer.log_index,
                      token_id=str(token_id), amount=str(transfer.amount))  # fmt: skip
        if check_id is not None:
            await reservations_repo.close(conn, check_id, "settled", now)
            await reservations_repo.mark_check(conn, check_id, "settled", now, transfer.tx_hash)
            await _record(conn, check_id, token_id, "transfer_check.settled", now,
                          {"tx_hash": transfer.tx_hash, "block_number": transfer.block_number})  # fmt: skip
            result.settled += 1
            result.settled_checks.append(check_id)
        await repo.mark_transfer(conn, self._config.chain_id, transfer.tx_hash, transfer.log_index, applied, check_id)
        result.transfers += 1

    async def _matching_approval(self, conn: Conn, transfer: TokenTransfer, token_id: UUID) -> UUID | None:
        """The active reservation this transfer settles, locked; None when it settles none."""
        if transfer.check_id is not None:
            reservation = await reservations_repo.get_for_update(conn, transfer.check_id)
            if reservation is not None and reservation["status"] == "active" and reservation["token_id"] == token_id:
                return transfer.check_id
            return None
        return await repo.match_reservation(conn, token_id, transfer.from_address, transfer.to_address, transfer.amount)


async def _record(
    conn: Conn, check_id: UUID, token_id: UUID, action: str, now: datetime, extra: dict[str, Any]
) -> None:
    check = await checks_repo.get_check(conn, check_id)
    payload = {"token_id": str(token_id), "amount": str(check["amount"]) if check else None, **extra}
    await audit.append(conn, [audit.AuditEntry(now, ACTOR, action, "transfer_check", str(check_id), payload)])
    await checks_repo.insert_outbox(
        conn, [outbox_row(action, str(token_id), {"check_id": str(check_id), **payload}, now)]
    )
