"""An anvil node on loopback with the ComplianceOracle deployed, and helpers to drive the chain.

anvil comes from the npm package ``@foundry-rs/anvil`` (``npm ci`` installs it into
``node_modules``). Accounts are fresh random keys funded with ``anvil_setBalance``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account

from compliance_shield.adapters.chain.client import ChainClient, Receipt
from compliance_shield.adapters.chain.contracts import ORACLE, TOKEN, Artifact, load
from compliance_shield.api.app import create_app
from compliance_shield.bootstrap import build_container
from compliance_shield.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ANVIL_BINARIES = (
    ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil",
    ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-arm64" / "bin" / "anvil",
    ROOT / "node_modules" / ".bin" / "anvil",
)
CHAIN_ID = 31337
T = TypeVar("T")
ONE_ETHER = 10**18


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    binary = next((b for b in ANVIL_BINARIES if b.exists()), None)
    assert binary is not None, "anvil is missing: run `npm ci` (scripts/test does)"
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed binary from node_modules
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(CHAIN_ID), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, f"anvil exited: {process.stderr.read() if process.stderr else ''!r}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@dataclass(frozen=True)
class Key:
    private_key: str
    address: str  # lower-case


def new_key() -> Key:
    private_key = "0x" + secrets.token_hex(32)
    return Key(private_key, Account.from_key(private_key).address.lower())


class Chain:
    """Test-side driver: funded accounts, raw transactions, calls and revert data."""

    def __init__(self, client: ChainClient) -> None:
        self.client = client

    async def funded(self) -> Key:
        key = new_key()
        await self.client.rpc("anvil_setBalance", [key.address, hex(100 * ONE_ETHER)])
        return key

    async def transact(self, key: Key, to: str | None, data: bytes, *, gas: int | None = None) -> Receipt:
        """Send and wait for the receipt. With ``gas`` given, no estimate: a reverting call is mined."""
        nonce = await self.client.pending_nonce(key.address)
        if gas is None:
            tx_for_estimate: dict[str, Any] = {"from": key.address, "data": "0x" + data.hex()}
            if to is not None:
                tx_for_estimate["to"] = to
            gas = int(await self.client.rpc("eth_estimateGas", [tx_for_estimate]), 16) * 2
        tx: dict[str, Any] = {
            "chainId": CHAIN_ID,
            "nonce": nonce,
            "data": data,
            "value": 0,
            "gas": gas,
            "gasPrice": await self.client.gas_price(),
        }
        if to is not None:
            tx["to"] = self.client.address(to)
        signed = Account.from_key(key.private_key).sign_transaction(tx)
        tx_hash = await self.client.send_raw(bytes(signed.raw_transaction))
        for _ in range(200):
            receipt = await self.client.receipt(tx_hash)
            if receipt is not None:
                return receipt
            await asyncio.sleep(0.05)
        raise AssertionError(f"no receipt for {tx_hash}")

    async def deploy(self, key: Key, artifact: Artifact, *args: Any) -> str:
        receipt = await self.transact(key, None, artifact.encode_deploy(*args))
        assert receipt.status == 1
        tx = await self.client.w3.eth.get_transaction_receipt(receipt.tx_hash)  # type: ignore[arg-type]
        address = tx["contractAddress"]
        assert address is not None
        return str(address).lower()

    async def call(self, to: str, artifact: Artifact, fn: str, *args: Any, sender: str | None = None) -> Any:
        out = await self.client.call(to, artifact.encode_call(fn, *args), sender)
        types = [o["type"] for o in artifact.function(fn)["outputs"]]
        values = abi_decode(types, out)
        return values[0] if len(values) == 1 else values

    async def revert_of(self, to: str, data: bytes, sender: str) -> tuple[str, tuple[Any, ...]]:
        """Simulate the call and decode its custom-error revert: (error name, arguments)."""
        answer = await self.client.w3.provider.make_request(
            "eth_call",  # type: ignore[arg-type]
            [{"from": sender, "to": to, "data": "0x" + data.hex()}, "latest"],
        )
        assert "error" in answer, f"expected a revert, got {answer}"
        raw = bytes.fromhex(str(answer["error"]["data"])[2:])
        errors = load(TOKEN).error_selectors() | load(ORACLE).error_selectors()
        name, types = errors[raw[:4]]
        return name, tuple(abi_decode(types, raw[4:]))

    async def snapshot(self) -> str:
        return str(await self.client.rpc("evm_snapshot", []))

    async def revert_to(self, snapshot_id: str) -> None:
        assert await self.client.rpc("evm_revert", [snapshot_id]) is True

    async def mine(self, blocks: int = 1) -> None:
        await self.client.rpc("anvil_mine", [hex(blocks)])


@dataclass(frozen=True)
class Deployment:
    oracle: str
    admin: Key
    writer: Key
    signer: Key


@pytest.fixture(scope="session")
async def chain(anvil_url: str) -> AsyncIterator[Chain]:
    client = ChainClient(anvil_url)
    try:
        yield Chain(client)
    finally:
        await client.close()


@pytest.fixture(scope="session")
async def deployment(chain: Chain) -> Deployment:
    """The oracle, with WRITER_ROLE for ``writer``, SIGNER_ROLE for ``signer``, FREEZER_ROLE for ``admin``."""
    oracle = load(ORACLE)
    admin, writer, signer = await chain.funded(), await chain.funded(), await chain.funded()
    address = await chain.deploy(admin, oracle, admin.address)
    for role, member in (("WRITER_ROLE", writer), ("SIGNER_ROLE", signer), ("FREEZER_ROLE", admin)):
        role_id = await chain.call(address, oracle, role)
        receipt = await chain.transact(admin, address, oracle.encode_call("grantRole", role_id, member.address))
        assert receipt.status == 1
    return Deployment(address, admin, writer, signer)


async def deploy_token(chain: Chain, deployment: Deployment, symbol: str = "RWA") -> str:
    """A SecurityToken consulting the session's oracle; the oracle's admin is its issuer."""
    return await chain.deploy(deployment.admin, load(TOKEN), f"{symbol} units", symbol, 0, deployment.oracle,
                              deployment.admin.address)  # fmt: skip


@pytest.fixture(scope="session")
def chain_settings(settings: Settings, anvil_url: str, deployment: Deployment) -> Settings:
    """The suite's settings with the oracle enabled against anvil."""
    return Settings.model_validate(
        settings.model_dump()
        | {
            "jwt_secret": settings.jwt_secret,
            "besu_rpc_url": anvil_url,
            "enable_oracle": True,
            "chain_id": CHAIN_ID,
            "oracle_address": deployment.oracle,
            "oracle_private_key": deployment.writer.private_key,
            "signer_private_key": deployment.signer.private_key,
            "oracle_poll_seconds": 0.05,
            "indexer_poll_seconds": 0.05,
        }
    )


@pytest.fixture(scope="session")
async def chain_api(chain_settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API wired with ``chain_settings`` (certificates enabled), on the suite's database."""
    built = await build_container(chain_settings, url=database_url, migrate=False)
    app = create_app(chain_settings, container=built)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            yield http
    finally:
        await built.close()


async def chain_party(
    client: httpx.AsyncClient, admin: dict[str, str], chain: Chain, **investor: Any
) -> tuple[str, Key]:
    """A verified investor whose bound wallet is a funded chain account: (investor id, key)."""
    body = {
        "name": f"Investor {secrets.token_hex(3)}",
        "country": "IN",
        "nationality": "IN",
        "category": "retail",
        "kyc_status": "verified",
        "kyc_expires_at": "2099-01-01T00:00:00Z",
        **investor,
    }
    created = await client.post("/v1/investors", json=body, headers=admin)
    assert created.status_code == 201, created.text
    key = await chain.funded()
    wallet = await client.post(
        "/v1/wallets", json={"address": key.address, "investor_id": created.json()["id"]}, headers=admin
    )
    assert wallet.status_code == 201, wallet.text
    return str(created.json()["id"]), key


@contextlib.asynccontextmanager
async def running(
    worker: Callable[[Settings, asyncio.Event], Awaitable[None]], settings: Settings
) -> AsyncIterator[None]:
    """Run a worker's ``run(settings, stop)`` in the background for the duration of the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker(settings, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], seconds: float = 30) -> T:
    """Poll ``probe`` until ``accept`` holds for its answer; fail with the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = await probe()
        if accept(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {seconds}s; last answer: {answer!r}")
        await asyncio.sleep(0.05)
