"""A decision's facts and rule trace are stored as ``json``, not ``jsonb``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Both documents are written once per decision and read back whole (the API, replay, the audit
trail); nothing queries inside them. ``jsonb`` input converts the ~7 KB facts and ~3.5 KB trace
to its binary form on every insert: 120 µs of database CPU per decision against 58 µs for
``json``, which only validates the text (measured on this machine, 64-row inserts, both stored
out of line uncompressed), and takes ~25 % less space. ``json`` also keeps the facts exactly as
hashed into ``facts_sha256``. The storage settings of migration 0008 are applied again (a type
change resets them). Existing partitions are rewritten: on a large table, run this in a
maintenance window.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_STORAGE = """
        DO $$
        BEGIN
            ALTER TABLE transfer_compliance_checks
                ALTER COLUMN facts SET COMPRESSION lz4,
                ALTER COLUMN rules SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported THEN
            ALTER TABLE transfer_compliance_checks
                ALTER COLUMN facts SET STORAGE EXTERNAL,
                ALTER COLUMN rules SET STORAGE EXTERNAL;
        END
        $$;
"""


def upgrade() -> None:
    _sql(
        """
        ALTER TABLE transfer_compliance_checks
            ALTER COLUMN facts TYPE json USING facts::json,
            ALTER COLUMN rules TYPE json USING rules::json;
        """
        + _STORAGE
    )


def downgrade() -> None:
    _sql(
        """
        ALTER TABLE transfer_compliance_checks
            ALTER COLUMN facts TYPE jsonb USING facts::jsonb,
            ALTER COLUMN rules TYPE jsonb USING rules::jsonb;
        """
        + _STORAGE
    )
