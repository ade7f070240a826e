"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Hand-written SQL: every statement is reviewed as it will run. ``_sql`` sends the text verbatim,
so ``%`` and ``:name`` inside PL/pgSQL bodies are not mistaken for bind parameters.
"""

from __future__ import annotations

from compliance_shield.db.migration_sql import run_sql as _sql

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | tuple[str, ...] | None = ${repr(branch_labels)}
depends_on: str | tuple[str, ...] | None = ${repr(depends_on)}


def upgrade() -> None:
    _sql(
        """
        """
    )


def downgrade() -> None:
    _sql(
        """
        """
    )
