"""Driving the load of the transfer-check benchmarks and recording what the decisions say.

``Driver`` picks requests from ``bench.plans.Plans`` (a repeat resends a request already
answered, with its key), keeps the bodies of the first ``BASELINE_BODIES`` (the baseline is sent
the same) and checks each decision against what its kind must get. ``measure`` runs one bench:
it reads the data set (from the database when the bench seeded it, else through the API), warms
up, measures, and counts what was stored.
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

import orjson

from bench import plans
from bench._harness import Connection, Service, Tally, client, connections, err, run_load, timed_post
from bench.accounting import count_data_set, count_stored, cpu_cores, cpu_now, server_metrics

CHECK_PATH = "/v1/compliance/transfer-check"
#: request bodies kept for the baseline
BASELINE_BODIES = 8192
#: answered fresh requests kept for repeats to resend
REPEATABLE = 20_000


@dataclass
class CheckTally(Tally):
    outcomes: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[tuple[str, str]] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    repeats: int = 0
    repeat_mismatches: int = 0


class Pick(NamedTuple):
    kind: str
    key: str
    body: bytes
    #: the decision id a repeat must get back (None for a fresh request)
    original: str | None


class Driver:
    """Picks the requests and records what each decision says about the service."""

    def __init__(self, source: plans.Plans, rng: random.Random, path: str = CHECK_PATH) -> None:
        self.source = source
        self.rng = rng
        #: where checks are sent (with ``?view=summary`` for the answers without their trace)
        self.path = path
        self.prefix = f"bench-{uuid.uuid4().hex[:12]}"
        self.next = 0
        #: the first fresh bodies sent: the baseline is sent the same
        self.bodies: list[bytes] = []
        #: (key, body, id) of answered fresh requests: what repeats resend
        self.answered: list[tuple[str, bytes, str]] = []
        self.ids: set[str] = set()

    def pick(self) -> Pick:
        plan = self.source.next()
        self.next += 1
        if plan.body is None:
            if self.answered:
                key, body, original = self.answered[self.rng.randrange(len(self.answered))]
                return Pick("repeat", key, body, original)
            while plan.body is None:
                plan = self.source.next()
        if len(self.bodies) < BASELINE_BODIES:
            self.bodies.append(plan.body)
        return Pick(plan.kind, f"{self.prefix}-{self.next}", plan.body, None)

    def record(self, tally: CheckTally, pick: Pick, decision: dict[str, Any]) -> None:
        check_id, status = decision["id"], decision["status"]
        self.ids.add(check_id)
        if pick.original is not None:
            tally.repeats += 1
            tally.repeat_mismatches += check_id != pick.original
            return
        if len(self.answered) < REPEATABLE:
            self.answered.append((pick.key, pick.body, check_id))
        codes = [r["code"] for r in decision["reasons"]]
        tally.outcomes[status] += 1
        tally.by_kind[(pick.kind, status + (f" ({codes[0]})" if codes else ""))] += 1
        expected = plans.EXPECTED.get(pick.kind)
        if expected is not None and (status not in expected[0] or expected[1] not in codes):
            tally.unexpected[pick.kind] += 1

    async def send(self, conn: Connection, tally: CheckTally) -> None:
        pick = self.pick()
        content = await timed_post(conn, self.path, pick.body, {"Idempotency-Key": pick.key}, tally)
        if content is not None:
            self.record(tally, pick, orjson.loads(content))


T = TypeVar("T", bound=CheckTally)


@dataclass
class Measured(Generic[T]):
    """One run: the warm-up and measured tallies and what the service did meanwhile."""

    tokens: list[plans.TradedToken]
    driver: Driver
    warmup: T
    tally: T
    elapsed: float
    cpu_cores: dict[str, float]
    server_metrics: dict[str, float]
    #: (rows added, answered ids found) when the database was read
    stored: tuple[int, int] | None
    #: rows of each table of the data set, when the database was read
    data_set: dict[str, int] | None


async def measure(
    service: Service,
    args: argparse.Namespace,
    new_tally: Callable[[], T],
    sender: Callable[[Driver], Callable[[Connection, T], Awaitable[None]]],
    *,
    warmup: int,
    requests: int | None = None,
) -> Measured[T]:
    """Load the data set, warm up with ``warmup`` requests, measure, then count what was stored."""
    async with AsyncExitStack() as stack:
        setup = await stack.enter_async_context(client(service, 16))
        err.print("reading the traded tokens and their holders ...")
        if service.database_url:
            tokens = await plans.from_database(service.database_url)
            data_set: dict[str, int] | None = await count_data_set(service.database_url)
        else:
            tokens, data_set = await plans.from_api(setup), None
        rng = random.Random(args.seed)
        driver = Driver(plans.Plans(tokens, rng), rng, f"{CHECK_PATH}?view={getattr(args, 'view', 'full')}")
        send = sender(driver)
        conns = await stack.enter_async_context(connections(service, args.concurrency))
        stored_before = await count_stored(service.database_url) if service.database_url else None
        warm = new_tally()
        err.print(f"warming up ({warmup} requests), then measuring ...")
        await run_load(conns, send, warm, seconds=None, requests=warmup)
        tally = new_tally()
        before = cpu_now(service)
        elapsed = await run_load(
            conns, send, tally, seconds=args.seconds, requests=requests, rate=getattr(args, "rate", None)
        )
        cores = cpu_cores(before, cpu_now(service), elapsed)
        metrics = await server_metrics(setup)
    stored = None
    if service.database_url and stored_before is not None:
        added = await count_stored(service.database_url) - stored_before
        stored = (added, await count_stored(service.database_url, driver.ids))
    return Measured(tokens, driver, warm, tally, elapsed, cores, metrics, stored, data_set)


# -- the report ------------------------------------------------------------------------------
