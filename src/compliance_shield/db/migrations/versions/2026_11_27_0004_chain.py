"""On-chain oracle writes and the chain indexer's state.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

``oracle_writes``: one row per check that is to be recorded on the ComplianceOracle contract
(an APPROVED check as an approval; a refused one, optionally, as its restriction code). The one
active writer per key (a PostgreSQL advisory lock) moves rows pending → submitted → confirmed,
or back to pending for a retry, or failed; the check's API response shows this status.

``chain_cursors``: the indexer's persisted position per (chain, name): the last block it has
applied and that block's hash, so a restart resumes and a reorg below the cursor is noticed.
``chain_blocks``: the hashes of recently applied blocks (batch ends and blocks with transfers),
so the indexer can find the newest block a reorg left in place.

``chain_transfers``: every ``Transfer`` log the indexer applied, keyed by (chain, tx, log
index), with the block it came from, the investors it moved between and the check it settled,
so that the effects of blocks a reorg removed can be undone exactly.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        CREATE TABLE oracle_writes (
            check_id          uuid PRIMARY KEY,
            check_created_at  timestamptz NOT NULL,
            kind              text NOT NULL CHECK (kind IN ('approval', 'restriction')),
            token_id          uuid NOT NULL,
            token_address     text NOT NULL CHECK (token_address ~ '^0x[0-9a-f]{40}$'),
            from_address      text NOT NULL CHECK (from_address ~ '^0x[0-9a-f]{40}$'),
            to_address        text NOT NULL CHECK (to_address ~ '^0x[0-9a-f]{40}$'),
            amount            numeric(78,0) NOT NULL CHECK (amount >= 0),
            restriction_code  smallint NOT NULL DEFAULT 0 CHECK (restriction_code BETWEEN 0 AND 255),
            expires_at        timestamptz,
            status            text NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'submitted', 'confirmed', 'failed')),
            tx_hash           text CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
            tx_nonce          bigint,
            submitted_at      timestamptz,
            block_number      bigint,
            attempts          integer NOT NULL DEFAULT 0,
            last_error        text,
            next_attempt_at   timestamptz NOT NULL DEFAULT now(),
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now(),
            CHECK (kind <> 'approval' OR expires_at IS NOT NULL),
            CHECK (kind <> 'restriction' OR restriction_code > 0)
        );
        CREATE INDEX oracle_writes_open_idx ON oracle_writes (status, next_attempt_at)
            WHERE status IN ('pending', 'submitted');
        CREATE INDEX oracle_writes_check_created_idx ON oracle_writes (check_created_at);

        CREATE TABLE chain_cursors (
            chain_id      bigint NOT NULL,
            name          text NOT NULL,
            block_number  bigint NOT NULL CHECK (block_number >= -1),
            block_hash    text,
            updated_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (chain_id, name)
        );

        CREATE TABLE chain_blocks (
            chain_id      bigint NOT NULL,
            name          text NOT NULL,
            block_number  bigint NOT NULL CHECK (block_number >= 0),
            block_hash    text NOT NULL CHECK (block_hash ~ '^0x[0-9a-f]{64}$'),
            PRIMARY KEY (chain_id, name, block_number)
        );

        CREATE TABLE chain_transfers (
            chain_id          bigint NOT NULL,
            name              text NOT NULL,
            tx_hash           text NOT NULL CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
            log_index         integer NOT NULL CHECK (log_index >= 0),
            block_number      bigint NOT NULL,
            block_hash        text NOT NULL CHECK (block_hash ~ '^0x[0-9a-f]{64}$'),
            token_id          uuid NOT NULL,
            from_address      text NOT NULL CHECK (from_address ~ '^0x[0-9a-f]{40}$'),
            to_address        text NOT NULL CHECK (to_address ~ '^0x[0-9a-f]{40}$'),
            amount            numeric(78,0) NOT NULL CHECK (amount >= 0),
            from_investor_id  uuid,
            to_investor_id    uuid,
            -- false: the sender's recorded balance was short, holdings were left for reconciliation
            applied           boolean NOT NULL,
            settled_check_id  uuid,
            indexed_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (chain_id, tx_hash, log_index)
        );
        CREATE INDEX chain_transfers_block_idx ON chain_transfers (chain_id, name, block_number);
        """
    )


def downgrade() -> None:
    _sql(
        """
        DROP TABLE chain_transfers;
        DROP TABLE chain_blocks;
        DROP TABLE chain_cursors;
        DROP TABLE oracle_writes;
        """
    )
