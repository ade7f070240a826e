"""The ``compliance-shield`` command: serve, migrate, seed, token, replay, audit, policy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from compliance_shield.api.auth import ROLES, issue_token
from compliance_shield.cli_backup import db_app
from compliance_shield.cli_chain import chain_app
from compliance_shield.cli_lists import lists_app, worker_list_updater
from compliance_shield.domain import encoding
from compliance_shield.settings import Settings, load_settings

app = typer.Typer(help="ComplianceShield: real-time compliance gate for tokenized-security transfers.")
audit_app = typer.Typer(help="The hash-chained audit log.")
policy_app = typer.Typer(help="Policy documents and templates.")
worker_app = typer.Typer(help="Background workers (each runs until stopped).")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.add_typer(worker_app, name="worker")
app.add_typer(lists_app, name="lists")
app.add_typer(chain_app, name="chain")
app.add_typer(db_app, name="db")
worker_app.command("list-updater")(worker_list_updater)
console = Console()

T = TypeVar("T")


def _settings() -> Settings:
    return load_settings()


@app.callback()
def _every_command() -> None:
    """Logging of every command: JSON lines at LOG_LEVEL (workers and serve re-tag their lines)."""
    from pydantic import ValidationError

    from compliance_shield.observability.process import ProcessKind, configure_process

    # an invalid setting is reported by the command itself when it reads the settings
    with contextlib.suppress(ValidationError):
        configure_process(load_settings(), ProcessKind.CLI)


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


def _token(settings: Settings, sub: str, roles: list[str], ttl: int) -> str:
    return issue_token(
        settings.jwt_secret_value, sub, roles, ttl, datetime.now(UTC), settings.jwt_issuer, kid=settings.jwt_kid
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations (embedded server when DATABASE_URL is unset)."""
    from compliance_shield.bootstrap import database_url
    from compliance_shield.db.migrate import current_revision, upgrade

    url, _ = database_url(_settings())
    upgrade(url)
    console.print(f"[green]migrated[/green] to {current_revision(url)}")


async def _seed(
    settings: Settings, url: str, investors: int, wallets_per_investor: int = 1, tokens: int = 4
) -> dict[str, Any]:
    from compliance_shield.bootstrap import create_pool
    from compliance_shield.reference_data import load_country_lists
    from compliance_shield.services.reference.policies import PolicyService
    from compliance_shield.services.reference.seed import seed_demo, seed_progress
    from compliance_shield.services.reference.seed_data import DataSetSize
    from compliance_shield.services.reference.snapshot import Snapshot
    from compliance_shield.services.screening.screening import ScreeningService

    size = DataSetSize(investors, wallets_per_investor, tokens)
    pool = await create_pool(url, 4)
    try:
        with seed_progress() as progress:
            policies = PolicyService(pool, Snapshot(load_country_lists()))
            summary = await seed_demo(pool, policies, ScreeningService(pool), size=size, progress=progress)
    finally:
        await pool.close()
    return {
        "tokens": {k: str(v) for k, v in summary.tokens.items()},
        "investors": summary.investors,
        "wallets": summary.wallets,
        "holdings": summary.holdings,
        "sample_transfer": summary.sample,
    }


@app.command()
def seed(
    investors: Annotated[int, typer.Option(min=10, max=1_000_000)] = 1000,
    wallets_per_investor: Annotated[int, typer.Option(min=1, max=10, help="wallets bound to each investor")] = 1,
    tokens: Annotated[int, typer.Option(min=1, max=20, help="tokens, taking the shipped templates in turn")] = 4,
) -> None:
    """Load the demo data set (tokens on each template, investors, wallets, holdings)."""
    from compliance_shield.bootstrap import database_url
    from compliance_shield.db.migrate import upgrade

    settings = _settings()
    url, _ = database_url(settings)
    upgrade(url)
    console.print_json(encoding.dumps_text(_run(lambda: _seed(settings, url, investors, wallets_per_investor, tokens))))


async def _demo_cases(settings: Settings, url: str, sample: dict[str, Any]) -> None:
    """Escalate a few demo transfers (to PEP holders) so the console's queue has open cases."""
    from compliance_shield.bootstrap import build_container
    from compliance_shield.services.cases.demo import escalate_demo_transfers

    container = await build_container(settings, url=url, migrate=False)
    try:
        checks = await escalate_demo_transfers(container.pool, container.decisions, container.cases, sample)
    finally:
        await container.close()
    console.print(f"demo: {sum(c['status'] == 'ESCALATED' for c in checks)} escalated transfers with open cases")


def _demo_banner(settings: Settings, summary: dict[str, Any] | None) -> None:
    base = f"http://{settings.host}:{settings.port}"
    token = _token(settings, "demo-admin", ["admin"], 12 * 3600)
    console.rule("[bold]ComplianceShield is starting")
    # plain output for the values people copy: no wrapping inside the token
    typer.echo(f"URL:           {base}   (API docs: {base}/docs)")
    typer.echo(f"Bearer token:  {token}")
    typer.echo(f"Console:       {base}/console   (sign in by pasting the bearer token)")
    if summary is not None:
        body = encoding.dumps_text(summary["sample_transfer"])
        typer.echo("Try a transfer check:")
        typer.echo(
            f"curl -s -X POST {base}/v1/compliance/transfer-check -H 'Authorization: Bearer {token}' "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )
    console.rule()


def _exit_after_stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command()
def serve(
    demo: Annotated[bool, typer.Option(help="load demo data if the database is empty and print a token")] = False,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="server processes (default WORKERS)")] = None,
) -> None:
    """Run the API server (migrates the embedded database first)."""
    import uvicorn

    from compliance_shield.bootstrap import database_url
    from compliance_shield.db.migrate import upgrade
    from compliance_shield.observability import multiprocess
    from compliance_shield.observability.process import ProcessKind, configure_process

    settings = _settings()
    configure_process(settings, ProcessKind.SERVE)
    url, embedded = database_url(settings)
    if embedded:
        upgrade(url)
    summary: dict[str, Any] | None = None
    if demo:
        from compliance_shield.errors import Conflict

        try:
            seeded = _run(lambda: _seed(settings, url, 1000))
            _run(lambda: _demo_cases(settings, url, seeded["sample_transfer"]))
            summary = seeded
        except Conflict:  # loaded by an earlier run: the same deterministic example applies
            from compliance_shield.services.reference.seed import demo_sample

            summary = {"sample_transfer": demo_sample()}
        _demo_banner(settings, summary)
    # server processes read their settings from the environment: hand them the resolved URL
    os.environ["DATABASE_URL"] = url
    processes = workers or settings.workers
    metrics_dir, own_metrics_dir = None, False
    if processes > 1 or settings.prometheus_multiproc_dir is not None:
        # every server process writes its metrics there; /metrics of any of them answers the sum
        metrics_dir, own_metrics_dir = multiprocess.prepare_directory(settings.prometheus_multiproc_dir)
        multiprocess.export_to_children(metrics_dir)
    peers_dir = None
    if processes > 1 and settings.writer_affinity and settings.writer_peers_dir is None:
        # this serve's processes find each other here: each writes the tokens it owns
        peers_dir = Path(tempfile.mkdtemp(prefix="cs-writers-"))
        os.environ["WRITER_PEERS_DIR"] = str(peers_dir)
    # uvicorn stops gracefully on SIGTERM, then raises the signal again with the handler found at
    # start: a handler that exits (rather than the default, which kills the process) lets the
    # clean-up below and the embedded PostgreSQL's stop (at exit) run, and exits with status 0
    signal.signal(signal.SIGTERM, _exit_after_stop)
    try:
        uvicorn.run(
            "compliance_shield.api.asgi:app",
            host=settings.host,
            port=settings.port,
            workers=processes,
            log_level=settings.log_level.lower(),
            log_config=None,  # our JSON logging (observability/logging.py) formats uvicorn's lines too
            access_log=False,
        )
    finally:
        if peers_dir is not None:
            shutil.rmtree(peers_dir, ignore_errors=True)
        if own_metrics_dir and metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="subject (who the token is for)")],
    roles: Annotated[str, typer.Option(help=f"comma-separated roles: {', '.join(ROLES)}")] = "checker",
    ttl: Annotated[int, typer.Option(min=1, max=366 * 86400, help="lifetime in seconds")] = 3600,
) -> None:
    """Print a signed bearer token (for development and service accounts)."""
    try:
        typer.echo(_token(_settings(), sub, [r.strip() for r in roles.split(",") if r.strip()], ttl))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


async def _with_conn(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    from compliance_shield.bootstrap import connect

    conn = await connect(url)
    try:
        return await work(conn)
    finally:
        await conn.close()


@app.command()
def replay(check_id: UUID) -> None:
    """Re-evaluate a stored decision from its facts and policy version; report differences."""
    from compliance_shield.bootstrap import database_url
    from compliance_shield.services.checks.replay import replay as replay_check

    url, _ = database_url(_settings())
    result = _run(lambda: _with_conn(url, lambda conn: replay_check(conn, check_id)))
    if result.reproduced:
        console.print(f"[green]reproduced[/green] {check_id} (engine {result.engine_version})")
        return
    console.print(
        f"[red]differs[/red] {check_id}: stored engine {result.stored_engine_version}, now {result.engine_version}"
    )
    console.print_json(encoding.dumps_text(result.differences))
    raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain, re-hash the stored decisions, and find each signed checkpoint's head
    still in the chain (AUDIT_CHECKPOINT_FILE); name what is broken (exit 1 when anything is)."""
    from compliance_shield.audit_cli import verify_all
    from compliance_shield.bootstrap import database_url

    settings = _settings()
    url, _ = database_url(settings)
    lines, ok = _run(lambda: _with_conn(url, lambda conn: verify_all(conn, settings)))
    for line in lines:
        console.print(line)
    if not ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    every: float = typer.Option(0, help="seconds between checkpoints; 0: take one and stop", min=0),
) -> None:
    """Append a signed checkpoint of the chain's head to AUDIT_CHECKPOINT_FILE (see README)."""
    from compliance_shield.audit_cli import checkpoint_loop
    from compliance_shield.bootstrap import database_url

    settings = _settings()
    url, _ = database_url(settings)
    try:
        _run(lambda: checkpoint_loop(url, settings, every, console.print))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


@policy_app.command("templates")
def policy_templates() -> None:
    """List the shipped policy templates."""
    from compliance_shield.reference_data import list_templates, load_template

    table = Table("name", "jurisdiction", "as_of", "rules", "hash")
    table.columns[0].no_wrap = True
    for name in list_templates():
        compiled = load_template(name)
        doc = compiled.document
        table.add_row(name, doc.jurisdiction, str(doc.as_of), str(len(doc.rules)), compiled.content_hash[7:19])
    console.print(table)


@policy_app.command("validate")
def policy_validate(path: Path) -> None:
    """Validate a policy document (YAML or JSON); print each error with its path."""
    from compliance_shield.domain.policy import parse_policy
    from compliance_shield.errors import PolicyInvalid

    try:
        compiled = parse_policy(path.read_bytes())
    except PolicyInvalid as exc:
        for error in exc.errors:
            console.print(f"[red]{error['field']}[/red]: {error['message']}")
        raise typer.Exit(1) from exc
    console.print(f"[green]valid[/green] {compiled.name}: {len(compiled.rules)} rules, {compiled.content_hash}")


@worker_app.command("oracle")
def worker_oracle() -> None:
    """Write decisions to the ComplianceOracle contract (needs ENABLE_ORACLE, BESU_RPC_URL, ORACLE_*)."""
    from compliance_shield.observability.backlogs import oracle_backlog
    from compliance_shield.observability.process import ProcessKind, observed
    from compliance_shield.workers.oracle import run as run_oracle

    settings = _settings()
    if not settings.enable_oracle:
        console.print("[red]the oracle writer is disabled[/red]: set ENABLE_ORACLE=true")
        raise typer.Exit(2)
    _run(lambda: observed(settings, ProcessKind.ORACLE, run_oracle(settings), oracle_backlog))


@worker_app.command("indexer")
def worker_indexer() -> None:
    """Follow the token contracts' Transfer events into holdings and settlements (needs BESU_RPC_URL)."""
    from compliance_shield.observability.process import observed_indexer
    from compliance_shield.workers.indexer import run as run_indexer

    settings = _settings()
    if not settings.besu_rpc_url:
        console.print("[red]the chain indexer needs BESU_RPC_URL[/red]")
        raise typer.Exit(2)
    _run(lambda: observed_indexer(settings, run_indexer(settings)))


@worker_app.command("audit")
def worker_audit() -> None:
    """Walk the audit hash chain every AUDIT_VERIFY_INTERVAL_SECONDS and export the verdict as metrics."""
    from compliance_shield.bootstrap import connect, database_url
    from compliance_shield.observability.audit_watch import watch
    from compliance_shield.observability.process import ProcessKind, observed
    from compliance_shield.workers.kafka import run_until_signalled

    settings = _settings()
    url, _ = database_url(settings)
    work = watch(lambda: connect(url, "compliance-shield-audit"), settings.audit_verify_interval_seconds)
    _run(lambda: observed(settings, ProcessKind.AUDIT, run_until_signalled(work)))


@worker_app.command("reasoning")
def worker_reasoning() -> None:
    """Draft AI narratives for open review cases (needs ENABLE_AI_REASONING and GROK_API_KEY)."""
    from compliance_shield.workers.reasoning import run as run_reasoning

    settings = _settings()
    if not settings.enable_ai_reasoning:
        console.print("[red]AI reasoning is disabled[/red]: set ENABLE_AI_REASONING=true and GROK_API_KEY")
        raise typer.Exit(2)
    _run(lambda: run_reasoning(settings))


def _kafka_settings(worker: str) -> Settings:
    settings = _settings()
    if not settings.kafka_brokers:
        console.print(f"[red]the {worker} needs KAFKA_BROKERS[/red] (without Kafka, read events from /v1/events)")
        raise typer.Exit(2)
    return settings


@worker_app.command("relay")
def worker_relay() -> None:
    """Publish committed outbox events to Kafka topic compliance-events (needs KAFKA_BROKERS)."""
    from compliance_shield.observability.backlogs import outbox_backlog
    from compliance_shield.observability.process import ProcessKind, observed
    from compliance_shield.workers.kafka import run_until_signalled
    from compliance_shield.workers.relay import run as run_relay

    settings = _kafka_settings("outbox relay")
    _run(lambda: observed(settings, ProcessKind.RELAY, run_until_signalled(run_relay(settings)), outbox_backlog))


@worker_app.command("consumer")
def worker_consumer() -> None:
    """Decide transfer checks from compliance.transfer-requests into compliance.decisions (needs KAFKA_BROKERS)."""
    from compliance_shield.observability.process import ProcessKind, observed
    from compliance_shield.workers.consumer import run as run_consumer
    from compliance_shield.workers.kafka import run_until_signalled

    settings = _kafka_settings("Kafka consumer")
    _run(lambda: observed(settings, ProcessKind.CONSUMER, run_until_signalled(run_consumer(settings))))


@app.command()
def version() -> None:
    """Print the installed version: the image of this release is compliance-shield-api:<version>."""
    from importlib.metadata import version as installed_version

    typer.echo(installed_version("compliance-shield"))


def main() -> None:  # pragma: no cover
    sys.exit(app())
