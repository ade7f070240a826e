"""Issuing EIP-712 transfer certificates for approved checks (the gasless alternative).

A certificate repeats the approved transfer (token contract, from, to, amount), carries the
check id as its nonce and the approval's ``expires_at`` as its expiry, and is signed with the
service's signer key. The oracle accepts it once, before expiry, if the signer holds SIGNER_ROLE.
Issuing one is audited; it reserves nothing new (the check's reservation already holds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from compliance_shield.adapters.chain.certificates import TYPES, Certificate, CertificateSigner
from compliance_shield.adapters.chain.events import check_id_to_nonce
from compliance_shield.db import audit
from compliance_shield.db import checks as checks_repo
from compliance_shield.db import refdata as refdata_repo
from compliance_shield.domain.addresses import is_evm_address
from compliance_shield.errors import Conflict, NotFound


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CertificateService:
    def __init__(
        self, pool: asyncpg.Pool, signer: CertificateSigner | None, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._pool = pool
        self._signer = signer
        self._clock = clock

    async def issue(self, check_id: UUID, actor: str) -> dict[str, Any]:
        """The signed certificate of approved, unsettled, unexpired check ``check_id``.

        Raises NotFound for an unknown check and Conflict when the check cannot be certified
        (not approved, settled, cancelled or expired, a token without contract, or certificates
        not configured).
        """
        if self._signer is None:
            raise Conflict("certificates are not configured: set CHAIN_ID, ORACLE_ADDRESS and SIGNER_PRIVATE_KEY")
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            check = await checks_repo.get_check(conn, check_id)
            if check is None:
                raise NotFound(f"check {check_id} not found")
            if check["status"] != "APPROVED":
                raise Conflict(f"check {check_id} is {check['status']}: only approvals can be certified")
            if check["settlement_status"] != "pending":
                raise Conflict(f"the approval is already {check['settlement_status']}")
            if check["expires_at"] is None or check["expires_at"] <= now:
                raise Conflict("the approval has expired")
            token = await refdata_repo.get(conn, "tokens", check["token_id"])
            if token is None or not token["contract_address"]:
                raise Conflict("the token has no contract address to certify a transfer on")
            if not (is_evm_address(check["from_address"]) and is_evm_address(check["to_address"])):
                raise Conflict("only transfers between EVM addresses can be certified")
            certificate = Certificate(
                token=token["contract_address"],
                from_address=check["from_address"],
                to_address=check["to_address"],
                amount=int(check["amount"]),
                nonce=check_id_to_nonce(check_id),
                expiry=int(check["expires_at"].timestamp()),
            )
            signed = self._signer.sign(certificate)
            await audit.append(
                conn,
                [
                    audit.AuditEntry(
                        now,
                        actor,
                        "transfer_check.certificate_issued",
                        "transfer_check",
                        str(check_id),
                        {"signer": signed.signer, "digest": signed.digest, "expiry": certificate.expiry},
                    )
                ],
            )
        return {
            "check_id": check_id,
            "certificate": {
                **certificate.message(),
                "amount": str(certificate.amount),
                "nonce": str(certificate.nonce),
            },
            "domain": signed.domain,
            "types": TYPES,
            "primary_type": "TransferCertificate",
            "digest": signed.digest,
            "signature": signed.signature,
            "signer": signed.signer,
        }
