"""The merchant's payments API (design §9)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from payrelay.audit import service as audit_service
from payrelay.enums import OperationKind, PaymentStatus
from payrelay.exceptions import error_responses
from payrelay.idempotency import service as idempotency_service
from payrelay.kit.pagination import aware, decode_cursor, encode_cursor
from payrelay.payment.errors import PaymentNotFound
from payrelay.payment.orchestrator import ApiResult
from payrelay.payment.presenter import event_body, payment_body
from payrelay.payment.repository import PaymentFilters, PaymentRepository
from payrelay.payment.schemas import (
    CaptureIn,
    CreatePaymentIn,
    PaymentEventListOut,
    PaymentListOut,
    PaymentOut,
    RefundIn,
    VoidIn,
)
from payrelay.retention import service as retention_service
from payrelay.web import CurrentMerchant, State

router = APIRouter(prefix="/api/v1/payments", tags=["payments"])

IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1 to 255 printable ASCII characters. Makes the request safe to retry: "
        "the same key replays the first answer.",
    ),
]
COMMAND_ERRORS = error_responses(400, 401, 402, 404, 409, 413, 422, 502, 504)


def _respond(result: ApiResult) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return JSONResponse(result.body, status_code=result.status_code, headers=headers)


async def _create(
    body: CreatePaymentIn, merchant: CurrentMerchant, state: State, header_key: str | None
) -> JSONResponse:
    if (
        header_key is not None
        and body.idempotency_key is not None
        and header_key != body.idempotency_key
    ):
        raise idempotency_service.IdempotencyKeyInvalid(
            "the Idempotency-Key header and the body's idempotency_key differ"
        )
    key = header_key if header_key is not None else body.idempotency_key
    if key is None:
        raise idempotency_service.IdempotencyKeyMissing(
            "creating a payment requires an Idempotency-Key header (or idempotency_key in the body)"
        )
    key = idempotency_service.validate_key(key)
    return _respond(await state.payments.create(merchant, body, key))


@router.post(
    "/create",
    status_code=201,
    response_model=PaymentOut,
    responses=COMMAND_ERRORS,
    summary="Create a payment",
)
async def create_payment(
    body: CreatePaymentIn,
    merchant: CurrentMerchant,
    state: State,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    return await _create(body, merchant, state, idempotency_key)


@router.post(
    "",
    status_code=201,
    response_model=PaymentOut,
    responses=COMMAND_ERRORS,
    summary="Create a payment (alias of /create)",
)
async def create_payment_alias(
    body: CreatePaymentIn,
    merchant: CurrentMerchant,
    state: State,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    return await _create(body, merchant, state, idempotency_key)


@router.get(
    "",
    response_model=PaymentListOut,
    responses=error_responses(400, 401, 422),
    summary="List payments, newest first",
)
async def list_payments(
    merchant: CurrentMerchant,
    state: State,
    order_id: Annotated[str | None, Query(max_length=255)] = None,
    status: PaymentStatus | None = None,
    gateway: Annotated[str | None, Query(max_length=32)] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    filters = PaymentFilters(
        order_id=order_id,
        status=status.value if status else None,
        gateway=gateway,
        created_from=aware(created_from),
        created_to=aware(created_to),
    )
    async with state.db.session() as session:
        rows = await PaymentRepository(session).page(
            merchant.id, filters, decode_cursor(cursor), limit + 1
        )
    page = rows[:limit]
    has_more = len(rows) > limit
    next_cursor = (
        encode_cursor(page[-1].request.created_at, page[-1].request.id) if has_more else None
    )
    return JSONResponse(
        {
            "data": [payment_body(row) for row in page],
            "has_more": has_more,
            "next_cursor": next_cursor,
        }
    )


@router.get(
    "/{payment_id}",
    response_model=PaymentOut,
    responses=error_responses(401, 404, 422),
    summary="Get a payment",
)
async def get_payment(
    payment_id: uuid.UUID, merchant: CurrentMerchant, state: State
) -> JSONResponse:
    async with state.db.session() as session:
        found = await retention_service.find_payment(session, merchant, payment_id)
    return JSONResponse(payment_body(found.row))


@router.get(
    "/{payment_id}/events",
    response_model=PaymentEventListOut,
    responses=error_responses(401, 404, 422),
    summary="The audit trail of a payment",
)
async def payment_events(
    payment_id: uuid.UUID, merchant: CurrentMerchant, state: State
) -> JSONResponse:
    async with state.db.session() as session:
        await retention_service.find_payment(session, merchant, payment_id)
        events = await audit_service.events_for_payment(session, payment_id)
    return JSONResponse({"data": [event_body(event) for event in events]})


@router.post(
    "/{payment_id}/capture",
    response_model=PaymentOut,
    responses={202: {"model": PaymentOut, "description": "Accepted"}, **COMMAND_ERRORS},
    summary="Capture an authorized payment (all of it, or part)",
)
async def capture_payment(
    payment_id: uuid.UUID,
    merchant: CurrentMerchant,
    state: State,
    body: CaptureIn | None = None,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    return await _operate(
        state, merchant, payment_id, OperationKind.CAPTURE, body or CaptureIn(), idempotency_key
    )


@router.post(
    "/{payment_id}/void",
    response_model=PaymentOut,
    responses={202: {"model": PaymentOut, "description": "Accepted"}, **COMMAND_ERRORS},
    summary="Void an authorization before anything is captured",
)
async def void_payment(
    payment_id: uuid.UUID,
    merchant: CurrentMerchant,
    state: State,
    body: VoidIn | None = None,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    return await _operate(
        state, merchant, payment_id, OperationKind.VOID, body or VoidIn(), idempotency_key
    )


@router.post(
    "/{payment_id}/refund",
    response_model=PaymentOut,
    responses={202: {"model": PaymentOut, "description": "Accepted"}, **COMMAND_ERRORS},
    summary="Refund a captured payment (all that is left, or part); repeatable",
)
async def refund_payment(
    payment_id: uuid.UUID,
    merchant: CurrentMerchant,
    state: State,
    body: RefundIn | None = None,
    idempotency_key: IdempotencyHeader = None,
) -> JSONResponse:
    return await _operate(
        state, merchant, payment_id, OperationKind.REFUND, body or RefundIn(), idempotency_key
    )


async def _operate(
    state: State,
    merchant: CurrentMerchant,
    payment_id: uuid.UUID,
    kind: OperationKind,
    body: Any,
    key: str | None,
) -> JSONResponse:
    if key is not None:
        key = idempotency_service.validate_key(key)
    try:
        result = await state.payments.operate(merchant, payment_id, kind, body, key)
    except PaymentNotFound:
        async with state.db.session() as session:  # archived payments never change again: 409
            await retention_service.refuse_if_archived(session, merchant, payment_id)
        raise
    return _respond(result)
