"""The image's install steps, run outside a container: the Dockerfile's own commands, then the result served.

No container engine runs here, so the RUN lines that install Python packages are taken from the
Dockerfile (build stage: wheels of the project and its dependencies; runtime stage: a fresh
virtual environment from those wheels only) and run with bash, their image paths mapped into a
temporary folder. The installed ``compliance-shield`` then serves on the test database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dockerfile_parse import DockerfileParser

from compliance_shield import __version__

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _install_steps() -> list[str]:
    """The RUN lines that build and install the wheels: all of the build stage, the runtime's pip ones."""
    steps: list[str] = []
    stage = ""
    for instruction in DockerfileParser(path=str(ROOT / "Dockerfile")).structure:
        if instruction["instruction"] == "FROM":
            stage = instruction["value"].split()[-1]
        elif instruction["instruction"] == "RUN" and (stage == "build" or "pip install" in instruction["value"]):
            steps.append(instruction["value"])
    return steps


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bin folder of a virtual environment made by the Dockerfile's install steps."""
    where = tmp_path_factory.mktemp("image")
    shims = where / "shims"
    shims.mkdir()
    # `python` in the Dockerfile is the base image's interpreter: here, the one running the tests
    (shims / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    steps = _install_steps()
    assert len(steps) == 2, steps
    for step in steps:
        command = step.replace("/wheels", str(where / "wheels")).replace("/opt/venv", str(where / "venv"))
        subprocess.run(["bash", "-euc", command], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603,S607
    yield where / "venv" / "bin"
    shutil.rmtree(where, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_installed_command_prints_the_release_version(installed: Path) -> None:
    out = subprocess.run([installed / "compliance-shield", "version"], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == __version__


def test_the_installed_package_migrates_and_serves_ready(installed: Path, new_database: object) -> None:
    url = new_database()  # type: ignore[operator]
    port = _free_port()
    env = {
        "PATH": f"{installed}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - as in the image
        "APP_ENV": "production",
        "DATABASE_URL": url,
        "JWT_SECRET": "an-image-test-secret-of-at-least-32-characters",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # the migration Job's command, then the image's default command
    migrated = subprocess.run(["compliance-shield", "migrate"], env=env, capture_output=True, text=True, check=False)  # noqa: S607
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    # production screens names fail-closed: it is ready only once a list of names is loaded
    un_list = Path(__file__).resolve().parents[1] / "fixtures" / "sanctions" / "un" / "UN_consolidated.xml"
    imported = subprocess.run(  # noqa: S603
        ["compliance-shield", "lists", "import", str(un_list), "--source", "un"],  # noqa: S607
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    server = subprocess.Popen(["compliance-shield", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # noqa: S607
    try:
        ready = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None, server.stdout.read() if server.stdout and server.poll() is not None else "no answer"
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["migrations"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json() == {"status": "ok"}
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # SIGTERM (the orchestrators' stop signal) ends it cleanly: requests finish, the lifespan closes
    # the writer and the pool (uvicorn may re-raise the signal afterwards, hence either status)
    assert server.returncode in (0, -signal.SIGTERM), output
    assert b"Application shutdown complete" in output, output
