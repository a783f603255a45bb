"""The callbacks API's response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from payrelay.enums import CallbackStatus
from payrelay.models import PaymentCallback


class CallbackOut(BaseModel):
    id: uuid.UUID
    payment_id: uuid.UUID | None
    event_type: str
    sequence: int
    status: CallbackStatus
    callback_url: str
    attempts: int
    response_status: int | None
    last_error: str | None
    next_retry_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, Any]


class CallbackListOut(BaseModel):
    data: list[CallbackOut]
    has_more: bool
    next_cursor: str | None


def callback_body(callback: PaymentCallback) -> dict[str, Any]:
    def time(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": str(callback.id),
        "payment_id": str(callback.payment_request_id) if callback.payment_request_id else None,
        "event_type": callback.event_type,
        "sequence": callback.sequence,
        "status": callback.status,
        "callback_url": callback.callback_url,
        "attempts": callback.retry_count,
        "response_status": callback.response_status,
        "last_error": callback.last_error,
        "next_retry_at": time(callback.next_retry_at),
        "delivered_at": time(callback.delivered_at),
        "created_at": time(callback.created_at),
        "payload": callback.payload,
    }
