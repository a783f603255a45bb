"""The sandbox gateway over HTTP: its hosted checkout page and the API its connector calls."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Form, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from payrelay.exceptions import BadRequest, PayrelayError
from payrelay.kit.db import AsyncSession
from payrelay.logging import get_logger
from payrelay.models import SandboxTransaction
from payrelay.sandbox import service as sandbox_service
from payrelay.sandbox.service import Notification, Outcome
from payrelay.web import AppState, State

log = get_logger(__name__)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(prefix="/sandbox", include_in_schema=False)


def _checkout_url(state: AppState, payment: SandboxTransaction) -> str:
    return f"{state.settings.resolved_public_url()}/sandbox/checkout/{payment.payment_reference}"


def _page(
    request: Request, payment: SandboxTransaction, message: str | None, status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "checkout.html",
        {
            "payment": payment,
            "amount": f"{payment.amount.normalize():,f}",
            "open": payment.status in ("created", "pending"),
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/checkout/{payment_id}", response_class=HTMLResponse)
async def checkout_page(payment_id: uuid.UUID, request: Request, state: State) -> Response:
    async with state.db.session() as session:
        payment = await sandbox_service.find_for_checkout(session, payment_id)
    return _page(request, payment, None)


@router.post("/checkout/{payment_id}")
async def checkout_choose(
    payment_id: uuid.UUID,
    request: Request,
    state: State,
    outcome: Annotated[str, Form(max_length=20)],
) -> Response:
    try:
        chosen = Outcome(outcome)
    except ValueError:
        raise BadRequest(
            "outcome must be one of succeed, decline, pending, timeout",
            details={"outcome": outcome},
        ) from None
    async with state.db.transaction() as session:
        payment, notification = await sandbox_service.choose_outcome(session, payment_id, chosen)
    delivered = await _notify(state.http, notification) if notification else None
    message = {
        None: "The notification to payrelay was lost (timeout): only a status query will tell.",
        True: "payrelay was notified.",
        False: "payrelay could not be notified.",
    }[delivered]
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {
                "payment": sandbox_service.payment_json(payment, _checkout_url(state, payment)),
                "notified": delivered,
            }
        )
    return _page(request, payment, message)


async def _notify(http: httpx.AsyncClient, notification: Notification) -> bool:
    try:
        response = await http.post(
            notification.url, content=notification.body, headers=notification.headers, timeout=10
        )
    except httpx.HTTPError as exc:
        log.warning("sandbox.notify_failed", url=notification.url, error=str(exc))
        return False
    if not response.is_success:
        log.warning("sandbox.notify_rejected", url=notification.url, status=response.status_code)
    return response.is_success


# --- the API the sandbox connector calls --------------------------------------------------

api = APIRouter(prefix="/sandbox/api/v1/accounts/{account_id}", include_in_schema=False)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def _key(idempotency_key: str | None) -> str:
    if not idempotency_key or len(idempotency_key) > 255:
        raise BadRequest("the sandbox requires an Idempotency-Key of at most 255 characters")
    return idempotency_key


async def _account(session: AsyncSession, account_id: int, authorization: str | None) -> Any:
    return await sandbox_service.authenticate(session, account_id, _bearer(authorization))


@api.post("/payments")
async def api_create(
    account_id: int,
    request: Request,
    state: State,
    authorization: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    body = await _body(request)
    async with state.db.transaction() as session:
        account = await _account(session, account_id, authorization)
        payment, created = await sandbox_service.create(
            session, account, _key(idempotency_key), body
        )
    return JSONResponse(
        sandbox_service.payment_json(payment, _checkout_url(state, payment)),
        status_code=201 if created else 200,
    )


@api.post("/payments/{transaction_id}/{action}")
async def api_operate(
    account_id: int,
    transaction_id: str,
    action: str,
    request: Request,
    state: State,
    authorization: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    body = await _body(request)
    async with state.db.transaction() as session:
        account = await _account(session, account_id, authorization)
        operation, payment = await sandbox_service.operate(
            session, account, transaction_id, action, _key(idempotency_key), body
        )
    return JSONResponse(
        {"operation": operation, "payment": sandbox_service.payment_json(payment, None)}
    )


@api.get("/payments/{transaction_id}")
async def api_get(
    account_id: int,
    transaction_id: str,
    state: State,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    async with state.db.session() as session:
        account = await _account(session, account_id, authorization)
        payment = await sandbox_service.get(session, account, transaction_id)
    return JSONResponse(sandbox_service.payment_json(payment, _checkout_url(state, payment)))


@api.get("/payments/by-reference/{payment_reference}")
async def api_get_by_reference(
    account_id: int,
    payment_reference: uuid.UUID,
    state: State,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    async with state.db.session() as session:
        account = await _account(session, account_id, authorization)
        payment = await sandbox_service.find_for_checkout(session, payment_reference)
        if payment.account_id != account.id:
            raise sandbox_service.SandboxNotFound("no such sandbox payment")
    return JSONResponse(sandbox_service.payment_json(payment, _checkout_url(state, payment)))


__all__ = ["PayrelayError", "api", "router"]
