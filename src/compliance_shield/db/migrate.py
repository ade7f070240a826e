"""Schema migrations, driven in code so an installed wheel can migrate (no ``alembic.ini``).

The revisions live in the package (``db/migrations/versions``), are date-prefixed and written by
hand in SQL. Alembic runs them synchronously over psycopg 3; any PostgreSQL URL the service
accepts works, including the embedded server's unix-socket form
``postgresql://postgres:@/postgres?host=/path/to/dir``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# ``alembic revision`` with this config names files like 2026_11_27_0002_add_reviews.py
_FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s"


def _sqlalchemy_url(database_url: str) -> str:
    """``database_url`` with the psycopg 3 driver, whatever driver (or none) it named."""
    url = make_url(database_url).set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS_DIR))
    config.set_main_option("file_template", _FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    if database_url is not None:
        # Config is a ConfigParser: '%' (as in a URL-encoded socket path) must be doubled.
        config.set_main_option("sqlalchemy.url", _sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent; concurrent callers are serialized)."""
    command.upgrade(_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the schema down to ``revision`` (``"base"`` drops everything, data included)."""
    command.downgrade(_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    engine = create_engine(_sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision shipped with this build."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration revisions found in {_MIGRATIONS_DIR}")
    return head
