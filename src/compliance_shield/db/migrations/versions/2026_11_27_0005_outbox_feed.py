"""Outbox feed: commit-safe cursors and a change notification for new events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

``outbox.txid`` records the inserting transaction (``pg_current_xact_id()``). Outbox ids come
from a sequence and are taken before commit, so a transaction can commit a lower id after a
reader has already seen a higher one; the feed cursor remembers the reader's snapshot and uses
``txid`` to return such late rows on the next read instead of skipping them. Rows written
before this revision keep ``txid`` NULL: they were all committed long ago.

``outbox_notify`` sends ``cs_outbox`` once per inserting statement; PostgreSQL delivers it at
commit, so listeners (the ``/v1/stream`` feed, the relay) wake only for committed events.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        -- nullable first, default second: no table rewrite for existing rows
        ALTER TABLE outbox ADD COLUMN txid xid8;
        ALTER TABLE outbox ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
        CREATE INDEX outbox_txid_idx ON outbox (txid);

        CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('cs_outbox', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
            FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();
        """
    )


def downgrade() -> None:
    _sql(
        """
        DROP TRIGGER outbox_notify ON outbox;
        DROP FUNCTION notify_outbox();
        DROP INDEX outbox_txid_idx;
        ALTER TABLE outbox DROP COLUMN txid;
        """
    )
