"""The service as users run it, on a throw-away data folder: seeded, served, then stopped.

``LocalService`` runs ``compliance-shield seed`` with the data set's size into a temporary
``DATA_DIR`` (its progress bar shows on the bench's stderr), makes an admin token, runs
``compliance-shield serve --workers W`` and waits for ``/ready``; it times the seeding and the
start-up, and stops what it started on the way out (the server: SIGTERM, then kill; PostgreSQL).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench._harness import HOST, BenchError, ServerProcess, Service, cli_path, err, free_port
from compliance_shield.services.reference.seed_data import DataSetSize

#: the longest a seed may take (a million investors take a few minutes)
SEED_TIMEOUT = 1800
#: the longest the server may take to load its snapshot and answer /ready
READY_TIMEOUT = 600


class LocalService(AbstractContextManager[Service]):
    """Seed, start and finally stop ``compliance-shield serve`` on a temporary ``DATA_DIR``."""

    def __init__(self, workers: int, size: DataSetSize) -> None:
        self.workers = workers
        self.size = size
        self.root = Path(tempfile.mkdtemp(prefix="cs-bench-"))  # short: PostgreSQL's socket lives in it
        self.data_dir = self.root / "data"
        self.server: ServerProcess | None = None
        self.pg: Any = None

    def __enter__(self) -> Service:
        try:
            return self._start()
        except BaseException:
            self._stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _env(self, port: int, secret: str) -> dict[str, str]:
        if not os.environ.get("XDG_RUNTIME_DIR"):
            # pgserver keeps its lock there and warns without it; removed after pgserver's own exit hook
            runtime = tempfile.mkdtemp(prefix="cs-bench-xdg-")  # mode 0700
            atexit.register(shutil.rmtree, runtime, True)
            os.environ["XDG_RUNTIME_DIR"] = runtime
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WORKERS", "HOST")}
        env |= {"DATA_DIR": str(self.data_dir), "PORT": str(port), "JWT_SECRET": secret, "LOG_LEVEL": "WARNING"}
        return env

    def _run(self, env: dict[str, str], *args: str, show_progress: bool = False) -> str:
        """The command's output; its stderr (a progress bar) goes to ours when ``show_progress``."""
        done = subprocess.run(
            [cli_path(), *args],
            env=env | {"COLUMNS": "250"},
            stdout=subprocess.PIPE,
            stderr=None if show_progress else subprocess.PIPE,
            timeout=SEED_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            detail = "see above" if show_progress else done.stderr.decode()
            raise BenchError(f"compliance-shield {' '.join(args)} failed ({done.returncode}):\n{detail}")
        return done.stdout.decode()

    def _start(self) -> Service:
        port = free_port()
        env = self._env(port, secrets.token_urlsafe(36))  # 48 characters
        self.data_dir.mkdir()
        size = self.size
        err.print(
            f"seeding {size.investors:,} investors, {size.wallets_per_investor} wallets each, {size.tokens} tokens "
            f"into {self.data_dir} ..."
        )
        started = time.monotonic()
        out = self._run(
            env, "seed", "--investors", str(size.investors), "--wallets-per-investor",
            str(size.wallets_per_investor), "--tokens", str(size.tokens), show_progress=True,
        )  # fmt: skip
        seed_seconds = time.monotonic() - started
        seeded = json.loads(out[out.index("{") :])
        err.print(
            f"seeded {seeded['investors']:,} investors, {seeded['wallets']:,} wallets, {seeded['holdings']:,} "
            f"holdings of {len(seeded['tokens'])} tokens in {seed_seconds:.1f} s"
        )
        import pgserver  # only now: it reads XDG_RUNTIME_DIR on import

        self.pg = pgserver.get_server(  # type: ignore[attr-defined]
            str(self.data_dir / "postgres"), cleanup_mode=None
        )
        token = self._run(env, "token", "--sub", "bench", "--roles", "admin,checker", "--ttl", "86400").strip()
        err.print(f"starting compliance-shield serve --workers {self.workers} on port {port} ...")
        started = time.monotonic()
        self.server = ServerProcess([cli_path(), "serve", "--workers", str(self.workers)], env, self.root / "serve.log")
        base = f"http://{HOST}:{port}"
        self.server.wait_ready(base + "/ready", timeout=READY_TIMEOUT)
        ready_seconds = time.monotonic() - started
        err.print(f"the server answered /ready after {ready_seconds:.1f} s")
        return Service(
            base_url=base,
            token=token,
            workers=self.workers,
            database_url=str(self.pg.get_uri()),
            server_pid=self.server.process.pid,
            postgres_pid=self.pg.get_pid(),
            seed_seconds=round(seed_seconds, 2),
            ready_seconds=round(ready_seconds, 2),
        )

    def _stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.pg is not None:
            import pgserver

            try:
                pgserver.pg_ctl(  # type: ignore[attr-defined]
                    ["-w", "-m", "fast", "stop"], pgdata=self.pg.pgdata, user=self.pg.system_user, timeout=60
                )
            except (subprocess.SubprocessError, OSError) as exc:
                err.print(f"[yellow]could not stop PostgreSQL in {self.pg.pgdata}: {exc}[/yellow]")
        shutil.rmtree(self.root, ignore_errors=True)
