"""The outbox: a `payment_callbacks` row for every merchant-visible change, written in the same
transaction as the change, delivered later by the worker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from payrelay.callback.repository import CallbackRepository, ReplayRepository
from payrelay.enums import CallbackStatus
from payrelay.exceptions import Conflict, NotFound
from payrelay.kit.db import AsyncSession
from payrelay.kit.ids import new_id
from payrelay.models import Merchant, PaymentCallback

EVENT_TYPES = frozenset(
    {
        "payment.authorized",
        "payment.captured",
        "payment.failed",
        "payment.voided",
        "payment.refunded",
        "payment.expired",
        "payment.cancelled",
        "escrow.released",
    }
)


def message_id(callback_id: uuid.UUID) -> str:
    """The Standard Webhooks `webhook-id`: stable across retries, no dots."""
    return f"msg_{callback_id.hex}"


async def enqueue(
    session: AsyncSession,
    *,
    merchant_id: uuid.UUID,
    payment_request_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    callback_url: str | None,
    now: datetime,
) -> PaymentCallback | None:
    """Queue a callback to the payment's URL, or the merchant's default; none without a URL."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"not a callback event type: {event_type}")
    merchant = await session.get(Merchant, merchant_id)
    assert merchant is not None
    url = callback_url or merchant.callback_url
    if url is None:
        return None
    repository = CallbackRepository(session)
    callback_id = new_id()
    sequence = await repository.next_sequence(payment_request_id)
    callback = PaymentCallback(
        id=callback_id,
        payment_request_id=payment_request_id,
        merchant_id=merchant_id,
        event_type=event_type,
        sequence=sequence,
        callback_url=url,
        payload={
            "id": message_id(callback_id),
            "type": event_type,
            "created_at": now.isoformat(),
            "sequence": sequence,
            "data": data,
        },
        status=CallbackStatus.PENDING.value,
        next_retry_at=now,
        created_at=now,
        updated_at=now,
    )
    await repository.add(callback)
    await repository.notify()
    return callback


class CallbackNotFound(NotFound):
    code = "callback_not_found"


class CallbackInFlight(Conflict):
    code = "callback_in_flight"


async def list_callbacks(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    *,
    status: str | None,
    payment_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[PaymentCallback]:
    return await ReplayRepository(session).page(
        merchant_id, status=status, payment_id=payment_id, after=after, limit=limit
    )


async def retry(
    session: AsyncSession, merchant_id: uuid.UUID, callback_id: uuid.UUID, now: datetime
) -> PaymentCallback:
    """Send a callback again (dead, held or even delivered), on a fresh retry schedule."""
    repository = ReplayRepository(session)
    callback = await repository.lock(merchant_id, callback_id)
    if callback is None:
        raise CallbackNotFound("callback not found")
    if callback.status in (CallbackStatus.PENDING.value, CallbackStatus.DELIVERING.value):
        raise CallbackInFlight(
            f"this callback is already {callback.status}; it will be delivered",
            details={"status": callback.status},
        )
    await repository.requeue([callback.id], now)
    await CallbackRepository(session).notify()
    await session.refresh(callback)
    return callback


async def retry_dead(
    session: AsyncSession,
    *,
    since: datetime | None,
    merchant_id: uuid.UUID | None,
) -> list[uuid.UUID]:
    """The dead callbacks a bulk replay would requeue (oldest first)."""
    return await ReplayRepository(session).dead_ids(since=since, merchant_id=merchant_id)


async def requeue(session: AsyncSession, callback_ids: list[uuid.UUID], now: datetime) -> int:
    requeued = await ReplayRepository(session).requeue(callback_ids, now)
    await CallbackRepository(session).notify()
    return requeued
