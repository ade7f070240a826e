"""``compliance-shield worker oracle``: decisions (and cancellations) → ComplianceOracle transactions.

Runs ``services.oracle.OracleWriter`` passes every ``ORACLE_POLL_SECONDS`` (at once again when
a pass had work). One writer per account sends at a time: the worker holds a PostgreSQL
advisory lock derived from its address, so a second replica waits as a hot standby. A pass that
fails (node or database unreachable) is logged and retried; nothing is lost, the state is in
``oracle_writes``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib

import asyncpg
import structlog

from compliance_shield.adapters.chain.client import ChainError
from compliance_shield.adapters.chain.transactions import GasPolicy, TxSender
from compliance_shield.observability.metrics import ORACLE_WRITES
from compliance_shield.services.chain.oracle import OracleWriter, WriterConfig
from compliance_shield.settings import Settings
from compliance_shield.workers.chain import chain_resources, sleep_or_stop, stop_on_signals

log = structlog.get_logger(__name__)


def lock_key(address: str) -> int:
    """The advisory-lock key of a sending account (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(f"oracle-writer:{address.lower()}".encode()).digest()[:8], "big", signed=True)


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (SIGINT/SIGTERM when not given)."""
    if not settings.enable_oracle:
        raise ValueError("the oracle writer needs ENABLE_ORACLE=true")
    assert settings.oracle_private_key is not None  # both guaranteed by Settings when ENABLE_ORACLE is set
    assert settings.oracle_address is not None
    stop = stop or stop_on_signals()
    async with chain_resources(settings) as (pool, client, chain_id):
        policy = GasPolicy(settings.blockchain_type, settings.oracle_gas_price_wei, settings.oracle_max_fee_wei)
        sender = TxSender(client, settings.oracle_private_key.get_secret_value(), chain_id, policy)
        writer = OracleWriter(
            pool,
            client,
            sender,
            WriterConfig(
                oracle_address=settings.oracle_address.lower(),
                confirmations=settings.oracle_confirmations,
                max_attempts=settings.oracle_max_attempts,
                record_restrictions=settings.oracle_record_restrictions,
            ),
        )
        async with pool.acquire() as lock_conn:
            key = lock_key(sender.address)
            while not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                log.info("oracle.standby", account=sender.address)
                await sleep_or_stop(stop, settings.oracle_poll_seconds * 5)
                if stop.is_set():
                    return
            try:
                log.info("oracle.started", account=sender.address, chain_id=chain_id, oracle=settings.oracle_address)
                await sender.resync()
                while not stop.is_set():
                    busy = False
                    try:
                        result = await writer.run_pass()
                        for outcome, count in dataclasses.asdict(result).items():
                            ORACLE_WRITES.labels(outcome).inc(count)
                        busy = result.submitted + result.queued > 0
                        if busy or result.confirmed or result.failed or result.cancelled:
                            log.info("oracle.pass", **dataclasses.asdict(result))
                    except (*ChainError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        log.warning("oracle.pass_failed", error=repr(exc))
                    if not busy:
                        await sleep_or_stop(stop, settings.oracle_poll_seconds)
            finally:
                await lock_conn.execute("SELECT pg_advisory_unlock($1)", key)
