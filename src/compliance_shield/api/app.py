"""The FastAPI app factory. The lifespan builds the container from settings and tears it down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from compliance_shield import __version__
from compliance_shield.api import affinity, hot_path
from compliance_shield.api.auth import build_verifier
from compliance_shield.api.body_limit import BodyLimitMiddleware
from compliance_shield.api.errors import install_error_handlers
from compliance_shield.api.hygiene import StorableTextMiddleware
from compliance_shield.api.openapi import document_errors
from compliance_shield.api.rate_limit import build_limiter, close_limiter
from compliance_shield.api.routers import (
    cases,
    certificates,
    checks,
    events,
    health,
    investors,
    kyc,
    policies,
    reports,
    sanctions,
    screening,
    tokens,
    wallet_labels,
    webhooks,
)
from compliance_shield.bootstrap import Container, build_container
from compliance_shield.console import routes as console
from compliance_shield.observability import multiprocess
from compliance_shield.observability.http import RequestObservabilityMiddleware
from compliance_shield.settings import Settings


def create_app(settings: Settings, *, container: Container | None = None) -> FastAPI:
    """Build the app. With ``container`` given (tests), the caller owns its lifecycle."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if container is not None:
            app.state.container = container
            try:
                yield
            finally:
                await close_limiter(app.state.rate_limiter)
                await app.state.token_verifier.close()
            return
        built = await build_container(settings)
        app.state.container = built
        peers_dir = settings.writer_peers_dir if settings.writer_affinity else None
        peers = await affinity.attach(app, built, peers_dir) if peers_dir is not None else None
        try:
            yield
        finally:
            if peers is not None:
                await peers.stop()
            await close_limiter(app.state.rate_limiter)
            await app.state.token_verifier.close()
            await built.close()
            multiprocess.process_exited(settings.prometheus_multiproc_dir)

    app = FastAPI(
        title="ComplianceShield",
        version=__version__,
        description=(
            "Real-time compliance gate for transfers of tokenized securities. "
            "Every completed check answers 200 with APPROVED, REJECTED or ESCALATED; "
            'errors use one envelope: {"error": {"code", "message", "details"}}.'
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.token_verifier = build_verifier(settings)
    app.state.rate_limiter = build_limiter(settings)
    if container is not None:
        app.state.container = container
    install_error_handlers(app)
    # the body limit is the outer one: it bounds what the text check buffers
    app.add_middleware(StorableTextMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(RequestObservabilityMiddleware)  # added last: outermost, so it times everything
    for module in (
        health,
        checks,
        certificates,
        investors,
        kyc,
        tokens,
        policies,
        sanctions,
        screening,
        events,
        wallet_labels,
        webhooks,
        cases,
        reports,
    ):
        app.include_router(module.router)
    console.install(app)
    hot_path.install(app)
    document_errors(app)
    return app
