"""The service and its workers as real processes (``compliance-shield serve`` / ``worker …``), for
tests of what an operator sees: ``/metrics``, ``/health`` and the logs of each process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from conftest import TEST_SECRET
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

#: the command of the installed package, beside the interpreter running the tests
CLI = str(Path(sys.executable).with_name("compliance-shield"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def base_env(database_url: str, runtime: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "KAFKA_", "BESU_"))}
    env.update(
        APP_ENV="test", JWT_SECRET=TEST_SECRET, DATABASE_URL=database_url, HOST="127.0.0.1", LOG_LEVEL="INFO",
        XDG_RUNTIME_DIR=str(runtime),
    )  # fmt: skip
    env.update(extra)
    return env


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until_answers(running: Running, path: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"the process exited ({running.process.returncode}):\n{running.logs()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(running.url + path, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{running.url}{path} did not answer 200 within {seconds} s:\n{running.logs()[-4000:]}")


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str], port: int, log: Path, ready_path: str) -> Iterator[Running]:
    """``compliance-shield ARGS`` until the block ends (SIGTERM, then kill); its stdout and stderr go to ``log``."""
    with log.open("wb") as sink:
        process = subprocess.Popen([CLI, *args], env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    running = Running(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_answers(running, ready_path)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scrape(url: str) -> dict[str, list[Sample]]:
    """``GET url/metrics``: the samples of each family, by family name."""
    answer = httpx.get(url + "/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return {family.name: list(family.samples) for family in text_string_to_metric_families(answer.text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())
