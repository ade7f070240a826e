"""Logical backups of the service's database with ``pg_dump`` and ``pg_restore`` (custom format).

The embedded default has no managed snapshots: this is its backup, and the drill of the
database runbook (``docs/runbooks/database.md``) is tested end to end. The tools are those that
ship with the embedded server (``pgserver``), so they match its major version, else the first
on ``PATH``. A dump is one consistent snapshot (``pg_dump`` reads in one repeatable-read
transaction), so the audit hash chain and the checks it covers come back together.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class BackupFailed(RuntimeError):
    """``pg_dump``/``pg_restore`` is missing or failed; the message holds what it printed."""


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    size_bytes: int


def tool(name: str) -> str:
    """The path of a PostgreSQL client tool: the embedded server's own, else the one on PATH."""
    spec = importlib.util.find_spec("pgserver")  # located only: importing it reads XDG_RUNTIME_DIR
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(f"{name} is not installed (install the PostgreSQL client tools)")
    return found


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (our own tools and arguments)
    if done.returncode != 0:
        raise BackupFailed(f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip()}")


def backup(url: str, path: Path) -> Backup:
    """Dump the database at ``url`` into ``path`` (custom format, no ownership: restorable by any role)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={path}", f"--dbname={url}"])
    return Backup(path, path.stat().st_size)


def restore(url: str, path: Path, *, clean: bool = False) -> None:
    """Restore ``path`` into the database at ``url`` in one transaction (all or nothing).

    The target should be empty (a new database); ``clean`` first drops the objects the dump
    holds, for restoring over the database the dump came from."""
    if not path.is_file():
        raise BackupFailed(f"no backup at {path}")
    command = [tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    if clean:
        command += ["--clean", "--if-exists"]
    _run([*command, f"--dbname={url}", str(path)])
