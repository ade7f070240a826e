"""Policies: drafts, publication, versions and the shipped templates."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from compliance_shield.api.auth import ADMIN, READ, Principal
from compliance_shield.api.deps import container
from compliance_shield.api.schemas import Page, PolicyIn, PolicyOut
from compliance_shield.bootstrap import Container

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.get("/templates", summary="The shipped policy templates")
async def templates(_: Principal = Depends(READ), c: Container = Depends(container)) -> list[dict[str, Any]]:
    return c.policies.templates()


@router.post("", response_model=PolicyOut, status_code=status.HTTP_201_CREATED, summary="Save a draft")
async def save_draft(
    body: PolicyIn, p: Principal = Depends(ADMIN), c: Container = Depends(container)
) -> dict[str, Any]:
    """Validate a document (or copy a template) and store it as the draft of the policy it names.

    An invalid document is answered 422 ``POLICY_INVALID`` with the path of each error.
    """
    if body.template is not None:
        return await c.policies.save_template_draft(body.template, p.sub)
    return await c.policies.save_draft(body.document, p.sub)


@router.post("/{policy_id}/publish", response_model=PolicyOut, summary="Publish the draft as a new version")
async def publish(policy_id: UUID, p: Principal = Depends(ADMIN), c: Container = Depends(container)) -> dict[str, Any]:
    """Freezes the draft as an immutable version (identified by its content hash) and makes it current."""
    return await c.policies.publish(policy_id, p.sub)


@router.get("", response_model=Page[PolicyOut])
async def list_policies(
    cursor: UUID | None = None,
    limit: int = Query(default=100, ge=1, le=500),
    _: Principal = Depends(READ),
    c: Container = Depends(container),
) -> dict[str, Any]:
    rows = await c.policies.page(cursor, limit)
    return {"items": rows, "next_cursor": str(rows[-1]["id"]) if len(rows) == limit else None}


@router.get("/{policy_id}", response_model=PolicyOut)
async def get_policy(
    policy_id: UUID, _: Principal = Depends(READ), c: Container = Depends(container)
) -> dict[str, Any]:
    return await c.policies.get(policy_id)
