"""Metrics that stay true when one ``serve`` runs several server processes.

prometheus-client's multiprocess mode: each process writes its samples to memory-mapped files
in one directory (``PROMETHEUS_MULTIPROC_DIR``), and a scrape of any process reads every file
and answers the sum (counters, histograms) or the combination each gauge declares
(``multiprocess_mode`` in ``metrics.py``). The library reads that variable when it is first
imported, so ``serve`` prepares the directory and puts it in the environment *before* it
starts the server processes; they inherit it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess


def prepare_directory(configured: Path | None) -> tuple[Path, bool]:
    """The directory the processes of one ``serve`` share, emptied; and whether we made it
    (then the caller removes it when ``serve`` ends).

    Files left by an earlier run would be added to this run's totals, so they are removed."""
    if configured is None:
        return Path(tempfile.mkdtemp(prefix="cs-metrics-")), True
    configured.mkdir(parents=True, exist_ok=True)
    for stale in configured.glob("*.db"):
        stale.unlink()
    return configured, False


def export_to_children(directory: Path) -> None:
    """Hand the directory to the server processes about to be started: they inherit the environment,
    where prometheus-client reads it at import (and ``Settings.prometheus_multiproc_dir`` too)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def registry(directory: Path | None) -> CollectorRegistry:
    """What ``/metrics`` answers: the sum over every process writing to ``directory``, else this
    process's own metrics."""
    if directory is None:
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined, path=str(directory))  # type: ignore[no-untyped-call]
    return combined


def process_exited(directory: Path | None) -> None:
    """Drop this process's live gauges (``livesum``/``liveall``) from the totals; its counters stay."""
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), path=str(directory))  # type: ignore[no-untyped-call]
