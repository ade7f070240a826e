"""Console: policies, their published versions, and the difference between two versions."""

from __future__ import annotations

import difflib
from typing import Annotated, Any
from uuid import UUID

import yaml
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from compliance_shield.console.common import Person, container_of, page
from compliance_shield.errors import ValidationFailed

router = APIRouter(prefix="/console", include_in_schema=False)


def _yaml(document: Any) -> list[str]:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100).splitlines()


@router.get("/policies", response_class=HTMLResponse)
async def policies_page(request: Request, person: Person) -> Response:
    policies = await container_of(request).policies.page(None, 500)
    return page(request, "policies.html", person, policies=policies)


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
async def policy_page(
    request: Request,
    person: Person,
    policy_id: UUID,
    a: Annotated[int | None, Query(ge=1)] = None,
    b: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The versions of a policy; with ``a`` and ``b``, the unified diff of their documents."""
    policy = await container_of(request).policies.get(policy_id)
    versions = {v["version"]: v for v in policy["versions"]}
    diff: list[str] | None = None
    error = None
    if a is not None and b is not None:
        if a not in versions or b not in versions:
            error = ValidationFailed(f"the policy has versions {sorted(versions)}", field="a").message
        else:
            diff = list(difflib.unified_diff(_yaml(versions[a]["document"]), _yaml(versions[b]["document"]),
                                             f"version {a}", f"version {b}", lineterm=""))  # fmt: skip
    return page(request, "policy.html", person, status_code=422 if error else 200, error=error, policy=policy,
                versions=sorted(versions), a=a, b=b, diff=diff)  # fmt: skip
