"""Importing sanctions lists as versions, and refreshing them from their publishers.

An import parses the whole file set first (a malformed file is refused before anything is
written), then in ONE transaction, holding the source's advisory lock: supersedes the source's
active version, inserts the new version with its entities and addresses (``COPY``) and the audit
entry. Content identical to the active version is not imported again (``unchanged``). After the
commit every process reloads its address set and name index (the version row notifies
``cs_refdata``), and investors are re-screened against the new versions.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import structlog

from compliance_shield.adapters.sanctions import FORMATS, parse_list
from compliance_shield.adapters.sanctions.download import ListSource, Progress, fetch
from compliance_shield.db import audit
from compliance_shield.db import lists as repo
from compliance_shield.domain.screening import ParsedList, version_label
from compliance_shield.errors import ValidationFailed
from compliance_shield.observability.metrics import LIST_IMPORTS
from compliance_shield.services.reference.snapshot import Snapshot
from compliance_shield.services.screening.screening import ScreeningService

log = structlog.get_logger(__name__)

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ImportResult:
    source: str
    label: str
    status: str  # "imported" or "unchanged"
    format: str
    published_on: date | None
    entity_count: int
    name_count: int
    address_count: int
    previous: str | None = None
    rescreened: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def content_hash(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the files in name order (name, NUL, length, content)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + str(len(files[name])).encode() + b"\0")
        digest.update(files[name])
    return "sha256:" + digest.hexdigest()


class ListService:
    def __init__(
        self, pool: asyncpg.Pool, screening: ScreeningService | None = None, snapshot: Snapshot | None = None
    ) -> None:
        self._pool = pool
        self._screening = screening
        self._snapshot = snapshot

    async def import_files(
        self,
        source: str,
        files: Mapping[str, bytes],
        *,
        actor: str,
        list_format: str | None = None,
        published_on: date | None = None,
        origin: str | None = None,
        rescreen: bool = True,
    ) -> ImportResult:
        """Parse ``files`` and store them as a new version of ``source`` (see the module docstring)."""
        if not SOURCE_NAME.match(source):
            raise ValidationFailed("a source name is 1-64 lower-case letters, digits, '.', '_' or '-'", field="source")
        if list_format is not None and list_format not in FORMATS:
            raise ValidationFailed(f"format must be one of {', '.join(FORMATS)}", field="format")
        try:
            parsed = await asyncio.to_thread(parse_list, source, files, list_format)
        except ValidationFailed:
            LIST_IMPORTS.labels(source, "invalid").inc()
            raise
        if published_on is not None:
            parsed = parsed.model_copy(update={"published_on": published_on})
        digest = content_hash(files)
        result = await self._store(parsed, digest, origin, actor)
        LIST_IMPORTS.labels(source, result.status).inc()
        if result.status == "imported":
            log.info("lists.imported", source=source, label=result.label, entities=result.entity_count,
                     addresses=result.address_count, previous=result.previous)  # fmt: skip
            await self._after_change()
            if rescreen and self._screening is not None:
                result = replace(result, rescreened=await self._rescreen())
        return result

    async def _store(self, parsed: ParsedList, digest: str, origin: str | None, actor: str) -> ImportResult:
        counts = (len(parsed.entities), parsed.name_count, len(parsed.addresses))
        async with self._pool.acquire() as conn, conn.transaction():
            await repo.lock_source(conn, parsed.source)
            active = await repo.active_version(conn, parsed.source)
            if active is not None and active["content_hash"] == digest:
                return ImportResult(
                    parsed.source, active["label"], "unchanged", active["format"], active["published_on"],
                    active["entity_count"], active["name_count"], active["address_count"], previous=active["label"],
                )  # fmt: skip
            now = datetime.now(UTC)
            label = version_label(parsed.source, parsed.published_on, now.date(), digest)
            if await conn.fetchval("SELECT 1 FROM sanctions_list_versions WHERE label = $1", label):
                label = f"{label}.{now.strftime('%H%M%S')}"  # the same content imported again after another
            await repo.lock_versions(conn, shared=False)
            previous = await repo.supersede(conn, parsed.source)
            row = await repo.insert_version(
                conn, source=parsed.source, label=label, list_format=parsed.format, published_on=parsed.published_on,
                content_hash=digest, counts=counts, origin=origin, actor=actor,
            )  # fmt: skip
            await repo.copy_entities(conn, row["id"], parsed.entities)
            await repo.copy_addresses(conn, row["id"], parsed.addresses)
            await audit.append(conn, [audit.AuditEntry(
                now, actor, "sanctions.list_imported", "sanctions_list", parsed.source,
                {"label": label, "format": parsed.format, "content_hash": digest, "previous": previous,
                 "published_on": parsed.published_on.isoformat() if parsed.published_on else None,
                 "entities": counts[0], "names": counts[1], "addresses": counts[2], "origin": origin},
            )])  # fmt: skip
        return ImportResult(parsed.source, label, "imported", parsed.format, parsed.published_on, *counts, previous)

    async def _after_change(self) -> None:
        """Apply the new versions in this process at once (others follow the notification)."""
        if self._snapshot is not None:
            async with self._pool.acquire() as conn:
                await self._snapshot.reload(conn, "sanctions_list_versions", "*")
        if self._screening is not None:
            await self._screening.reload_index()

    async def _rescreen(self) -> int:
        """Re-screen investors against the new versions; -1 when that failed (the version stands,
        and every server process sweeps again when it sees the version change or restarts)."""
        assert self._screening is not None
        try:
            return await self._screening.rescreen_due()
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("lists.rescreen_failed", error=repr(exc))
            return -1

    async def versions(self, source: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            return [repo.version_out(r) for r in await repo.versions(conn, source, limit)]

    async def update(
        self,
        sources: list[ListSource],
        client: httpx.AsyncClient,
        *,
        actor: str,
        progress: Progress | None = None,
    ) -> list[ImportResult]:
        """Download each source's files and import them; one source failing stops the update."""
        results = []
        for source in sources:
            files: dict[str, bytes] = {}
            for url in source.urls:
                name, data = await fetch(client, url, progress)
                files[name] = data
            results.append(
                await self.import_files(
                    source.name,
                    files,
                    actor=actor,
                    list_format=source.format,
                    origin=", ".join(source.urls),
                    rescreen=False,
                )
            )
        if self._screening is not None and any(r.status == "imported" for r in results):
            count = await self._rescreen()
            results = [replace(r, rescreened=count) if r.status == "imported" else r for r in results]
        return results
