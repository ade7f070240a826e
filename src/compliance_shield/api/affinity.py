"""Checks decided by the server process that owns their token (``WRITER_PEERS_DIR``).

With several server processes on one database, two processes writing the same tokens wait for
each other's row locks and catch their ledgers up from each other's change log. When ``serve``
runs more than one process it gives them a private directory; each then decides the single checks
of the tokens it owns (``adapters.peers``) and hands the others' to their owner over a Unix
socket, after authenticating and validating them itself. The owner answers exactly as it would a
check of its own (same admission bound, idempotency, error envelope).

An owner that cannot be reached gets nothing sent: the check is decided here, as correct as ever
(the row locks still serialize writers), only slower. A connection lost after sending answers
503 (retry with the same ``Idempotency-Key``): the owner may have recorded the decision.
A batch is split by owner: each share is decided by its owner (this process's own share here),
concurrently, and the answers are put back in the batch's order. Each share is admitted by the
process deciding it, so with several processes a refused share carries its error in place; a
batch whose every item is refused still answers 503. Kafka-driven checks are decided where they
arrive.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from starlette.responses import Response

from compliance_shield.adapters.peers import PeerLost, Peers, PeerUnreachable
from compliance_shield.api.auth import Principal
from compliance_shield.api.deps import json_bytes
from compliance_shield.api.errors import render_error
from compliance_shield.api.routers.checks import batch_results, item_error
from compliance_shield.api.schemas import CheckView, TransferCheckBatchIn, TransferCheckIn, check_out
from compliance_shield.bootstrap import Container
from compliance_shield.domain import encoding
from compliance_shield.errors import ComplianceShieldError, Overloaded, ServiceUnavailable
from compliance_shield.observability.metrics import CHECKS_FORWARDED

#: the headers of an answer that carry meaning for the caller
_KEPT_HEADERS = ("retry-after", "www-authenticate")


async def attach(app: FastAPI, container: Container, directory: Path) -> Peers:
    """Join the members in ``directory`` and answer their forwarded checks with ``container``."""
    peers = Peers(directory, partial(decide_forwarded, container))
    await peers.start()
    app.state.peers = peers
    return peers


async def decide_forwarded(container: Container, fields: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Decide a check (or a batch's share) another process authenticated, validated and forwarded here."""
    try:
        if "items" in fields:
            share = TransferCheckBatchIn.model_validate({"transfers": fields["items"]})
            answer = await batch_results(container, Principal(fields["principal"], frozenset()), share, fields["view"])
            return 200, {}, json_bytes(answer)
        body = TransferCheckIn.model_validate(fields["body"])
        row = await container.decisions.check(body.to_check_request(fields["principal"], fields["key"]))
        return 200, {}, json_bytes(check_out(row, fields["view"]))
    except Exception as exc:  # answered like the route would answer it
        response = render_error(exc)
        headers = {k: v for k, v in response.headers.items() if k in _KEPT_HEADERS}
        return response.status_code, headers, bytes(response.body)


async def forward_if_owned_elsewhere(
    peers: Peers | None, token_id: UUID, principal: str, key: str | None, view: CheckView, raw_body: bytes
) -> Response | None:
    """The owner's answer when another process owns ``token_id``; None to decide here."""
    if peers is None:
        return None
    owner = peers.owner(token_id)
    if owner == peers.id:
        return None
    fields = {"principal": principal, "key": key, "view": view, "body": encoding.Fragment(raw_body)}
    try:
        status, headers, body = await peers.forward(owner, fields)
    except PeerUnreachable:
        CHECKS_FORWARDED.labels("unreachable").inc()
        return None
    except PeerLost as exc:
        CHECKS_FORWARDED.labels("lost").inc()
        raise ServiceUnavailable(
            "the process deciding this token stopped answering; retry with the same Idempotency-Key"
        ) from exc
    CHECKS_FORWARDED.labels("answered").inc()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def batch_by_owner(
    peers: Peers,
    container: Container,
    principal: Principal,
    body: TransferCheckBatchIn,
    view: CheckView,
    raw_items: list[Any],
) -> dict[str, Any]:
    """The answer to a batch whose items are decided by their tokens' owners (``raw_items``: the
    items as received, forwarded as they came)."""
    shares: dict[str, list[int]] = {}
    for i, item in enumerate(body.transfers):
        shares.setdefault(peers.owner(item.token_id), []).append(i)
    if list(shares) == [peers.id]:
        return await batch_results(container, principal, body, view)
    results: list[Any] = [None] * len(body.transfers)

    async def decide(owner: str, indexes: list[int]) -> None:
        if owner != peers.id:
            fields = {"principal": principal.sub, "view": view, "items": [raw_items[i] for i in indexes]}
            try:
                status, _, content = await peers.forward(owner, fields)
            except PeerUnreachable:
                CHECKS_FORWARDED.labels("unreachable").inc(len(indexes))
            except PeerLost:
                CHECKS_FORWARDED.labels("lost").inc(len(indexes))
                lost = ServiceUnavailable("the process deciding these tokens stopped answering; retry")
                _place(results, indexes, [item_error(lost)] * len(indexes))
                return
            else:
                CHECKS_FORWARDED.labels("answered").inc(len(indexes))
                answer = encoding.loads(content)
                part = answer["results"] if status == 200 else [{"status_code": status, **answer}] * len(indexes)
                _place(results, indexes, part)
                return
        share = TransferCheckBatchIn.model_construct(transfers=[body.transfers[i] for i in indexes])
        try:
            part = (await batch_results(container, principal, share, view))["results"]
        except ComplianceShieldError as exc:  # the share was refused whole (overloaded, not recorded)
            part = [item_error(exc)] * len(indexes)
        _place(results, indexes, part)

    await asyncio.gather(*(decide(owner, indexes) for owner, indexes in shares.items()))
    if all(r["status_code"] == 503 for r in results):  # nothing was decided anywhere
        codes = {r["error"]["code"] for r in results}
        message = results[0]["error"]["message"]
        raise Overloaded(message) if codes == {Overloaded.code} else ServiceUnavailable(message)
    return {"results": results}


def _place(results: list[Any], indexes: list[int], part: list[Any]) -> None:
    for i, result in zip(indexes, part, strict=True):
        results[i] = result
