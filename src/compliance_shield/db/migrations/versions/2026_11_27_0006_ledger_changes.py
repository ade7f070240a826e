"""Ledger change log: what each token_state version changed, so other processes catch up cheaply.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Every transaction that bumps ``token_state.version`` may record, under the same version, the
change it made (reservations added, released or settled; a holding replaced). A process whose
in-memory ledger is a few versions behind applies those rows instead of reloading the token's
whole ledger; a version without a row (a writer that records none) makes it reload. Rows are
pruned after an hour by the service's maintenance loop.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        CREATE TABLE ledger_changes (
            token_id uuid NOT NULL,
            version bigint NOT NULL,
            change jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (token_id, version)
        );
        CREATE INDEX ledger_changes_created_at_idx ON ledger_changes (created_at);
        """
    )


def downgrade() -> None:
    _sql("DROP TABLE ledger_changes;")
