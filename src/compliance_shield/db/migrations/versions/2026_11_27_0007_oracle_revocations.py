"""Oracle revocations: a second write per check, withdrawing a cancelled approval on chain.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

``oracle_writes`` is keyed by (check, kind), so a check whose approval was (or may have been)
written can also carry a ``revocation`` row: the writer sends ``revokeApproval(token, nonce)``
with the approval's nonce, with the same statuses and retries as every other write. An approval
write not yet sent when its check is cancelled ends ``cancelled`` and is never sent.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    _sql(
        """
        ALTER TABLE oracle_writes DROP CONSTRAINT oracle_writes_pkey;
        ALTER TABLE oracle_writes ADD CONSTRAINT oracle_writes_pkey PRIMARY KEY (check_id, kind);
        ALTER TABLE oracle_writes DROP CONSTRAINT oracle_writes_kind_check;
        ALTER TABLE oracle_writes ADD CONSTRAINT oracle_writes_kind_check
            CHECK (kind IN ('approval', 'restriction', 'revocation'));
        ALTER TABLE oracle_writes DROP CONSTRAINT oracle_writes_status_check;
        ALTER TABLE oracle_writes ADD CONSTRAINT oracle_writes_status_check
            CHECK (status IN ('pending', 'submitted', 'confirmed', 'failed', 'cancelled'));
        """
    )


def downgrade() -> None:
    _sql(
        """
        DELETE FROM oracle_writes WHERE kind = 'revocation';
        UPDATE oracle_writes SET status = 'failed', last_error = coalesce(last_error, 'the check was cancelled')
            WHERE status = 'cancelled';
        ALTER TABLE oracle_writes DROP CONSTRAINT oracle_writes_status_check;
        ALTER TABLE oracle_writes ADD CONSTRAINT oracle_writes_status_check
            CHECK (status IN ('pending', 'submitted', 'confirmed', 'failed'));
        ALTER TABLE oracle_writes DROP CONSTRAINT oracle_writes_kind_check;
        ALTER TABLE oracle_writes ADD CONSTRAINT oracle_writes_kind_check
            CHECK (kind IN ('approval', 'restriction'));
        ALTER TABLE oracle_writes DROP CONSTRAINT oracle_writes_pkey;
        ALTER TABLE oracle_writes ADD CONSTRAINT oracle_writes_pkey PRIMARY KEY (check_id);
        """
    )
