from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update

from payrelay.kit.db import AsyncSession
from payrelay.models import CallbackAttempt, Merchant, PaymentCallback

CHANNEL = "payrelay_callbacks"
# Built once: constructing a statement with SQL functions costs more than running it.
_NEXT_SEQUENCE = select(func.coalesce(func.max(PaymentCallback.sequence), 0)).where(
    PaymentCallback.payment_request_id == bindparam("payment_id")
)


class CallbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_sequence(self, payment_request_id: uuid.UUID) -> int:
        """The payment's next callback number. Callers hold the payment's row lock, so two
        transactions never compute the same one."""
        result = await self.session.execute(_NEXT_SEQUENCE, {"payment_id": payment_request_id})
        return int(result.scalar_one()) + 1

    async def add(self, callback: PaymentCallback) -> None:
        self.session.add(callback)
        await self.session.flush()

    async def notify(self) -> None:
        """Wake idle workers when this transaction commits (Postgres folds duplicates)."""
        await self.session.execute(text(f"NOTIFY {CHANNEL}"))


@dataclass(frozen=True, slots=True)
class ClaimedCallback:
    id: uuid.UUID
    merchant_id: uuid.UUID
    payment_request_id: uuid.UUID | None
    event_type: str
    callback_url: str
    payload: dict[str, Any]
    retry_count: int
    lease: datetime  # the claim's token: finishing checks the row still carries it
    created_at: datetime


_CLAIM = text(
    """
    UPDATE payment_callbacks AS c
    SET status = 'delivering', locked_until = :lease, next_retry_at = :lease, updated_at = :now
    FROM (
        SELECT id FROM payment_callbacks
        WHERE status IN ('pending', 'failed', 'delivering') AND next_retry_at <= :now
        ORDER BY next_retry_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE c.id = due.id
    RETURNING c.id, c.merchant_id, c.payment_request_id, c.event_type, c.callback_url,
              c.payload, c.retry_count, c.locked_until, c.created_at
    """
)


class DeliveryRepository:
    """The queue side of the outbox: claims with a lease, finishes only what it still holds."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_due(self, now: datetime, lease: datetime, limit: int) -> list[ClaimedCallback]:
        result = await self.session.execute(_CLAIM, {"now": now, "lease": lease, "limit": limit})
        return [ClaimedCallback(*row) for row in result.all()]

    async def finish(self, claimed: ClaimedCallback, **values: Any) -> bool:
        result = await self.session.execute(
            update(PaymentCallback)
            .where(PaymentCallback.id == claimed.id, PaymentCallback.locked_until == claimed.lease)
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_attempt(self, attempt: CallbackAttempt) -> None:
        self.session.add(attempt)
        await self.session.flush()

    async def disable_merchant_url(self, merchant_id: uuid.UUID, url: str, now: datetime) -> None:
        await self.session.execute(
            update(Merchant)
            .where(Merchant.id == merchant_id, Merchant.callback_url == url)
            .values(callback_url_disabled_at=now, updated_at=now)
        )

    async def signing_state(self, merchant_id: uuid.UUID) -> Merchant | None:
        return await self.session.get(Merchant, merchant_id)


class ReplayRepository:
    """The merchant's view of its callbacks, and putting them back in the queue."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self,
        merchant_id: uuid.UUID,
        *,
        status: str | None,
        payment_id: uuid.UUID | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[PaymentCallback]:
        query = select(PaymentCallback).where(PaymentCallback.merchant_id == merchant_id)
        if status is not None:
            query = query.where(PaymentCallback.status == status)
        if payment_id is not None:
            query = query.where(PaymentCallback.payment_request_id == payment_id)
        if after is not None:
            created_at, callback_id = after
            query = query.where(
                (PaymentCallback.created_at < created_at)
                | ((PaymentCallback.created_at == created_at) & (PaymentCallback.id < callback_id))
            )
        query = query.order_by(PaymentCallback.created_at.desc(), PaymentCallback.id.desc())
        result = await self.session.execute(query.limit(limit))
        return list(result.scalars())

    async def lock(self, merchant_id: uuid.UUID, callback_id: uuid.UUID) -> PaymentCallback | None:
        result = await self.session.execute(
            select(PaymentCallback)
            .where(PaymentCallback.id == callback_id, PaymentCallback.merchant_id == merchant_id)
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def dead_ids(
        self, *, since: datetime | None, merchant_id: uuid.UUID | None
    ) -> list[uuid.UUID]:
        query = select(PaymentCallback.id).where(PaymentCallback.status == "dead")
        if since is not None:
            query = query.where(PaymentCallback.created_at >= since)
        if merchant_id is not None:
            query = query.where(PaymentCallback.merchant_id == merchant_id)
        result = await self.session.execute(query.order_by(PaymentCallback.created_at))
        return list(result.scalars())

    async def requeue(self, callback_ids: list[uuid.UUID], now: datetime) -> int:
        """Due now, on a fresh schedule; only callbacks nobody is delivering."""
        result = await self.session.execute(
            update(PaymentCallback)
            .where(
                PaymentCallback.id.in_(callback_ids),
                PaymentCallback.status.in_(["dead", "failed", "delivered"]),
            )
            .values(
                status="pending",
                retry_count=0,
                next_retry_at=now,
                locked_until=None,
                updated_at=now,
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
