"""``token_state`` changes are no longer notified.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Every version bump sent ``NOTIFY cs_token_state``, which nothing listens to: processes catch their
ledgers up under the token locks from ``ledger_changes``. A transaction that notifies takes the
database's notification lock at commit and holds it until the commit is flushed, so every
writer's commit waited for the previous one's, and every listening connection was woken to skip
the messages.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        DROP TRIGGER token_state_notify ON token_state;
        DROP FUNCTION notify_token_state();
        """
    )


def downgrade() -> None:
    _sql(
        """
        CREATE FUNCTION notify_token_state() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('cs_token_state', NEW.token_id::text || ':' || NEW.version);
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER token_state_notify AFTER INSERT OR UPDATE ON token_state
            FOR EACH ROW EXECUTE FUNCTION notify_token_state();
        """
    )
