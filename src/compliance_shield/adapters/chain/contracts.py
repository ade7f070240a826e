"""The compiled contracts shipped with the package, and call encoding for them.

Artifacts are written by ``node contracts/compile.mjs`` (sources in ``contracts/`` at the
repository root) into ``compliance_shield/contracts/<Name>.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.crypto import keccak

from compliance_shield.domain import encoding

ORACLE = "ComplianceOracle"
TOKEN = "SecurityToken"


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes

    def function(self, name: str) -> dict[str, Any]:
        for entry in self.abi:
            if entry.get("type") == "function" and entry.get("name") == name:
                return entry
        raise KeyError(f"{self.name} has no function {name}")

    def encode_call(self, name: str, *args: Any) -> bytes:
        """Calldata for ``name(args…)`` (selector + ABI-encoded arguments)."""
        types = [i["type"] for i in self.function(name)["inputs"]]
        selector = function_signature_to_4byte_selector(f"{name}({','.join(types)})")
        return bytes(selector) + abi_encode(types, list(args))

    def encode_deploy(self, *args: Any) -> bytes:
        """Creation code followed by the ABI-encoded constructor arguments."""
        constructor: dict[str, Any] = next((e for e in self.abi if e.get("type") == "constructor"), {"inputs": []})
        types = [i["type"] for i in constructor["inputs"]]
        return self.bytecode + abi_encode(types, list(args))

    def error_selectors(self) -> dict[bytes, tuple[str, list[str]]]:
        """4-byte selector → (error name, argument types) of every custom error in the ABI."""
        errors: dict[bytes, tuple[str, list[str]]] = {}
        for entry in self.abi:
            if entry.get("type") == "error":
                types = [i["type"] for i in entry["inputs"]]
                signature = f"{entry['name']}({','.join(types)})"
                errors[bytes(keccak(text=signature)[:4])] = (entry["name"], types)
        return errors


@cache
def load(name: str) -> Artifact:
    """The artifact of contract ``name`` (``ComplianceOracle`` or ``SecurityToken``)."""
    text = resources.files("compliance_shield.contracts").joinpath(f"{name}.json").read_text()
    data = encoding.loads(text)
    return Artifact(name=data["contractName"], abi=data["abi"], bytecode=bytes.fromhex(data["bytecode"][2:]))


def decode_revert(data: bytes) -> str | None:
    """A custom-error revert of our contracts as ``Name(arg, …)``; None when it is not one of theirs."""
    for artifact in (load(ORACLE), load(TOKEN)):
        found = artifact.error_selectors().get(data[:4])
        if found is not None:
            name, types = found
            args = abi_decode(types, data[4:])
            return f"{name}({', '.join(str(a) for a in args)})"
    return None


def describe_error(exc: BaseException) -> str:
    """Readable text for a node error, decoding our contracts' custom-error reverts."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        try:
            decoded = decode_revert(bytes.fromhex(data[2:]))
        except ValueError:
            decoded = None
        if decoded is not None:
            return f"execution reverted: {decoded}"
    return str(exc)
