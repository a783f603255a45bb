"""The audit trail: one `payment_logs` row per event, in the caller's transaction, redacted."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from payrelay.audit.repository import AuditRepository
from payrelay.kit.db import AsyncSession
from payrelay.kit.redact import redact
from payrelay.models import PaymentLog


async def record(
    session: AsyncSession,
    *,
    event_type: str,
    actor: str,
    merchant_id: uuid.UUID | None,
    payment_request_id: uuid.UUID | None = None,
    payment_transaction_id: int | None = None,
    data: Mapping[str, Any] | None = None,
    gateway_response: Mapping[str, Any] | None = None,
) -> None:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    await AuditRepository(session).insert(
        event_type=event_type,
        actor=actor,
        merchant_id=merchant_id,
        payment_request_id=payment_request_id,
        payment_transaction_id=payment_transaction_id,
        event_data=redact(dict(data)) if data is not None else None,
        gateway_response=redact(dict(gateway_response)) if gateway_response is not None else None,
        request_id=str(request_id)[:64] if request_id else None,
    )


async def events_for_payment(
    session: AsyncSession, payment_request_id: uuid.UUID, limit: int = 1000
) -> Sequence[PaymentLog]:
    return await AuditRepository(session).list_for_payment(payment_request_id, limit)
