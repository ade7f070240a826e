"""Decision documents stored without pglz compression; a partial index for the review queue.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A decision stores its facts (~5 KB of JSON) and rule trace (~4 KB). Values over ~2 KB are
TOASTed, and PostgreSQL's default compression, pglz, cost ~90 µs of database CPU per decision —
most of the database's share of a check. With lz4 (servers built ``--with-lz4``) compression is
~10× cheaper and stays on; without it the two columns are stored out of line uncompressed
(``STORAGE EXTERNAL``: about 2.5× the disk for those columns, no compression CPU). The setting
applies to existing partitions, and ``ensure_check_partitions`` now copies it to the partitions it
creates (``LIKE … INCLUDING STORAGE INCLUDING COMPRESSION``).

The index on (status, created_at) over every decision is replaced by one over the escalated
decisions only — the compliance officers' queue. Approved and rejected decisions, the bulk, are
listed through the (created_at, id) index; one index fewer to maintain on every insert.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


_LIKE = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
_LIKE_WITH_STORAGE = _LIKE + " INCLUDING STORAGE INCLUDING COMPRESSION"


def _partition_like(old: str, new: str) -> str:
    """Redefine ``ensure_check_partitions`` with ``old`` replaced by ``new`` in its LIKE clause."""
    return f"""
        DO $$
        DECLARE
            definition text := pg_get_functiondef('ensure_check_partitions(integer)'::regprocedure);
        BEGIN
            IF position('{old}' IN definition) = 0 THEN
                RAISE EXCEPTION 'ensure_check_partitions has no "{old}" clause to change';
            END IF;
            EXECUTE replace(definition, '{old}', '{new}');
        END
        $$;
        """


def upgrade() -> None:
    _sql(_partition_like(_LIKE, _LIKE_WITH_STORAGE))
    _sql(
        """
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
        DROP INDEX transfer_compliance_checks_status_idx;
        CREATE INDEX transfer_compliance_checks_escalated_idx
            ON transfer_compliance_checks (created_at DESC, id DESC) WHERE status = 'ESCALATED';
        """
    )


def downgrade() -> None:
    _sql(_partition_like(_LIKE_WITH_STORAGE, _LIKE))
    _sql(
        """
        DROP INDEX transfer_compliance_checks_escalated_idx;
        CREATE INDEX transfer_compliance_checks_status_idx
            ON transfer_compliance_checks (status, created_at DESC);
        ALTER TABLE transfer_compliance_checks
            ALTER COLUMN facts SET STORAGE EXTENDED,
            ALTER COLUMN rules SET STORAGE EXTENDED,
            ALTER COLUMN facts SET COMPRESSION default,
            ALTER COLUMN rules SET COMPRESSION default;
        """
    )
