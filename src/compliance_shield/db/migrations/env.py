"""Alembic environment: run by ``compliance_shield.db.migrate``, which builds the config in code.

There is no ``alembic.ini`` and no ORM metadata (revisions are hand-written SQL, so there is no
autogenerate). Online runs hold a PostgreSQL advisory lock for the whole upgrade, so replicas or
a migration Job started together migrate one at a time; the others then find the schema current.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

#: ``'cs-migra'`` as a big-endian integer; see also the locks in ``audit`` and the partitions SQL
MIGRATION_LOCK_KEY = 0x63732D6D69677261


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set; run migrations through compliance_shield.db.migrate")
    return url


def run_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade --sql``), for review by a DBA."""
    context.configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
