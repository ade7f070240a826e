"""Transfer checks: decide, read, list, settle and cancel."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response

from compliance_shield.api.auth import CHECK, CHECK_OR_READ, SETTLE, Principal
from compliance_shield.api.deps import container, decode_cursor, encode_cursor, json_response
from compliance_shield.api.schemas import (
    CancelIn,
    CheckOut,
    CheckPage,
    CheckSummaryOut,
    CheckView,
    SettleIn,
    TransferCheckBatchIn,
    TransferCheckBatchOut,
    TransferCheckIn,
    check_out,
)
from compliance_shield.bootstrap import Container
from compliance_shield.db import chain as chain_repo
from compliance_shield.db import checks as checks_repo
from compliance_shield.domain.values import Outcome
from compliance_shield.errors import ComplianceShieldError, NotFound, ServiceUnavailable
from compliance_shield.services.reference.inputs import EvmAddress, Timestamp

router = APIRouter(prefix="/v1/compliance", tags=["transfer checks"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="repeat a request with the same key to get the same decision (one record)",
    ),
]


View = Annotated[
    CheckView,
    Query(description="`summary` leaves out the rule trace and the request echo (the stored record keeps both)"),
]


@router.post(
    "/transfer-check",
    response_model=CheckOut | CheckSummaryOut,
    summary="Decide a transfer",
    responses={404: {"description": "unknown token"}, 409: {"description": "Idempotency-Key reused"},
               422: {"description": "invalid field"}, 503: {"description": "decision could not be recorded"}},
)  # fmt: skip
async def transfer_check(
    body: TransferCheckIn,
    idempotency_key: IdempotencyKey = None,
    view: View = "full",
    principal: Principal = Depends(CHECK),
    c: Container = Depends(container),
) -> Response:
    """Answers APPROVED, REJECTED or ESCALATED (200) once the decision is durably recorded.

    Served by ``api.hot_path.transfer_check``; this declaration is the OpenAPI document's.

    An approval reserves its effect (holder slot, balance, limits) until settled, cancelled or
    ``expires_at``.
    """
    row = await c.decisions.check(body.to_check_request(principal.sub, idempotency_key))
    return json_response(check_out(row, view))


@router.post(
    "/transfer-check/batch",
    response_model=TransferCheckBatchOut,
    summary="Decide up to 1,000 transfers",
    responses={422: {"description": "an item is malformed (nothing was decided)"},
               503: {"description": "decisions could not be recorded"}},
)  # fmt: skip
async def transfer_check_batch(
    body: TransferCheckBatchIn,
    view: View = "full",
    principal: Principal = Depends(CHECK),
    c: Container = Depends(container),
) -> Response:
    """Each item has the semantics of a single check (its own reservation, idempotency key and record).

    A malformed item rejects the whole batch with 422 naming ``transfers[i].field``; an item that a
    single check would refuse (unknown token, reused key) carries its error in place. Items are
    decided in order, so earlier approvals count against later items' limits.
    """
    return json_response(await batch_results(c, principal, body, view))


async def batch_results(
    c: Container, principal: Principal, body: TransferCheckBatchIn, view: CheckView
) -> dict[str, Any]:
    """Decide a batch; the body of the answer (each item's check or error, in place)."""
    requests = [
        item.to_check_request(principal.sub, item.idempotency_key, exclude={"idempotency_key"})
        for item in body.transfers
    ]  # fmt: skip
    answers = await c.decisions.check_many(requests)
    if answers and all(isinstance(a, ServiceUnavailable) for a in answers):
        raise answers[0]  # type: ignore[misc]
    results = []
    for answer in answers:
        if isinstance(answer, ComplianceShieldError):
            results.append(item_error(answer))
        else:
            results.append({"status_code": 200, "check": check_out(answer, view)})
    return {"results": results}


def item_error(exc: ComplianceShieldError) -> dict[str, Any]:
    """A batch item's error, in place of its check."""
    return {"status_code": exc.status, "error": {"code": exc.code, "message": exc.message, "details": exc.details}}


@router.get("/checks/{check_id}", response_model=CheckOut, summary="Read a decision")
async def get_check(
    check_id: UUID, _: Principal = Depends(CHECK_OR_READ), c: Container = Depends(container)
) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        row = await checks_repo.get_check(conn, check_id)
        if row is not None:
            row["oracle"] = await chain_repo.get_write(conn, check_id)
    if row is None:
        raise NotFound(f"check {check_id} not found")
    return check_out(row)


@router.get("/checks", response_model=CheckPage, summary="List decisions, newest first")
async def list_checks(
    status: Outcome | None = None,
    token_id: UUID | None = None,
    address: EvmAddress | None = Query(default=None, description="matches from or to"),
    created_from: Timestamp | None = None,
    created_to: Timestamp | None = None,
    cursor: str | None = Query(
        default=None,
        max_length=200,
        description="a next_cursor this route returned; anything else is 422",
        json_schema_extra={"format": "check-cursor"},
    ),
    limit: int = Query(default=50, ge=1, le=500),
    _: Principal = Depends(CHECK_OR_READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    if created_from and created_to and created_from >= created_to:
        return {"items": [], "next_cursor": None}  # an empty interval holds no decision
    async with c.pool.acquire() as conn:
        rows = await checks_repo.list_checks(
            conn,
            status=status.value if status else None,
            token_id=token_id,
            address=address,
            created_from=created_from,
            created_to=created_to,
            cursor=decode_cursor(cursor) if cursor else None,
            limit=limit,
        )
    next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    return {"items": [check_out(r) for r in rows], "next_cursor": next_cursor}


@router.post("/checks/{check_id}/settle", response_model=CheckOut, summary="Record the on-chain settlement")
async def settle(
    check_id: UUID, body: SettleIn, principal: Principal = Depends(SETTLE), c: Container = Depends(container)
) -> dict[str, Any]:
    """Applies the holding change of an approved check and releases its reservation."""
    return check_out(await c.settlement.settle(check_id, body.tx_hash, principal.sub))


@router.post("/checks/{check_id}/cancel", response_model=CheckOut, summary="Withdraw an unsettled approval")
async def cancel(
    check_id: UUID, body: CancelIn, principal: Principal = Depends(SETTLE), c: Container = Depends(container)
) -> dict[str, Any]:
    return check_out(await c.settlement.cancel(check_id, body.reason, principal.sub))
