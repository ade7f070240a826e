"""Liveness, readiness and metrics (no authentication: probes and scrapers call them)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from compliance_shield.api.deps import container
from compliance_shield.bootstrap import Container
from compliance_shield.db.migrate import head_revision
from compliance_shield.observability import multiprocess

router = APIRouter(tags=["operations"])

#: routes that are public by design; every other route must require a role
PUBLIC_PATHS = frozenset({"/health", "/ready", "/metrics"})


@router.get("/health", summary="Liveness (no dependencies)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


class ReadyOut(BaseModel):
    status: str = Field(description="ready or not_ready")
    checks: dict[str, str] = Field(description='each dependency: "ok" or what is wrong')


@router.get(
    "/ready",
    summary="Readiness: database reachable, migrations current, snapshot loaded",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "a dependency is not ready (the body says which)"}},
)
async def ready(c: Container = Depends(container)) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        async with asyncio.timeout(2):
            async with c.pool.acquire() as conn:
                current = await conn.fetchval("SELECT version_num FROM alembic_version")
        checks["database"] = "ok"
        checks["migrations"] = "ok" if current == head_revision() else f"at {current}, head is {head_revision()}"
    except Exception as exc:  # readiness reports; it never raises
        checks["database"] = f"unavailable: {type(exc).__name__}"
        checks["migrations"] = "unknown"
    checks["snapshot"] = "stale" if c.snapshot.stale else "ok"
    if c.snapshot.name_lists_required:
        # a deployment that must screen names and has no list would escalate every check
        checks["sanctions_lists"] = (
            "ok" if c.snapshot.name_list_versions else "no active sanctions list of names: name screening fails"
        )
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics (the sum over the processes of this serve)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "exposition format"}},
)
async def metrics(request: Request) -> Response:
    registry = multiprocess.registry(request.app.state.settings.prometheus_multiproc_dir)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
