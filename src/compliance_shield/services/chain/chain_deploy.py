"""Putting the contracts on a chain: the ComplianceOracle, its roles, and a reference SecurityToken.

What an operator would otherwise learn from the Solidity sources and the test fixtures:

* ``ComplianceOracle(admin)`` — the admin holds ``DEFAULT_ADMIN_ROLE`` and grants the others;
* ``WRITER_ROLE`` to the account the oracle writer sends from (``ORACLE_PRIVATE_KEY``),
  ``SIGNER_ROLE`` to the account that signs certificates (``SIGNER_PRIVATE_KEY``),
  ``FREEZER_ROLE`` to the admin;
* ``SecurityToken(name, symbol, decimals, oracle, admin)`` — the admin is also its issuer
  (``ISSUER_ROLE``: mint and burn).

Every grant is read back with ``hasRole`` and the token's ``oracle()`` is compared with the oracle
just deployed, so a deployment that returns is one the workers can use. The deploying key is the
admin; hand the admin role over on chain afterwards if another account should hold it.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode

from compliance_shield.adapters.chain.client import ChainClient
from compliance_shield.adapters.chain.contracts import ORACLE, TOKEN, Artifact, load
from compliance_shield.adapters.chain.deployer import Deployer


@dataclass(frozen=True, slots=True)
class TokenSpec:
    name: str
    symbol: str
    decimals: int = 0


@dataclass(frozen=True, slots=True)
class DeployPlan:
    """Who gets which role (lower-case addresses; None → the deploying account) and the token, if any."""

    writer: str | None = None
    signer: str | None = None
    token: TokenSpec | None = None


@dataclass(frozen=True, slots=True)
class ChainDeployment:
    chain_id: int
    oracle: str
    admin: str
    writer: str
    signer: str
    token: str | None
    #: every transaction sent, in order
    transactions: tuple[str, ...]

    def settings(self, rpc_url: str) -> list[tuple[str, str]]:
        """The settings that point the service at this deployment (README "Environment")."""
        return [
            ("BESU_RPC_URL", rpc_url),
            ("CHAIN_ID", str(self.chain_id)),
            ("ORACLE_ADDRESS", self.oracle),
            ("ENABLE_ORACLE", "true"),
        ]


class DeploymentIncomplete(RuntimeError):
    """The contracts were created but do not read back as planned."""


async def _read(client: ChainClient, artifact: Artifact, to: str, fn: str, *args: object) -> object:
    output = await client.call(to, artifact.encode_call(fn, *args))
    types = [o["type"] for o in artifact.function(fn)["outputs"]]
    (value,) = abi_decode(types, output)
    return value


async def deploy_contracts(
    client: ChainClient, deployer_key: str, chain_id: int, plan: DeployPlan, *, gas_price_wei: int | None = None
) -> ChainDeployment:
    """Deploy and configure the contracts on the node of ``client`` (whose chain id the caller checked).

    Raises ``TransactionFailed`` when the node refuses or reverts a step (nothing later is sent) and
    ``DeploymentIncomplete`` when the result does not read back as planned.
    """
    deployer = Deployer(client, deployer_key, chain_id, gas_price_wei=gas_price_wei)
    admin = deployer.address
    writer = (plan.writer or admin).lower()
    signer = (plan.signer or writer).lower()
    oracle_abi, token_abi = load(ORACLE), load(TOKEN)
    sent: list[str] = []

    created = await deployer.create(oracle_abi.encode_deploy(admin))
    sent.append(created.tx_hash)
    oracle = created.contract_address
    assert oracle is not None  # Deployer.create guarantees it
    grants = (("WRITER_ROLE", writer), ("SIGNER_ROLE", signer), ("FREEZER_ROLE", admin))
    for role, member in grants:
        role_id = await _read(client, oracle_abi, oracle, role)
        if not await _read(client, oracle_abi, oracle, "hasRole", role_id, member):
            sent.append((await deployer.call(oracle, oracle_abi.encode_call("grantRole", role_id, member))).tx_hash)
    for role, member in (("DEFAULT_ADMIN_ROLE", admin), *grants):
        role_id = await _read(client, oracle_abi, oracle, role)
        if not await _read(client, oracle_abi, oracle, "hasRole", role_id, member):
            raise DeploymentIncomplete(f"{member} does not hold {role} on {oracle}")

    token: str | None = None
    if plan.token is not None:
        spec = plan.token
        made = await deployer.create(token_abi.encode_deploy(spec.name, spec.symbol, spec.decimals, oracle, admin))
        sent.append(made.tx_hash)
        token = made.contract_address
        assert token is not None
        consulted = str(await _read(client, token_abi, token, "oracle")).lower()
        if consulted != oracle:
            raise DeploymentIncomplete(f"token {token} consults {consulted}, not {oracle}")
    return ChainDeployment(chain_id, oracle, admin, writer, signer, token, tuple(sent))
