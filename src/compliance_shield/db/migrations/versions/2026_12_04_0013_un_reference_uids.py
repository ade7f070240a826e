"""UN list entries are identified by their reference number (``QDi.001``), not the internal DATAID.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

The UN parser now uses ``REFERENCE_NUMBER`` as an entry's uid (the identity analysts and the UN
committees use); versions imported before kept ``DATAID`` as uid and the reference among the
programmes. Stored list versions are immutable and keep their rows (the name index serves their
entries by the reference, see ``services.screening.served_identity``); officers' dismissals of UN
entries move to the reference here, so a dismissal keeps applying to the same entry in the old
version and in every version imported from now on. Downgrade moves them back.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    # (source, DATAID) → reference number, from every stored UN-format version
    _sql(
        r"""
        UPDATE screening_dismissals d SET entity_uid = r.reference
        FROM (SELECT DISTINCT v.source, e.uid AS dataid, p AS reference
              FROM sanctions_list_versions v
              JOIN sanctions_list_entities e ON e.version_id = v.id
              CROSS JOIN LATERAL unnest(e.programmes) AS p
              WHERE v.format = 'un-xml' AND e.uid ~ '^[0-9]+$' AND p ~ '^[A-Z]{2}[ie]\.[0-9]{3}$') r
        WHERE d.source = r.source AND d.entity_uid = r.dataid;
        """
    )


def downgrade() -> None:
    _sql(
        r"""
        UPDATE screening_dismissals d SET entity_uid = r.dataid
        FROM (SELECT DISTINCT v.source, e.uid AS dataid, p AS reference
              FROM sanctions_list_versions v
              JOIN sanctions_list_entities e ON e.version_id = v.id
              CROSS JOIN LATERAL unnest(e.programmes) AS p
              WHERE v.format = 'un-xml' AND e.uid ~ '^[0-9]+$' AND p ~ '^[A-Z]{2}[ie]\.[0-9]{3}$') r
        WHERE d.source = r.source AND d.entity_uid = r.reference;
        """
    )
