"""Repository of on-chain state: oracle writes and the indexer's cursor, checkpoints and transfers.

Never commits; callers own the transaction. Addresses and hashes are stored lower-case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from compliance_shield.db import Conn

# -- oracle writes -----------------------------------------------------------------------------

_CANDIDATES = """
    SELECT c.id, c.created_at, c.status, c.token_id, t.contract_address, c.from_address, c.to_address,
           c.amount, c.restriction_code, c.expires_at
    FROM transfer_compliance_checks c JOIN tokens t ON t.id = c.token_id
    WHERE c.created_at > $1 AND t.contract_address IS NOT NULL
      AND c.from_address ~ '^0x[0-9a-f]{40}$' AND c.to_address ~ '^0x[0-9a-f]{40}$'
      AND ((c.status = 'APPROVED' AND c.expires_at > $2 AND c.settlement_status = 'pending')
           OR ($3 AND c.status <> 'APPROVED' AND c.restriction_code > 0))
      AND NOT EXISTS (SELECT 1 FROM oracle_writes w WHERE w.check_id = c.id)
    ORDER BY c.created_at
    LIMIT $4
"""


async def enqueue_writes(
    conn: Conn, since: datetime, now: datetime, *, restrictions: bool, limit: int
) -> tuple[int, datetime | None]:
    """Queue the checks decided after ``since`` that the oracle should learn about.

    Returns how many were queued and the newest check time seen (None when none).
    """
    rows = await conn.fetch(_CANDIDATES, since, now, restrictions, limit)
    if not rows:
        return 0, None
    await conn.executemany(
        """INSERT INTO oracle_writes (check_id, check_created_at, kind, token_id, token_address, from_address,
               to_address, amount, restriction_code, expires_at, next_attempt_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (check_id, kind) DO NOTHING""",
        [
            (
                r["id"], r["created_at"], "approval" if r["status"] == "APPROVED" else "restriction", r["token_id"],
                r["contract_address"], r["from_address"], r["to_address"], r["amount"],
                0 if r["status"] == "APPROVED" else r["restriction_code"],
                r["expires_at"] if r["status"] == "APPROVED" else None, now,
            )
            for r in rows
        ],
    )  # fmt: skip
    return len(rows), max(r["created_at"] for r in rows)


async def newest_queued_check(conn: Conn) -> datetime | None:
    value: datetime | None = await conn.fetchval("SELECT max(check_created_at) FROM oracle_writes")
    return value


async def claim_due(conn: Conn, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Pending writes whose time has come, oldest first, locked for this transaction.

    Each row carries its check's ``settlement_status``, so an approval whose check was cancelled
    after it was queued is dropped rather than sent. Revocations go after the other writes of
    their check.
    """
    rows = await conn.fetch(
        """SELECT w.*, c.settlement_status FROM oracle_writes w
           LEFT JOIN transfer_compliance_checks c ON c.id = w.check_id AND c.created_at = w.check_created_at
           WHERE w.status = 'pending' AND w.next_attempt_at <= $1
           ORDER BY w.check_created_at, w.kind = 'revocation' LIMIT $2 FOR UPDATE OF w SKIP LOCKED""",
        now,
        limit,
    )
    return [dict(r) for r in rows]


async def submitted(conn: Conn, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM oracle_writes WHERE status = 'submitted' ORDER BY tx_nonce LIMIT $1", limit)
    return [dict(r) for r in rows]


async def mark_submitted(conn: Conn, check_id: UUID, kind: str, tx_hash: str, tx_nonce: int, now: datetime) -> None:
    await conn.execute(
        """UPDATE oracle_writes SET status = 'submitted', tx_hash = $3, tx_nonce = $4, submitted_at = $5,
               attempts = attempts + 1, updated_at = $5
           WHERE check_id = $1 AND kind = $2""",
        check_id,
        kind,
        tx_hash,
        tx_nonce,
        now,
    )


async def count_attempt(conn: Conn, check_id: UUID, kind: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE oracle_writes SET attempts = attempts + 1, updated_at = $3 WHERE check_id = $1 AND kind = $2",
        check_id,
        kind,
        now,
    )


async def mark_confirmed(conn: Conn, check_id: UUID, kind: str, block_number: int, now: datetime) -> None:
    await conn.execute(
        """UPDATE oracle_writes SET status = 'confirmed', block_number = $3, last_error = NULL, updated_at = $4
           WHERE check_id = $1 AND kind = $2""",
        check_id,
        kind,
        block_number,
        now,
    )


async def retry_or_fail(
    conn: Conn, check_id: UUID, kind: str, error: str, now: datetime, retry_at: datetime, max_attempts: int
) -> str:
    """Back to pending for another attempt at ``retry_at``, or failed once attempts are used up."""
    status: str = await conn.fetchval(
        """UPDATE oracle_writes SET
               status = CASE WHEN attempts >= $5 THEN 'failed' ELSE 'pending' END,
               last_error = $2, next_attempt_at = $4, updated_at = $3,
               tx_hash = CASE WHEN attempts >= $5 THEN tx_hash END,
               tx_nonce = CASE WHEN attempts >= $5 THEN tx_nonce END
           WHERE check_id = $1 AND kind = $6 RETURNING status""",
        check_id,
        error[:2000],
        now,
        retry_at,
        max_attempts,
        kind,
    )
    return status


async def mark_failed(conn: Conn, check_id: UUID, kind: str, error: str, now: datetime) -> None:
    await conn.execute(
        """UPDATE oracle_writes SET status = 'failed', last_error = $3, updated_at = $4
           WHERE check_id = $1 AND kind = $2""",
        check_id,
        kind,
        error[:2000],
        now,
    )


async def mark_cancelled(conn: Conn, check_id: UUID, kind: str, now: datetime) -> None:
    """A write that is no longer to be sent (the approval of a check cancelled before it went out)."""
    await conn.execute(
        """UPDATE oracle_writes SET status = 'cancelled', last_error = 'the check was cancelled', updated_at = $3
           WHERE check_id = $1 AND kind = $2 AND status = 'pending'""",
        check_id,
        kind,
        now,
    )


async def withdraw_approval(conn: Conn, check_id: UUID, now: datetime) -> bool:
    """The check was cancelled: take back its approval write.

    An approval write never attempted is cancelled (never sent). One that was sent, or may have
    been (any attempt made), gets a ``revocation`` write queued. A write the writer is sending
    right now is locked by it: the update waits for its commit and then sees it submitted.
    Returns whether a revocation was queued.
    """
    await conn.execute(
        """UPDATE oracle_writes SET status = 'cancelled', last_error = 'the check was cancelled', updated_at = $2
           WHERE check_id = $1 AND kind = 'approval' AND status = 'pending' AND attempts = 0""",
        check_id,
        now,
    )
    queued = await conn.fetchval(
        """INSERT INTO oracle_writes (check_id, check_created_at, kind, token_id, token_address, from_address,
               to_address, amount, restriction_code, expires_at, next_attempt_at)
           SELECT check_id, check_created_at, 'revocation', token_id, token_address, from_address, to_address,
                  amount, 0, expires_at, $2
           FROM oracle_writes WHERE check_id = $1 AND kind = 'approval' AND status <> 'cancelled'
           ON CONFLICT (check_id, kind) DO NOTHING RETURNING true""",
        check_id,
        now,
    )
    # an attempted approval still waiting for its retry is not sent again
    await conn.execute(
        """UPDATE oracle_writes SET status = 'cancelled', last_error = 'the check was cancelled', updated_at = $2
           WHERE check_id = $1 AND kind = 'approval' AND status = 'pending'""",
        check_id,
        now,
    )
    return bool(queued)


async def get_write(conn: Conn, check_id: UUID) -> dict[str, Any] | None:
    """The check's approval or restriction write, with its revocation (None when none) as ``revocation``."""
    rows = await conn.fetch(
        """SELECT kind, status, tx_hash, block_number, attempts, last_error, updated_at
           FROM oracle_writes WHERE check_id = $1""",
        check_id,
    )
    writes = {r["kind"]: dict(r) for r in rows}
    revocation = writes.pop("revocation", None)
    if not writes:
        return None
    write = next(iter(writes.values()))
    write["revocation"] = revocation
    return write


# -- indexer -----------------------------------------------------------------------------------


async def get_cursor(
    conn: Conn, chain_id: int, name: str, *, for_update: bool = False
) -> tuple[int, str | None] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT block_number, block_hash FROM chain_cursors WHERE chain_id = $1 AND name = $2{lock}",  # noqa: S608
        chain_id,
        name,
    )
    return (int(row["block_number"]), row["block_hash"]) if row is not None else None


async def set_cursor(conn: Conn, chain_id: int, name: str, block_number: int, block_hash: str | None) -> None:
    await conn.execute(
        """INSERT INTO chain_cursors (chain_id, name, block_number, block_hash, updated_at)
           VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (chain_id, name) DO UPDATE SET block_number = EXCLUDED.block_number,
               block_hash = EXCLUDED.block_hash, updated_at = now()""",
        chain_id,
        name,
        block_number,
        block_hash,
    )


async def add_checkpoints(conn: Conn, chain_id: int, name: str, blocks: list[tuple[int, str]]) -> None:
    await conn.executemany(
        """INSERT INTO chain_blocks (chain_id, name, block_number, block_hash) VALUES ($1, $2, $3, $4)
           ON CONFLICT (chain_id, name, block_number) DO UPDATE SET block_hash = EXCLUDED.block_hash""",
        [(chain_id, name, number, block_hash) for number, block_hash in blocks],
    )


async def checkpoints(conn: Conn, chain_id: int, name: str, at_most: int) -> list[tuple[int, str]]:
    """Recorded (block, hash) pairs at or below ``at_most``, newest first."""
    rows = await conn.fetch(
        """SELECT block_number, block_hash FROM chain_blocks
           WHERE chain_id = $1 AND name = $2 AND block_number <= $3 ORDER BY block_number DESC""",
        chain_id,
        name,
        at_most,
    )
    return [(int(r["block_number"]), r["block_hash"]) for r in rows]


async def prune_checkpoints(conn: Conn, chain_id: int, name: str, keep: int) -> None:
    await conn.execute(
        """DELETE FROM chain_blocks WHERE chain_id = $1 AND name = $2 AND block_number < (
               SELECT min(block_number) FROM (SELECT block_number FROM chain_blocks
                   WHERE chain_id = $1 AND name = $2 ORDER BY block_number DESC LIMIT $3) AS kept)""",
        chain_id,
        name,
        keep,
    )


async def insert_transfer(conn: Conn, row: dict[str, Any]) -> bool:
    """Record an applied transfer; False when this log was recorded before (nothing to apply)."""
    inserted = await conn.fetchval(
        """INSERT INTO chain_transfers (chain_id, name, tx_hash, log_index, block_number, block_hash, token_id,
               from_address, to_address, amount, from_investor_id, to_investor_id, applied, settled_check_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (chain_id, tx_hash, log_index) DO NOTHING RETURNING true""",
        row["chain_id"], row["name"], row["tx_hash"], row["log_index"], row["block_number"], row["block_hash"],
        row["token_id"], row["from_address"], row["to_address"], row["amount"], row["from_investor_id"],
        row["to_investor_id"], row["applied"], row["settled_check_id"],
    )  # fmt: skip
    return bool(inserted)


async def mark_transfer(
    conn: Conn, chain_id: int, tx_hash: str, log_index: int, applied: bool, settled_check_id: UUID | None
) -> None:
    await conn.execute(
        """UPDATE chain_transfers SET applied = $4, settled_check_id = $5
           WHERE chain_id = $1 AND tx_hash = $2 AND log_index = $3""",
        chain_id,
        tx_hash,
        log_index,
        applied,
        settled_check_id,
    )


async def transfers_after(conn: Conn, chain_id: int, name: str, block_number: int) -> list[dict[str, Any]]:
    """Applied transfers above ``block_number``, newest first (the order to undo them in)."""
    rows = await conn.fetch(
        """SELECT * FROM chain_transfers WHERE chain_id = $1 AND name = $2 AND block_number > $3
           ORDER BY block_number DESC, log_index DESC""",
        chain_id,
        name,
        block_number,
    )
    return [dict(r) for r in rows]


async def forget_after(conn: Conn, chain_id: int, name: str, block_number: int) -> None:
    await conn.execute(
        "DELETE FROM chain_transfers WHERE chain_id = $1 AND name = $2 AND block_number > $3",
        chain_id,
        name,
        block_number,
    )
    await conn.execute(
        "DELETE FROM chain_blocks WHERE chain_id = $1 AND name = $2 AND block_number > $3",
        chain_id,
        name,
        block_number,
    )


async def investors_of(conn: Conn, addresses: list[str]) -> dict[str, UUID]:
    rows = await conn.fetch("SELECT address, investor_id FROM wallets WHERE address = ANY($1::text[])", addresses)
    return {r["address"]: r["investor_id"] for r in rows}


async def followed_tokens(conn: Conn) -> dict[str, UUID]:
    """Contract address → token id of every token with a contract address."""
    rows = await conn.fetch("SELECT id, contract_address FROM tokens WHERE contract_address IS NOT NULL")
    return {r["contract_address"]: r["id"] for r in rows}


async def match_reservation(conn: Conn, token_id: UUID, from_address: str, to_address: str, amount: int) -> UUID | None:
    """The oldest active reservation of an approval for exactly this transfer, locked."""
    check_id: UUID | None = await conn.fetchval(
        """SELECT r.check_id FROM reservations r JOIN transfer_compliance_checks c ON c.id = r.check_id
           WHERE r.token_id = $1 AND r.status = 'active' AND r.amount = $4
             AND c.from_address = $2 AND c.to_address = $3
           ORDER BY r.created_at, r.check_id LIMIT 1 FOR UPDATE OF r""",
        token_id,
        from_address,
        to_address,
        amount,
    )
    return check_id


async def reopen_settlement(conn: Conn, check_id: UUID) -> None:
    """Undo a settlement a reorg removed: the reservation holds again, the check awaits settlement."""
    await conn.execute("UPDATE reservations SET status = 'active', released_at = NULL WHERE check_id = $1", check_id)
    await conn.execute(
        """UPDATE transfer_compliance_checks SET settlement_status = 'pending', tx_hash = NULL, settled_at = NULL
           WHERE id = $1""",
        check_id,
    )


async def enqueue_reviewed_approval(conn: Conn, check_id: UUID, now: datetime) -> bool:
    """Queue the oracle write of a check approved on review (its decision time is long past the
    writer's scan, which only looks at newly decided checks). False: nothing to write on chain."""
    inserted = await conn.fetchval(
        """INSERT INTO oracle_writes (check_id, check_created_at, kind, token_id, token_address, from_address,
               to_address, amount, restriction_code, expires_at, next_attempt_at)
           SELECT c.id, c.created_at, 'approval', c.token_id, t.contract_address, c.from_address, c.to_address,
                  c.amount, 0, c.expires_at, $2
           FROM transfer_compliance_checks c JOIN tokens t ON t.id = c.token_id
           WHERE c.id = $1 AND c.status = 'APPROVED' AND t.contract_address IS NOT NULL
             AND c.from_address ~ '^0x[0-9a-f]{40}$' AND c.to_address ~ '^0x[0-9a-f]{40}$'
           ON CONFLICT (check_id, kind) DO NOTHING
           RETURNING true""",
        check_id,
        now,
    )
    return bool(inserted)
