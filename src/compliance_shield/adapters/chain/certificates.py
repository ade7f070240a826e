"""EIP-712 transfer certificates: a signed, single-use, expiring approval a caller presents.

Domain ``{name: "ComplianceShield", version: "1", chainId, verifyingContract: oracle}``;
primary type ``TransferCertificate(address token,address from,address to,uint256 amount,
uint256 nonce,uint256 expiry)`` — the same typehash the ComplianceOracle contract verifies.
The nonce is the check id as an integer, so a check approves one transfer whichever way
(on-chain approval or certificate) it reaches the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

DOMAIN_NAME = "ComplianceShield"
DOMAIN_VERSION = "1"
PRIMARY_TYPE = "TransferCertificate"
TYPES: dict[str, list[dict[str, str]]] = {
    PRIMARY_TYPE: [
        {"name": "token", "type": "address"},
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "expiry", "type": "uint256"},
    ]
}


@dataclass(frozen=True, slots=True)
class Certificate:
    token: str
    from_address: str
    to_address: str
    amount: int
    nonce: int
    #: unix seconds; the contract refuses the certificate from this instant on
    expiry: int

    def message(self) -> dict[str, Any]:
        return {
            "token": to_checksum_address(self.token),
            "from": to_checksum_address(self.from_address),
            "to": to_checksum_address(self.to_address),
            "amount": self.amount,
            "nonce": self.nonce,
            "expiry": self.expiry,
        }


def domain(chain_id: int, oracle_address: str) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(oracle_address),
    }


@dataclass(frozen=True, slots=True)
class SignedCertificate:
    certificate: Certificate
    domain: dict[str, Any]
    digest: str
    signature: str
    signer: str


class CertificateSigner:
    """Signs certificates with the service's key (an account holding SIGNER_ROLE on the oracle)."""

    def __init__(self, private_key: str, chain_id: int, oracle_address: str) -> None:
        self._account: LocalAccount = Account.from_key(private_key)
        self._domain = domain(chain_id, oracle_address)

    @property
    def address(self) -> str:
        return self._account.address

    def sign(self, certificate: Certificate) -> SignedCertificate:
        signable = encode_typed_data(domain_data=self._domain, message_types=TYPES, message_data=certificate.message())
        signed = self._account.sign_message(signable)
        return SignedCertificate(
            certificate=certificate,
            domain=dict(self._domain),
            digest="0x" + bytes(signed.message_hash).hex(),
            signature="0x" + bytes(signed.signature).hex(),
            signer=self._account.address,
        )
