"""The one helper every hand-written migration uses to run its SQL."""

from __future__ import annotations

from alembic import context, op


def run_sql(statements: str) -> None:
    """Send ``statements`` verbatim: ``%`` and ``:name`` inside PL/pgSQL bodies are not bind
    parameters (SQLAlchemy's ``op.execute`` would rewrite them). Offline (``--sql``) mode prints."""
    if context.is_offline_mode():
        op.execute(statements)
    else:
        op.get_bind().exec_driver_sql(statements, execution_options={"no_parameters": True})
