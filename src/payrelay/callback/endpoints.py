"""The merchant's callbacks: what was sent, what failed, and sending again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from payrelay.callback import service as callback_service
from payrelay.callback.schemas import CallbackListOut, CallbackOut, callback_body
from payrelay.enums import CallbackStatus
from payrelay.exceptions import error_responses
from payrelay.kit.pagination import decode_cursor, encode_cursor
from payrelay.web import CurrentMerchant, State

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])


@router.get(
    "",
    response_model=CallbackListOut,
    responses=error_responses(400, 401, 422),
    summary="List callbacks, newest first",
)
async def list_callbacks(
    merchant: CurrentMerchant,
    state: State,
    status: CallbackStatus | None = None,
    payment_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    async with state.db.session() as session:
        callbacks = await callback_service.list_callbacks(
            session,
            merchant.id,
            status=status.value if status else None,
            payment_id=payment_id,
            after=decode_cursor(cursor),
            limit=limit + 1,
        )
    page, has_more = callbacks[:limit], len(callbacks) > limit
    return JSONResponse(
        {
            "data": [callback_body(callback) for callback in page],
            "has_more": has_more,
            "next_cursor": encode_cursor(page[-1].created_at, page[-1].id) if has_more else None,
        }
    )


@router.post(
    "/{callback_id}/retry",
    status_code=202,
    response_model=CallbackOut,
    responses=error_responses(401, 404, 409, 422),
    summary="Send a callback again, on a fresh retry schedule",
)
async def retry_callback(
    callback_id: uuid.UUID, merchant: CurrentMerchant, state: State
) -> JSONResponse:
    async with state.db.transaction() as session:
        callback = await callback_service.retry(
            session, merchant.id, callback_id, datetime.now(UTC)
        )
        body = callback_body(callback)
    return JSONResponse(body, status_code=202)
