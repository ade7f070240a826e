"""What every console page shares: the templates, the signed-in person, the container."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from compliance_shield.api.auth import Principal
from compliance_shield.bootstrap import Container
from compliance_shield.console.session import principal_of

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def container_of(request: Request) -> Container:
    built: Container = request.app.state.container
    return built


def now() -> datetime:
    return datetime.now(UTC)


async def _person(request: Request) -> Principal:
    return principal_of(request)


#: the signed-in person (unsigned requests are sent to the sign-in page)
Person = Annotated[Principal, Depends(_person)]


def page(request: Request, name: str, person: Principal | None, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(
        request, name, {"person": person, "now": now(), **context}, status_code=status_code
    )
