"""Console pages. Every page and form goes through the same services as the API, with the
signed-in person's identity and roles: four-eyes and role checks are the services' own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from compliance_shield.api.auth import Principal
from compliance_shield.api.case_schemas import DeclineIn, NoteIn, ProposeIn
from compliance_shield.console import policy_pages, reports_pages, views
from compliance_shield.console.common import HERE, Person, act, container_of, now, page
from compliance_shield.console.session import SignInRequired, sign_in, sign_out
from compliance_shield.db import dashboard
from compliance_shield.domain.addresses import checksum, is_evm_address
from compliance_shield.errors import Forbidden, NotAuthenticated, ValidationFailed
from compliance_shield.services.cases import CaseFilter

router = APIRouter(prefix="/console", include_in_schema=False)

_STATUSES = ("unresolved", "open", "proposed", "awaiting_info", "resolved")


def install(app: FastAPI) -> None:
    """Mount the console's routes and static files; unsigned requests go to the sign-in page."""
    app.include_router(router)
    for pages in (reports_pages.router, policy_pages.router):
        app.include_router(pages)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    async def to_sign_in(request: Request, exc: Exception) -> Response:
        target = "/console/login?" + urlencode({"next": request.url.path})
        if request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    app.add_exception_handler(SignInRequired, to_sign_in)


# -- sign-in ---------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/console/") -> Response:
    return page(request, "login.html", None, next=_safe_next(next))


@router.post("/login")
async def login(
    request: Request, token: Annotated[str, Form(max_length=8192)] = "", next: Annotated[str, Form()] = "/console/"
) -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    try:
        await sign_in(request, response, token)
    except NotAuthenticated as exc:
        return page(request, "login.html", None, status_code=401, error=exc.message, next=_safe_next(next))
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    sign_out(response)
    return response


def _safe_next(target: str) -> str:
    """Only console paths: a crafted link cannot send a signed-in officer elsewhere."""
    return target if target.startswith("/console/") and "//" not in target else "/console/"


# -- dashboard and queue ---------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def dashboard_page(request: Request, person: Person) -> Response:
    c = container_of(request)
    at = now()
    async with c.pool.acquire() as conn:
        outcomes = await dashboard.outcomes_since(conn, at - timedelta(hours=24))
        rate = await dashboard.checks_per_second(conn, at)
    sla = await c.cases.open_counts()
    urgent = await c.cases.list(CaseFilter(limit=10))
    return page(request, "dashboard.html", person, outcomes=outcomes, rate=rate, sla=sla, urgent=urgent)


@router.get("/cases", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    person: Person,
    status: Annotated[str, Query(max_length=20)] = "unresolved",
    reason: Annotated[str, Query(max_length=64)] = "",
    token_id: Annotated[str, Query(max_length=64)] = "",
    assignee: Annotated[str, Query(max_length=200)] = "",
    min_risk: Annotated[str, Query(max_length=3)] = "",
    overdue: bool = False,
) -> Response:
    filters = {"status": status, "reason": reason, "token_id": token_id, "assignee": assignee,
               "min_risk": min_risk, "overdue": overdue}  # fmt: skip
    try:
        query = _case_filter(status, reason, token_id, assignee, min_risk, overdue)
    except ValidationFailed as exc:
        return page(request, "queue.html", person, status_code=422, cases=[], filters=filters,
                     statuses=_STATUSES, error=exc.message)  # fmt: skip
    cases = await container_of(request).cases.list(query)
    return page(request, "queue.html", person, cases=cases, filters=filters, statuses=_STATUSES)


def _case_filter(status: str, reason: str, token_id: str, assignee: str, min_risk: str, overdue: bool) -> CaseFilter:
    if status not in _STATUSES:
        raise ValidationFailed(f"unknown status {status!r}", field="status")
    try:
        token = UUID(token_id) if token_id else None
    except ValueError as exc:
        raise ValidationFailed("token must be a token id (UUID)", field="token_id") from exc
    if min_risk and not (min_risk.isdigit() and 0 <= int(min_risk) <= 100):
        raise ValidationFailed("minimum risk must be 0 to 100", field="min_risk")
    statuses = ("open", "proposed", "awaiting_info") if status == "unresolved" else (status,)
    return CaseFilter(statuses, token, reason.strip().upper() or None, int(min_risk) if min_risk else None,
                      assignee.strip() or None, overdue, 0, 200)  # fmt: skip


# -- one case ---------------------------------------------------------------------------------------


async def _case_page(
    request: Request, person: Principal, case_id: UUID, status_code: int = 200, error: str | None = None
) -> Response:
    detail = await container_of(request).cases.get(case_id)
    check = detail.check
    facts = check.get("facts") if isinstance(check.get("facts"), dict) else None
    case = detail.case
    proposal = case.proposal
    return page(
        request, "case.html", person, status_code=status_code, error=error, detail=detail, case=case, check=check,
        trace=views.trace_lines(check), parties=views.parties(facts), evidence=views.evidence(facts),
        can_propose=bool(person.roles & {"analyst", "officer", "admin"}),
        can_confirm=bool(person.roles & {"officer", "admin"}),
        own_proposal=proposal is not None and proposal.proposed_by == person.sub and case.four_eyes,
        reports=await container_of(request).reports.of_case(case_id),
    )  # fmt: skip


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, person: Person, case_id: UUID) -> Response:
    return await _case_page(request, person, case_id)


async def _act(request: Request, person: Principal, case_id: UUID, step: Callable[[], Awaitable[object]]) -> Response:
    """Run ``step``; then the case again (its error shown when the service refused)."""

    async def refused(status: int, message: str) -> Response:
        return await _case_page(request, person, case_id, status, message)

    return await act(step, f"/console/cases/{case_id}", refused)


@router.post("/cases/{case_id}/propose")
async def propose(
    request: Request,
    person: Person,
    case_id: UUID,
    resolution: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    async def step() -> None:
        body = ProposeIn.model_validate({"resolution": resolution, "reason": reason})
        await container_of(request).cases.propose(case_id, person.sub, person.roles, body.resolution, body.reason)

    return await _act(request, person, case_id, step)


@router.post("/cases/{case_id}/confirm")
async def confirm(request: Request, person: Person, case_id: UUID) -> Response:
    async def step() -> None:
        await container_of(request).cases.confirm(case_id, person.sub, person.roles)

    return await _act(request, person, case_id, step)


@router.post("/cases/{case_id}/decline")
async def decline(
    request: Request, person: Person, case_id: UUID, reason: Annotated[str, Form(max_length=8000)] = ""
) -> Response:
    async def step() -> None:
        body = DeclineIn.model_validate({"reason": reason})
        await container_of(request).cases.decline(case_id, person.sub, person.roles, body.reason)

    return await _act(request, person, case_id, step)


@router.post("/cases/{case_id}/notes")
async def add_note(
    request: Request, person: Person, case_id: UUID, body: Annotated[str, Form(max_length=8000)] = ""
) -> Response:
    async def step() -> None:
        if not person.roles & {"analyst", "officer", "admin"}:
            raise ValidationFailed("notes need the analyst or officer role", field="body")
        note = NoteIn.model_validate({"body": body})
        await container_of(request).cases.add_note(case_id, person.sub, note.body, [])

    return await _act(request, person, case_id, step)


@router.post("/cases/{case_id}/hits")
async def screening_hit(
    request: Request,
    person: Person,
    case_id: UUID,
    investor_id: Annotated[str, Form(max_length=64)] = "",
    source: Annotated[str, Form(max_length=200)] = "",
    entity_uid: Annotated[str, Form(max_length=200)] = "",
    verdict: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """An officer's verdict on a name-screening hit of a party: dismissed as a false positive (the
    screening service re-screens the investor), or confirmed as the listed person (recorded on the case)."""

    async def step() -> None:
        body = DeclineIn.model_validate({"reason": reason})
        try:
            investor = UUID(investor_id)
        except ValueError as exc:
            raise ValidationFailed("not an investor id", field="investor_id") from exc
        c = container_of(request)
        if verdict == "dismiss":
            if not person.roles & {"officer", "admin"}:
                raise Forbidden("dismissing a screening hit needs the officer role")
            await c.screening.dismiss(investor, source, entity_uid, body.reason, person.sub)
        elif verdict != "confirm":
            raise ValidationFailed("the verdict is dismiss or confirm", field="verdict")
        await c.cases.record_hit_verdict(case_id, person.sub, person.roles, verdict, investor, source, entity_uid,
                                         body.reason)  # fmt: skip

    return await _act(request, person, case_id, step)


@router.post("/cases/{case_id}/assign")
async def assign_to_me(request: Request, person: Person, case_id: UUID) -> Response:
    async def step() -> None:
        await container_of(request).cases.assign(case_id, person.sub, person.sub)

    return await _act(request, person, case_id, step)


# -- look-up ----------------------------------------------------------------------------------------


@router.get("/lookup", response_class=HTMLResponse)
async def lookup_page(request: Request, person: Person, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    """An investor by id or name, or a wallet by address: what the engine knows of them now."""
    snapshot = container_of(request).snapshot
    text = q.strip()
    investors: list[Any] = []
    wallets: list[Any] = []
    if text:
        if is_evm_address(text):
            wallet = snapshot.wallets.get(text.lower())
            wallets = [wallet] if wallet is not None else []
            investors = [snapshot.investors[w.investor_id] for w in wallets if w.investor_id in snapshot.investors]
        else:
            try:
                found = snapshot.investors.get(UUID(text))
                investors = [found] if found is not None else []
            except ValueError:
                needle = text.casefold()
                investors = [i for i in snapshot.investors.values() if needle in i.name.casefold()][:50]
            ids = {i.id for i in investors}
            wallets = [w for w in snapshot.wallets.values() if w.investor_id in ids]
    return page(request, "lookup.html", person, q=text, investors=investors, wallets=wallets, checksum=checksum)
