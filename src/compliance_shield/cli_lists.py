"""``compliance-shield lists …`` and ``worker list-updater``: sanctions lists from the command line.

* ``lists import PATH --source NAME`` — a file or a folder of files (the OFAC CSV set, the
  per-asset crypto files) as a new version of NAME; investors are re-screened afterwards;
* ``lists update`` — download the publishers' current files (``--url NAME=URL`` to use another
  location, e.g. a mirror) with a progress bar, import what changed, re-screen;
* ``lists versions`` — the versions stored, newest first;
* ``worker list-updater --interval 3600`` — ``lists update`` on a timer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from rich.table import Table

from compliance_shield.adapters.sanctions import DEFAULT_FORMATS, FORMATS
from compliance_shield.adapters.sanctions.download import OFFICIAL_SOURCES, ListSource
from compliance_shield.errors import ComplianceShieldError
from compliance_shield.settings import load_settings

lists_app = typer.Typer(help="Sanctions lists: import, update from the publishers, versions.")
console = Console()
T = TypeVar("T")

#: files of a folder that make up a list, per format (anything else in the folder is ignored)
_OFAC_CSV = ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv")
_LIST_SUFFIXES = (".csv", ".json", ".xml", ".txt")


def _files(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {path.name: path.read_bytes()}
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is neither a file nor a folder", param_hint="PATH")
    names = sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if any(n.lower() in _OFAC_CSV for n in names):
        chosen = [n for n in names if n.lower() in _OFAC_CSV]
    elif any(n.startswith("sanctioned_addresses_") for n in names):
        chosen = [n for n in names if n.startswith("sanctioned_addresses_")]
    else:
        chosen = [n for n in names if n.lower().endswith(_LIST_SUFFIXES)]
    if not chosen:
        raise typer.BadParameter(f"no list file in {path}", param_hint="PATH")
    return {n: (path / n).read_bytes() for n in chosen}


async def _with_services(work: Callable[[Any], Awaitable[T]]) -> T:
    from compliance_shield.bootstrap import create_pool, database_url
    from compliance_shield.db.migrate import upgrade
    from compliance_shield.services.screening.lists import ListService
    from compliance_shield.services.screening.screening import ScreeningService

    settings = load_settings()
    url, embedded = await asyncio.to_thread(database_url, settings)
    if embedded:
        await asyncio.to_thread(upgrade, url)
    pool = await create_pool(url, 4)
    try:
        screening = ScreeningService(pool)
        await screening.reload_index()
        return await work(ListService(pool, screening))
    finally:
        await pool.close()


def _report(results: list[Any]) -> None:
    table = Table("source", "version", "result", "entities", "names", "addresses", "previous", "re-screened")
    for r in results:
        table.add_row(
            r.source, r.label, r.status, str(r.entity_count), str(r.name_count), str(r.address_count),
            r.previous or "—", str(r.rescreened),
        )  # fmt: skip
    console.print(table)


def _fail(exc: ComplianceShieldError) -> typer.Exit:
    console.print(f"[red]{exc.code}[/red]: {exc.message}")
    details = exc.details if isinstance(exc.details, list) else []
    for detail in details[:20]:
        if isinstance(detail, dict):
            console.print(f"  {detail.get('field')}: {detail.get('message')}")
    return typer.Exit(1)


@lists_app.command("import")
def import_list(
    path: Annotated[Path, typer.Argument(help="a list file, or a folder (OFAC CSV set, per-asset crypto files)")],
    source: Annotated[str, typer.Option(help="source name: ofac-sdn, ofac-crypto, un, or your own (eu, internal …)")],
    list_format: Annotated[
        str | None, typer.Option("--format", help=f"one of {', '.join(FORMATS)} (detected when omitted)")
    ] = None,
    published: Annotated[str | None, typer.Option(help="publication date YYYY-MM-DD (files that carry none)")] = None,
    rescreen: Annotated[bool, typer.Option(help="re-screen investors against the new version")] = True,
) -> None:
    """Import PATH as a new version of SOURCE (one transaction: a malformed file changes nothing)."""
    try:
        published_on = date.fromisoformat(published) if published else None
    except ValueError as exc:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--published") from exc
    files = _files(path)

    async def work(service: Any) -> Any:
        return await service.import_files(
            source, files, actor="cli", list_format=list_format, published_on=published_on,
            origin=str(path.resolve()), rescreen=rescreen,
        )  # fmt: skip

    try:
        result = asyncio.run(_with_services(work))
    except ComplianceShieldError as exc:
        raise _fail(exc) from exc
    _report([result])


def _sources(names: list[str], urls: list[str], formats: list[str]) -> list[ListSource]:
    chosen_formats: dict[str, str] = {}
    for item in formats:
        name, _, value = item.partition("=")
        if not value or value not in FORMATS:
            raise typer.BadParameter(
                f"expected NAME=FORMAT with FORMAT one of {', '.join(FORMATS)}", param_hint="--format"
            )
        chosen_formats[name] = value
    given: dict[str, list[str]] = {}
    for item in urls:
        name, _, url = item.partition("=")
        if not url.startswith(("http://", "https://")):
            raise typer.BadParameter("expected NAME=http(s)://…", param_hint="--url")
        given.setdefault(name, []).append(url)
    wanted = names or sorted(given) or sorted(OFFICIAL_SOURCES)
    out = []
    for name in wanted:
        if name in given:
            fmt = chosen_formats.get(name) or DEFAULT_FORMATS.get(name)
            if fmt is None:
                fmt = "ofac-csv" if len(given[name]) > 1 else ("ofac-xml" if name == "ofac-sdn" else "operator")
            out.append(ListSource(name, fmt, tuple(given[name])))
        elif name in OFFICIAL_SOURCES:
            out.append(OFFICIAL_SOURCES[name])
        else:
            raise typer.BadParameter(f"no known URL for {name}: give one with --url {name}=…", param_hint="--source")
    return out


async def _update(sources: list[ListSource], progress: Progress | None) -> list[Any]:
    tasks: dict[str, TaskID] = {}

    def advance(name: str, received: int, total: int | None) -> None:
        if progress is None:
            return
        if name not in tasks:
            tasks[name] = progress.add_task(name, total=total)
        progress.update(tasks[name], completed=received, total=total)

    async def work(service: Any) -> Any:
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
            return await service.update(sources, client, actor="list-updater", progress=advance)

    return await _with_services(work)


@lists_app.command("update")
def update(
    source: Annotated[list[str], typer.Option(help="sources to update (default: all with a known URL)")] = [],  # noqa: B006
    url: Annotated[list[str], typer.Option(help="NAME=URL: download NAME from URL (repeat for a file set)")] = [],  # noqa: B006
    list_format: Annotated[list[str], typer.Option("--format", help="NAME=FORMAT for a --url source")] = [],  # noqa: B006
) -> None:
    """Download the lists from their publishers (or --url), import what changed, re-screen investors."""
    sources = _sources(source, url, list_format)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            results = asyncio.run(_update(sources, progress))
    except ComplianceShieldError as exc:
        raise _fail(exc) from exc
    _report(results)


@lists_app.command("versions")
def versions(
    source: Annotated[str | None, typer.Option(help="only this source")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """The stored list versions, newest first."""

    async def work(service: Any) -> Any:
        return await service.versions(source, limit)

    rows = asyncio.run(_with_services(work))
    table = Table("source", "version", "status", "published", "entities", "addresses", "imported", "by")
    for r in rows:
        table.add_row(
            r["source"], r["label"], r["status"], str(r["published_on"] or "—"), str(r["entity_count"]),
            str(r["address_count"]), r["imported_at"].strftime("%Y-%m-%d %H:%M"), r["imported_by"],
        )  # fmt: skip
    console.print(table)


def worker_list_updater(
    interval: Annotated[int, typer.Option(min=60, help="seconds between updates")] = 3600,
    source: Annotated[list[str], typer.Option(help="sources to update (default: all with a known URL)")] = [],  # noqa: B006
) -> None:
    """Run ``lists update`` every INTERVAL seconds (a failed round is logged and retried next time)."""
    sources = _sources(source, [], [])
    while True:
        started = time.monotonic()
        try:
            _report(asyncio.run(_update(sources, None)))
        except ComplianceShieldError as exc:
            console.print(f"[red]update failed[/red] {exc.code}: {exc.message}")
        time.sleep(max(1.0, interval - (time.monotonic() - started)))
