"""Wiring shared by the chain workers: the node connection, its chain id, the database pool."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from compliance_shield.adapters.chain.client import ChainClient
from compliance_shield.bootstrap import create_pool, database_url
from compliance_shield.settings import Settings
from compliance_shield.workers import on_stop_signals


class ChainMismatch(RuntimeError):
    """The node serves another chain than CHAIN_ID names."""


async def verified_chain_id(client: ChainClient, expected: int | None) -> int:
    """The node's chain id; refuses a node on another chain than ``expected`` (when set)."""
    actual = await client.chain_id()
    if expected is not None and actual != expected:
        raise ChainMismatch(f"BESU_RPC_URL serves chain {actual}, but CHAIN_ID is {expected}")
    return actual


@contextlib.asynccontextmanager
async def chain_resources(settings: Settings) -> AsyncIterator[tuple[asyncpg.Pool, ChainClient, int]]:
    """Pool, node client and verified chain id; all released on exit."""
    if not settings.besu_rpc_url:
        raise ValueError("BESU_RPC_URL is not set")
    url, _ = await asyncio.to_thread(database_url, settings)
    pool = await create_pool(url, 4)
    client = ChainClient(settings.besu_rpc_url)
    try:
        yield pool, client, await verified_chain_id(client, settings.chain_id)
    finally:
        await client.close()
        await pool.close()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT/SIGTERM, so a worker finishes its pass and exits cleanly."""
    stop = asyncio.Event()
    on_stop_signals(stop.set)
    return stop


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
