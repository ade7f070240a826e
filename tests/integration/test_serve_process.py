"""``compliance-shield serve`` on its embedded default, as a newcomer runs it: it starts its own
PostgreSQL, prints no warnings about its runtime directory, and leaves nothing running when stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.integration

CLI = Path(sys.executable).parent / "compliance-shield"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # a short path: the embedded server's unix socket lives in it (socket paths are limited to ~107 bytes)
    folder = Path(tempfile.mkdtemp(prefix="cs-serve-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _postmasters(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if any(str(pgdata) in part for part in cmdline):
            found.append(process)
    return found


def test_serve_stops_its_embedded_postgres_and_prints_no_runtime_dir_warning(data_dir: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR", "APP_ENV")}
    env |= {"DATA_DIR": str(data_dir), "PORT": str(port), "NODE_ENV": "development", "LOG_LEVEL": "info"}
    server = subprocess.Popen(  # noqa: S603 (our own CLI)
        [str(CLI), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.3)
        pgdata = (data_dir / "postgres").resolve()
        assert _postmasters(pgdata), "the embedded PostgreSQL should be running while serve runs"
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert "RuntimeDirWarning" not in err + out
    deadline = time.monotonic() + 20
    while _postmasters(pgdata) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _postmasters(pgdata) == [], "the embedded PostgreSQL outlived serve"
