"""Use cases for policies: drafts, immutable published versions and shipped templates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from compliance_shield.db import audit
from compliance_shield.db.checks import insert_outbox
from compliance_shield.domain.engine import ENGINE_VERSION
from compliance_shield.domain.policy import CompiledPolicy, compile_policy, load_document_text
from compliance_shield.errors import Conflict, NotFound
from compliance_shield.reference_data import list_templates, load_template
from compliance_shield.services.events.events import outbox_row
from compliance_shield.services.reference.snapshot import Snapshot

_POLICY_COLUMNS = "id, name, title, description, draft, draft_updated_at, current_version, created_at, updated_at"


def document_data(compiled: CompiledPolicy) -> dict[str, Any]:
    data: dict[str, Any] = compiled.document.model_dump(mode="json")
    return data


class PolicyService:
    def __init__(self, pool: asyncpg.Pool, snapshot: Snapshot) -> None:
        self._pool = pool
        self._snapshot = snapshot

    async def save_draft(self, document: Any, actor: str) -> dict[str, Any]:
        """Validate ``document`` (plain data or YAML/JSON text) and store it as the policy's draft.

        A policy is identified by its document ``name``: a new name creates the policy.
        """
        data = load_document_text(document) if isinstance(document, (str, bytes)) else document
        compiled = compile_policy(data)
        doc = document_data(compiled)
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""INSERT INTO policies (id, name, title, description, draft, draft_updated_at,
                        created_at, updated_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $6, $6)
                    ON CONFLICT (name) DO UPDATE SET draft = EXCLUDED.draft, title = EXCLUDED.title,
                        description = EXCLUDED.description, draft_updated_at = EXCLUDED.draft_updated_at,
                        updated_at = EXCLUDED.updated_at
                    RETURNING {_POLICY_COLUMNS}""",  # noqa: S608
                uuid4(), compiled.name, compiled.document.title, compiled.document.description, doc, now,
            )  # fmt: skip
            assert row is not None
            await audit.append(
                conn,
                [audit.AuditEntry(now, actor, "policy.draft_saved", "policy", str(row["id"]),
                                  {"name": compiled.name, "content_hash": compiled.content_hash})],
            )  # fmt: skip
        return dict(row) | {"draft_hash": compiled.content_hash}

    async def save_template_draft(self, template: str, actor: str) -> dict[str, Any]:
        return await self.save_draft(document_data(load_template(template)), actor)

    async def publish(self, policy_id: UUID, actor: str) -> dict[str, Any]:
        """Freeze the current draft as the next immutable version and make it current."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            policy = await conn.fetchrow("SELECT * FROM policies WHERE id = $1 FOR UPDATE", policy_id)
            if policy is None:
                raise NotFound(f"policy {policy_id} not found")
            if policy["draft"] is None:
                raise Conflict("the policy has no draft to publish")
            compiled = compile_policy(policy["draft"])
            existing = await conn.fetchrow(
                "SELECT version FROM policy_versions WHERE policy_id = $1 AND content_hash = $2",
                policy_id,
                compiled.content_hash,
            )
            if existing is not None:
                version = existing["version"]
            else:
                version = (policy["current_version"] or 0) + 1
                last = await conn.fetchval("SELECT max(version) FROM policy_versions WHERE policy_id = $1", policy_id)
                version = max(version, (last or 0) + 1)
                await conn.execute(
                    """INSERT INTO policy_versions
                       (policy_id, version, document, content_hash, engine_version, published_at, published_by)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                    policy_id, version, document_data(compiled), compiled.content_hash, ENGINE_VERSION, now, actor,
                )  # fmt: skip
            await conn.execute(
                "UPDATE policies SET current_version = $2, updated_at = $3 WHERE id = $1",
                policy_id,
                version,
                now,
            )
            payload = {"name": compiled.name, "version": version, "content_hash": compiled.content_hash}
            await audit.append(
                conn, [audit.AuditEntry(now, actor, "policy.published", "policy", str(policy_id), payload)]
            )
            await insert_outbox(conn, [outbox_row("policy.published", str(policy_id), payload, now)])
        async with self._pool.acquire() as conn:
            await self._snapshot.reload(conn, "policies", str(policy_id))
        return await self.get(policy_id)

    async def get(self, policy_id: UUID) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(f"SELECT {_POLICY_COLUMNS} FROM policies WHERE id = $1", policy_id)  # noqa: S608
            if row is None:
                raise NotFound(f"policy {policy_id} not found")
            versions = await conn.fetch(
                """SELECT version, content_hash, engine_version, published_at, published_by, document
                   FROM policy_versions WHERE policy_id = $1 ORDER BY version""",
                policy_id,
            )
        return dict(row) | {"versions": [dict(v) for v in versions]}

    async def page(self, after: UUID | None, limit: int) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT {_POLICY_COLUMNS} FROM policies WHERE ($1::uuid IS NULL OR id > $1)
                    ORDER BY id LIMIT $2""",  # noqa: S608
                after,
                limit,
            )
        return [dict(r) for r in rows]

    async def version(self, policy_id: UUID, version: int) -> CompiledPolicy:
        async with self._pool.acquire() as conn:
            document = await conn.fetchval(
                "SELECT document FROM policy_versions WHERE policy_id = $1 AND version = $2",
                policy_id,
                version,
            )
        if document is None:
            raise NotFound(f"policy {policy_id} has no version {version}")
        return compile_policy(document)

    @staticmethod
    def templates() -> list[dict[str, Any]]:
        out = []
        for name in list_templates():
            compiled = load_template(name)
            out.append(document_data(compiled) | {"content_hash": compiled.content_hash})
        return out
