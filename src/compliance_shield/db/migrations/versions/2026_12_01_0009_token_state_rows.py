"""Every token has its ``token_state`` row from the moment it is created.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Writers lock the state rows of a batch's tokens in one sorted statement. A row created on a
token's first check — inside the writer's transaction, after the existing rows were locked —
took locks out of that order, and two processes deciding the first checks of new tokens could
deadlock (one batch then failed with 503). A trigger now creates the row with the token (seed
loads included), and existing tokens get theirs here.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        CREATE FUNCTION create_token_state() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO token_state (token_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$;
        CREATE TRIGGER tokens_create_state AFTER INSERT ON tokens
            FOR EACH ROW EXECUTE FUNCTION create_token_state();
        INSERT INTO token_state (token_id) SELECT id FROM tokens ON CONFLICT DO NOTHING;
        """
    )


def downgrade() -> None:
    _sql(
        """
        DROP TRIGGER tokens_create_state ON tokens;
        DROP FUNCTION create_token_state();
        """
    )
