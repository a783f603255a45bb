from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert

from payrelay.kit.db import AsyncSession
from payrelay.models import PaymentWebhook

CHANNEL = "payrelay_webhooks"


@dataclass(frozen=True, slots=True)
class ClaimedWebhook:
    id: int
    gateway_account_id: int
    webhook_id: str
    raw_body: bytes
    created_at: datetime
    lease: datetime


_CLAIM = text(
    """
    UPDATE payment_webhooks AS w
    SET locked_until = :lease, updated_at = :now
    FROM (
        SELECT id FROM payment_webhooks
        WHERE status IN ('received', 'failed') AND retry_count < :max_attempts
          AND (locked_until IS NULL OR locked_until <= :now)
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE w.id = due.id
    RETURNING w.id, w.gateway_account_id, w.webhook_id, w.raw_body, w.created_at, w.locked_until
    """
)


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_if_new(self, values: dict[str, Any]) -> int | None:
        """The new row's id, or None when this (account, webhook id) was already received."""
        result = await self.session.execute(
            insert(PaymentWebhook)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["gateway_account_id", "webhook_id"])
            .returning(PaymentWebhook.id)
        )
        return result.scalar_one_or_none()

    async def claim_due(
        self, now: datetime, lease: datetime, limit: int, max_attempts: int
    ) -> list[ClaimedWebhook]:
        result = await self.session.execute(
            _CLAIM, {"now": now, "lease": lease, "limit": limit, "max_attempts": max_attempts}
        )
        return [ClaimedWebhook(*row) for row in result.all()]

    async def any_pending(self, account_id: int, webhook_ids: list[str]) -> bool:
        result = await self.session.execute(
            select(PaymentWebhook.id)
            .where(
                PaymentWebhook.gateway_account_id == account_id,
                PaymentWebhook.webhook_id.in_(webhook_ids),
                PaymentWebhook.status.in_(["received", "failed"]),
            )
            .limit(1)
        )
        return result.first() is not None

    async def notify(self) -> None:
        await self.session.execute(text(f"NOTIFY {CHANNEL}"))

    async def lock(self, webhook_row_id: int) -> PaymentWebhook | None:
        result = await self.session.execute(
            select(PaymentWebhook).where(PaymentWebhook.id == webhook_row_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def update(self, webhook_row_id: int, **values: Any) -> None:
        await self.session.execute(
            update(PaymentWebhook).where(PaymentWebhook.id == webhook_row_id).values(**values)
        )
