"""What every console page shares: the templates, the signed-in person, the container."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from compliance_shield.api.auth import Principal
from compliance_shield.bootstrap import Container
from compliance_shield.console.session import principal_of
from compliance_shield.errors import ComplianceShieldError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def container_of(request: Request) -> Container:
    built: Container = request.app.state.container
    return built


def now() -> datetime:
    return datetime.now(UTC)


async def _person(request: Request) -> Principal:
    return await principal_of(request)


#: the signed-in person (unsigned requests are sent to the sign-in page)
Person = Annotated[Principal, Depends(_person)]


def page(request: Request, name: str, person: Principal | None, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(
        request, name, {"person": person, "now": now(), **context}, status_code=status_code
    )


async def act(
    step: Callable[[], Awaitable[object]], done: str, refused: Callable[[int, str], Awaitable[Response]]
) -> Response:
    """Run a form's ``step``: on success back to ``done`` (POST-redirect-GET); when the service
    refuses, ``refused(status, message)`` renders the page again with the reason."""
    try:
        await step()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "form"
        return await refused(422, f"{field}: {first['msg']}")
    except ComplianceShieldError as exc:
        return await refused(exc.status, exc.message)
    return RedirectResponse(done, status_code=303)
