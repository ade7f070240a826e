"""Structured logging: one JSON object a line on stderr, for our own loggers and the libraries'.

structlog's processors run for our log calls and, through ``ProcessorFormatter``, for records of
the standard library's loggers (uvicorn, aiokafka, alembic, asyncpg), so an operator's log
pipeline sees one format from every process. Every line carries ``process`` (the kind of
process) and ``pid``, and whatever is bound in ``structlog.contextvars`` — the HTTP middleware
binds ``request_id`` (and ``check_id`` on the routes of one check) for the request's lifetime.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger


def _static(kind: str) -> Processor:
    pid = os.getpid()

    def add(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("process", kind)
        event.setdefault("pid", pid)
        return event

    return add


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is emitted: a command run inside a test
    runner (or any host that swaps the stream) must not keep writing to a stream it closed."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(level: str, kind: str = "api") -> None:
    """JSON lines at ``level`` (``LOG_LEVEL``) for every logger of this process; safe to call again."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _static(kind),
    ]
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's loggers keep handlers of their own unless told otherwise: send them to ours
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    # alembic announces each of its plugins at INFO on import: one line each per process start
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
