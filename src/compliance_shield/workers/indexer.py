"""``compliance-shield worker indexer``: token ``Transfer`` events → holdings and settlements.

Runs ``services.indexer.ChainIndexer`` passes every ``INDEXER_POLL_SECONDS``, reading only
blocks at least ``INDEXER_CONFIRMATIONS`` deep, from its persisted cursor. A failed pass (node
or database unreachable) is logged and retried from the cursor; each batch of blocks is applied
in one transaction, so a crash never leaves half a batch behind.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from compliance_shield.adapters.chain.client import ChainError
from compliance_shield.services.chain.indexer import ChainIndexer, IndexerConfig
from compliance_shield.settings import Settings
from compliance_shield.workers.chain import chain_resources, sleep_or_stop, stop_on_signals

log = structlog.get_logger(__name__)


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (SIGINT/SIGTERM when not given)."""
    stop = stop or stop_on_signals()
    async with chain_resources(settings) as (pool, client, chain_id):
        indexer = ChainIndexer(
            pool,
            client,
            IndexerConfig(
                chain_id=chain_id,
                confirmations=settings.indexer_confirmations,
                batch_blocks=settings.indexer_batch_blocks,
                start_block=settings.indexer_start_block,
            ),
        )
        log.info("indexer.started", chain_id=chain_id, confirmations=settings.indexer_confirmations)
        while not stop.is_set():
            try:
                result = await indexer.run_pass()
                if result.transfers or result.reverted:
                    log.info(
                        "indexer.pass",
                        cursor=result.cursor,
                        transfers=result.transfers,
                        settled=result.settled,
                        reverted=result.reverted,
                        unapplied=result.unapplied,
                    )
            except (*ChainError, asyncpg.PostgresError, asyncpg.InterfaceError, RuntimeError) as exc:
                log.warning("indexer.pass_failed", error=repr(exc))
            await sleep_or_stop(stop, settings.indexer_poll_seconds)
