"""Fixtures for tests against a real PostgreSQL.

One server per test run: the server named by ``DATABASE_URL`` when it is set, otherwise the
embedded one (pgserver) in a temporary directory. The run works in fresh databases named
``cs_test_<random>`` that it drops at the end; ``database_url`` is one of them, built by the
migrations.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psycopg
import pytest
from chain_fixtures import anvil_url, chain, chain_api, chain_settings, deployment  # noqa: F401 (anvil fixtures)
from fastapi import FastAPI
from kafka_fixtures import kafka_broker, kafka_brokers  # noqa: F401 (tansu broker fixtures)
from psycopg import sql

from compliance_shield.api.app import create_app
from compliance_shield.api.auth import issue_token
from compliance_shield.bootstrap import Container, build_container
from compliance_shield.db import migrate
from compliance_shield.settings import AppEnv, Settings


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a maintenance database on the test server (used to create the test databases)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    # pgserver resolves its runtime dir on import and warns (an error here) when
    # XDG_RUNTIME_DIR is unset; tmp_path_factory directories have the required mode 0700.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("xdg-runtime")))
    import pgserver  # imported only now that XDG_RUNTIME_DIR is set

    # a short path: the unix socket lives in it, and socket paths are limited to ~107 bytes
    pgdata = tempfile.mkdtemp(prefix="cs-pg-")
    server = pgserver.get_server(pgdata, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Factory: create an empty database ``cs_test_<random>`` and return its URL.

    Every database it created is dropped when the run ends.
    """
    created: list[str] = []

    def create() -> str:
        name = f"cs_test_{secrets.token_hex(6)}"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))

    yield create
    with psycopg.connect(server_url, autocommit=True) as admin:
        for name in created:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def database_url(new_database: Callable[[], str]) -> str:
    """A database migrated to head, shared by the run: tests isolate their own rows."""
    url = new_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def tx_conn(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """``conn`` inside a transaction that is rolled back at the end: the test leaves nothing behind."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield conn
    finally:
        await transaction.rollback()


# -- the service, wired as in production, on the test database ----------------------------------

TEST_SECRET = "test-secret-for-the-integration-suite-0123456789"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(app_env=AppEnv.TEST, jwt_secret=TEST_SECRET, database_url=database_url)


@pytest.fixture(scope="session")
async def container(settings: Settings, database_url: str) -> AsyncIterator[Container]:
    built = await build_container(settings, url=database_url, migrate=False)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture(scope="session")
def app(settings: Settings, container: Container) -> FastAPI:
    return create_app(settings, container=container)


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


def bearer(settings: Settings, *roles: str, sub: str = "test-user") -> dict[str, str]:
    token = issue_token(settings.jwt_secret_value, sub, roles, 3600, datetime.now(UTC), settings.jwt_issuer)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def admin(settings: Settings) -> dict[str, str]:
    return bearer(settings, "admin", sub="test-admin")


@pytest.fixture(scope="session")
def checker(settings: Settings) -> dict[str, str]:
    return bearer(settings, "checker", sub="test-platform")


# -- Redis: a real server on loopback, one per test run ----------------------------------------


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``redis-server`` (installed by scripts/test from Debian's packages) on a free loopback
    port, without persistence: its URL and its process (tests stop, continue or kill it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run scripts/test (it installs Debian's redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603  (a fixed binary and arguments)
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGCONT)  # a test may have left it stopped
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server: ``REDIS_URL`` when set, otherwise one started here (``redis_server``)."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    with redis_server(tmp_path_factory.mktemp("redis")) as (url, _):
        yield url
