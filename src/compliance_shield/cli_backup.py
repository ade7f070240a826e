"""``compliance-shield db backup|restore``: logical backups of the database (see db/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from compliance_shield.settings import load_settings

db_app = typer.Typer(help="Backups of the database (pg_dump / pg_restore; the embedded server's own tools).")
console = Console()


@db_app.command("backup")
def db_backup(path: Path) -> None:
    """Dump the database (DATABASE_URL, else the embedded server) into PATH, custom format."""
    from compliance_shield.bootstrap import database_url
    from compliance_shield.db.backup import BackupFailed, backup

    url, _ = database_url(load_settings())
    try:
        made = backup(url, path)
    except BackupFailed as exc:
        console.print(f"[red]backup failed[/red]: {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]backed up[/green] to {made.path} ({made.size_bytes:,} bytes)")


@db_app.command("restore")
def db_restore(
    path: Path,
    clean: Annotated[
        bool, typer.Option(help="drop the dump's objects first (restoring over the same database)")
    ] = False,
) -> None:
    """Restore PATH into the database (DATABASE_URL, else the embedded server) in one transaction."""
    from compliance_shield.bootstrap import database_url
    from compliance_shield.db.backup import BackupFailed, restore

    url, _ = database_url(load_settings())
    try:
        restore(url, path, clean=clean)
    except BackupFailed as exc:
        console.print(f"[red]restore failed[/red]: {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]restored[/green] {path}: run `compliance-shield audit verify` next")
