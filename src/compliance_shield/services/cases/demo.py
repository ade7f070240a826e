"""Demo escalations: a few transfers to politically exposed holders, so a fresh demo has open cases."""

from __future__ import annotations

from typing import Any, Protocol

import asyncpg

from compliance_shield.db import cases as repo
from compliance_shield.domain.values import BlockchainType, TransferType
from compliance_shield.services.cases.service import CaseService
from compliance_shield.services.checks.contract import request_hash
from compliance_shield.services.checks.gather import CheckRequest


class Decider(Protocol):
    async def check(self, request: CheckRequest) -> dict[str, Any]:
        """Decide and record one transfer."""
        ...


async def escalate_demo_transfers(
    pool: asyncpg.Pool, decisions: Decider, cases: CaseService, sample: dict[str, Any], count: int = 3
) -> list[dict[str, Any]]:
    """Decide ``count`` transfers to PEP holders (amount and kind of the demo's sample) and open their cases.

    Returns the recorded checks (ESCALATED on the shipped templates: ``pep_review``).
    """
    async with pool.acquire() as conn:
        transfers = await repo.pep_transfers(conn, count)
    checks = []
    for i, row in enumerate(transfers):
        token_id, sender, receiver = row["token_id"], row["from_address"], row["to_address"]
        echo = {**sample, "token_id": str(token_id), "from_address": sender, "to_address": receiver,
                "reference": f"demo-escalation-{i + 1}"}  # fmt: skip
        checks.append(
            await decisions.check(
                CheckRequest(
                    token_id=token_id, from_address=sender, to_address=receiver,
                    amount=int(sample["amount"]), blockchain_type=BlockchainType(sample["blockchain_type"]),
                    transfer_type=TransferType(sample["transfer_type"]), principal="demo-platform",
                    request_hash=request_hash(echo), echo=echo, reference=echo["reference"],
                )
            )
        )  # fmt: skip
    await cases.open_escalated()
    return checks
