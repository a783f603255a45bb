from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from payrelay.kit.db import AsyncSession
from payrelay.models import PaymentWebhook


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

    async def lock(self, webhook_row_id: int) -> PaymentWebhook | None:
        result = await self.session.execute(
            select(PaymentWebhook).where(PaymentWebhook.id == webhook_row_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def update(self, webhook_row_id: int, **values: Any) -> None:
        await self.session.execute(
            update(PaymentWebhook).where(PaymentWebhook.id == webhook_row_id).values(**values)
        )
