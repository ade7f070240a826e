"""``compliance-shield chain deploy``: the contracts on a fresh node, and the settings that use them.

Prints dotenv lines on stdout (append them to the environment file: ``>> .env.development``)
and says what it does on stderr. Private keys are never printed: the comment lines name the
account whose key belongs in ``ORACLE_PRIVATE_KEY`` and ``SIGNER_PRIVATE_KEY``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

import typer
from rich.console import Console

from compliance_shield.adapters.chain.client import ChainClient, ChainError
from compliance_shield.adapters.chain.deployer import TransactionFailed
from compliance_shield.services.chain.chain_deploy import (
    ChainDeployment,
    DeploymentIncomplete,
    DeployPlan,
    TokenSpec,
    deploy_contracts,
)
from compliance_shield.settings import load_settings
from compliance_shield.workers.chain import ChainMismatch, verified_chain_id

chain_app = typer.Typer(help="Contracts on an EVM node (Besu): deploy the oracle and a reference token.")
err = Console(stderr=True)

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def _address(value: str | None) -> str | None:
    if value is not None and not _ADDRESS.fullmatch(value):
        raise typer.BadParameter(f"{value!r} is not a 0x-prefixed 20-byte hex address")
    return value.lower() if value is not None else None


def _key(value: str) -> str:
    if not _KEY.fullmatch(value):
        raise typer.BadParameter("must be a 32-byte hex private key")
    return value if value.startswith("0x") else "0x" + value


async def _deploy(
    rpc_url: str, key: str, expected_chain_id: int | None, plan: DeployPlan, gas_price_wei: int | None
) -> ChainDeployment:
    client = ChainClient(rpc_url)
    try:
        chain_id = await verified_chain_id(client, expected_chain_id)
        err.print(f"node at {rpc_url} serves chain {chain_id}; deploying …")
        return await deploy_contracts(client, key, chain_id, plan, gas_price_wei=gas_price_wei)
    finally:
        await client.close()


def _report(deployment: ChainDeployment, rpc_url: str) -> None:
    typer.echo(f"# ComplianceShield contracts on chain {deployment.chain_id}, admin {deployment.admin}")
    for name, value in deployment.settings(rpc_url):
        typer.echo(f"{name}={value}")
    typer.echo(f"# ORACLE_PRIVATE_KEY=<the key of {deployment.writer}, which holds WRITER_ROLE>")
    typer.echo(f"# SIGNER_PRIVATE_KEY=<the key of {deployment.signer}, which holds SIGNER_ROLE>")
    if deployment.token is not None:
        typer.echo(f"# reference token: {deployment.token} (register it: POST /v1/tokens with this contract_address)")


@chain_app.command("deploy")
def chain_deploy(
    deployer_key: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="key of the funded account that deploys and is admin")
    ],
    rpc_url: Annotated[str | None, typer.Option(help="the node's JSON-RPC URL (default BESU_RPC_URL)")] = None,
    chain_id: Annotated[
        int | None, typer.Option(min=1, help="refuse a node on another chain (default CHAIN_ID)")
    ] = None,
    writer: Annotated[
        str | None, typer.Option(help="address given WRITER_ROLE (the oracle writer's account; default: deployer)")
    ] = None,
    signer: Annotated[
        str | None, typer.Option(help="address given SIGNER_ROLE (signs certificates; default: the writer)")
    ] = None,
    symbol: Annotated[str, typer.Option(help="symbol of the reference SecurityToken")] = "RWA",
    name: Annotated[str | None, typer.Option(help="its name (default '<symbol> units')")] = None,
    decimals: Annotated[int, typer.Option(min=0, max=18)] = 0,
    token: Annotated[bool, typer.Option(help="also deploy the reference SecurityToken")] = True,
    gas_price_wei: Annotated[
        int | None, typer.Option(min=0, help="legacy gas price (default ORACLE_GAS_PRICE_WEI, else the node's)")
    ] = None,
) -> None:
    """Deploy ComplianceOracle (and a SecurityToken), grant the roles, print the settings to set."""
    settings = load_settings()
    url = rpc_url or settings.besu_rpc_url
    if not url:
        raise typer.BadParameter("give --rpc-url or set BESU_RPC_URL", param_hint="--rpc-url")
    plan = DeployPlan(
        writer=_address(writer),
        signer=_address(signer),
        token=TokenSpec(name or f"{symbol} units", symbol, decimals) if token else None,
    )
    expected = chain_id if chain_id is not None else settings.chain_id
    price = gas_price_wei if gas_price_wei is not None else settings.oracle_gas_price_wei
    try:
        deployment = asyncio.run(_deploy(url, _key(deployer_key), expected, plan, price))
    except ChainMismatch as exc:
        err.print(f"[red]{exc}[/red]: nothing was deployed")
        raise typer.Exit(2) from exc
    except (TransactionFailed, DeploymentIncomplete) as exc:
        err.print(f"[red]deployment failed[/red]: {exc}")
        raise typer.Exit(1) from exc
    except ChainError as exc:
        err.print(f"[red]the node at {url} did not answer[/red]: {exc}")
        raise typer.Exit(1) from exc
    for tx_hash in deployment.transactions:
        err.print(f"  mined {tx_hash}")
    _report(deployment, url)
